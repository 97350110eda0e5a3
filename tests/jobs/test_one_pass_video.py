"""`stylejax video --network PATH` and `--method wct|adain`: frames through a style network or the one-pass
transfer, with the source's timing and audio, atomically, resumed after a kill."""

import av
import pytest
from sample_images import stripes
from style_networks import random_network
from tiny_decoders import decoder_folder
from video_clips import encode_clip, pan_frames, step_audio

import stylejax
from stylejax.cli.app import main
from stylejax.io.images import save_image
from stylejax.network.model_dir import save_model
from stylejax.video import reading

pytest.importorskip("cv2")


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    folder = tmp_path_factory.mktemp("model")
    save_model(folder, random_network(8, 2, seed=3), {"styles": [{"name": "a.png"}, {"name": "b.png"}]})
    return folder


@pytest.fixture(scope="module")
def decoders(tmp_path_factory, weights_cache):
    return decoder_folder(tmp_path_factory.mktemp("decoders"), ("relu1_1", "relu2_1"))


@pytest.fixture(scope="module")
def painting(tmp_path_factory):
    return save_image(stripes(40, 60), tmp_path_factory.mktemp("painting") / "painting.png")


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    frames = pan_frames(6, 48, 64)
    return encode_clip(tmp_path_factory.mktemp("clip") / "in.mp4", frames, fps=12,
                       audio=step_audio(len(frames) / 12, 0.0))


@pytest.mark.slow
def test_a_video_through_the_network_keeps_frames_timing_and_audio(model, clip, tmp_path, capsys):
    out = tmp_path / "out.mp4"
    assert main(["video", str(clip), "-o", str(out), "--network", str(model), "--size", "32",
                 "--network-style-mix", "0.5,0.5"]) == 0
    info, source = reading.probe(out), reading.probe(clip)
    assert (info.frame_count, info.fps, info.width, info.height) == (6, source.fps, 32, 24)
    assert info.timestamps == pytest.approx(source.timestamps, abs=1e-3) and info.has_audio
    with av.open(str(out)) as container:
        (audio,) = container.streams.audio
        assert float(audio.duration * audio.time_base) == pytest.approx(6 / 12, abs=0.05)
    assert "6 frames stylized" in (err := capsys.readouterr().err) and "warping error" in err
    assert "style loss" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.mp4"]  # the work folder is gone


@pytest.mark.parametrize("flags, message", [
    (["--temporal-weight", "5"], "--temporal-weight only applies to optimised video"),
    (["--steps", "10", "--optimizer", "adam"], "--optimizer, --steps only apply"),
    (["--style", "STYLE"], "--style only applies"),
    (["--model", "vgg19", "--seed", "3"], "--model, --seed only apply"),
    (["--network-style", "2"], "does not exist"),
    (["--size", "4"], "use a larger --size"),
    (["--batch-size", "0"], "--batch-size must be a positive whole number"),
])
def test_optimisation_flags_and_bad_choices_with_a_network_are_exit_2_nothing_written(
        model, clip, tmp_path, capsys, flags, message):
    flags = [str(clip) if f == "STYLE" else f for f in flags]
    assert main(["video", str(clip), "-o", str(tmp_path / "out.mp4"), "--network", str(model), *flags]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("argv, message", [
    (["--network", "NOWHERE"], "not a style network"),
    ([], "--style is required"),
    (["--style", "STYLE", "--network-style", "1"], "add --network"),
    (["--style", "STYLE", "--model", "MODEL"], "is a style network: use --network"),
])
def test_a_bad_model_or_a_missing_style_is_exit_2_nothing_written(model, clip, tmp_path, capsys, argv, message):
    argv = [str(tmp_path / "nowhere") if a == "NOWHERE" else str(model) if a == "MODEL" else
            str(clip) if a == "STYLE" else a for a in argv]
    assert main(["video", str(clip), "-o", str(tmp_path / "out.mp4"), *argv]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
def test_a_killed_network_video_resumes_after_its_last_saved_frame(model, clip, tmp_path):
    from stylejax.jobs.one_pass_video import run_network_video_jobs
    from stylejax.jobs.video import plan_jobs

    def run(stop_after=None):
        def progress(done, total, frame):
            if frame is not None and done == stop_after:
                raise KeyboardInterrupt

        return run_network_video_jobs(plan_jobs(clip, tmp_path / "out.mp4"), model, size=32, batch_size=2,
                                      progress=progress)

    with pytest.raises(KeyboardInterrupt):
        run(stop_after=3)
    assert not (tmp_path / "out.mp4").exists() and (tmp_path / ".out.mp4.frames").is_dir()
    (summary,) = run()
    assert (summary.resumed, summary.frames) == (3, 3) and summary.temporal_error is not None
    assert reading.probe(tmp_path / "out.mp4").frame_count == 6


def transfer_video(clip, out, decoders, painting, *flags):
    return main(["video", str(clip), "-o", str(out), "--method", "wct", "--style", str(painting),
                 "--decoders", str(decoders), "--size", "32", *flags])


def test_a_video_through_the_one_pass_transfer_keeps_frames_timing_and_audio_and_resumes(
        decoders, painting, clip, tmp_path, capsys):
    from stylejax.jobs.one_pass_video import run_transfer_video_jobs
    from stylejax.jobs.video import plan_jobs

    out = tmp_path / "out.mp4"
    settings = stylejax.TransferSettings(method="wct", size=32, alpha=0.8)  # as transfer_video's flags

    def stop_after_three(done, total, frame):
        if frame is not None and done == 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_transfer_video_jobs(plan_jobs(clip, out), painting, settings=settings, decoders=decoders, batch_size=2,
                                progress=stop_after_three)
    assert not out.exists() and (tmp_path / ".out.mp4.frames").is_dir()
    assert transfer_video(clip, out, decoders, painting, "--alpha", "0.8", "--batch-size", "2") == 0
    info, source = reading.probe(out), reading.probe(clip)
    assert (info.frame_count, info.fps, info.width, info.height) == (6, source.fps, 32, 24)
    assert info.timestamps == pytest.approx(source.timestamps, abs=1e-3) and info.has_audio
    err = capsys.readouterr().err
    assert "3 frames stylized, 3 resumed" in err and "warping error" in err and "style loss" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.mp4"]  # the work folder is gone


@pytest.mark.parametrize("flags, message", [
    (["--temporal-weight", "5"], "--temporal-weight only applies to optimised video: drop it with --method"),
    (["--steps", "10", "--optimizer", "adam"], "--optimizer, --steps only apply"),
    (["--network", "MODEL"], "give one"),
    (["--network-style", "1"], "add --network"),
    (["--alpha", "1.5"], "--alpha must be a number in [0, 1]"),
    (["--painting-colors", "2"], "--painting-colors must be a number in [0, 1]"),
    (["--style-blend", "1,1"], "--style-blend has 2 weights for 1 style"),
    (["--decoders", "NOWHERE"], "not a decoders folder"),
    (["--method", "linear"], "invalid choice: 'linear'"),
    (["--size", "2"], "use a larger --size"),
])
def test_bad_flags_with_the_one_pass_transfer_are_exit_2_nothing_written(
        decoders, painting, model, clip, tmp_path, capsys, flags, message):
    flags = [str(model) if f == "MODEL" else str(tmp_path / "nowhere") if f == "NOWHERE" else f for f in flags]
    assert transfer_video(clip, tmp_path / "out.mp4", decoders, painting, *flags) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("argv, message", [
    (["--method", "adain"], "--style is required with --method"),
    (["--style", "STYLE", "--alpha", "0.5"], "--alpha only applies with --method"),
    (["--network", "MODEL", "--decoders", "DIR"], "--decoders only applies with --method"),
    (["--style", "STYLE", "--painting-colors", "0.5"], "--painting-colors only applies with --method"),
])
def test_one_pass_flags_without_method_or_a_style_are_exit_2(model, clip, tmp_path, capsys, argv, message):
    argv = [str(model) if a == "MODEL" else str(clip) if a == "STYLE" else str(tmp_path) if a == "DIR" else a
            for a in argv]
    out = tmp_path / "out" / "out.mp4"
    assert main(["video", str(clip), "-o", str(out), *argv]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1
    assert not out.parent.exists()
