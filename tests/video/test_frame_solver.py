"""Video: temporal consistency against independent frames, one program per shape, resumable jobs, bad input."""

import av
import numpy as np
import pytest
from video_clips import encode_clip, pan_frames, step_audio

import stylejax
from stylejax import cli
from stylejax.io import demo_images
from stylejax.jobs import video
from stylejax.runtime import memory
from stylejax.runtime.buckets import bucket_shape
from stylejax.video import flow, frame_solver

FIRST, LATER = (20,), 20  # first frame's steps, later frames' steps: small, so the tests stay quick


@pytest.fixture(scope="module")
def clip():
    return pan_frames(5, 48, 64, step=2)


@pytest.fixture(scope="module")
def style():
    return demo_images.stained_glass(64, 64)


def _run(frames, style, optimizer="lbfgs-fixed", later=LATER, **settings):
    config = stylejax.StyleConfig(size=64, steps=FIRST, chunk_steps=10, optimizer=optimizer)
    return frame_solver.stylize_video(frames, style, config, frame_solver.VideoSettings(frame_steps=later, **settings))


def _figures(run, clip):
    """(warping error as the summary line gives it, style loss per later frame)."""
    error = np.mean([f.temporal_error for f in run[1:]])
    assert error == pytest.approx(flow.temporal_error([f.image for f in run], clip), rel=1e-6)  # one function
    return error, np.mean([f.losses["style"] for f in run[1:]])


@pytest.mark.slow
def test_temporal_stylization_flickers_less_than_independent_frames(clip, style):
    independent = _run(clip, style, temporal_weight=0.0, frame_init="content")
    temporal = _run(clip, style)
    error = {name: flow.temporal_error([f.image for f in run], clip)
             for name, run in (("independent", independent), ("temporal", temporal))}
    assert 3 * error["temporal"] <= error["independent"]
    style_loss = {name: np.mean([f.losses["style"] for f in run[1:]])
                  for name, run in (("independent", independent), ("temporal", temporal))}
    assert style_loss["temporal"] <= 1.2 * style_loss["independent"]  # as stylized, frame for frame
    assert [f.index for f in temporal] == list(range(len(clip)))
    assert all(f.image.shape == clip[0].shape for f in temporal)
    assert temporal[0].temporal_error is None
    for k in (1, len(clip) - 1):  # each later frame reports its own pair's warping error
        pair = flow.temporal_error([temporal[k - 1].image, temporal[k].image], clip[k - 1:k + 1])
        assert temporal[k].temporal_error == pytest.approx(pair, rel=1e-5)
    assert "temporal" in temporal[1].losses and "temporal" not in independent[1].losses


@pytest.mark.slow
def test_adam_video_flickers_far_less_than_independent_frames(clip, style):
    """Adam restarted at every frame moves every pixel by about its learning rate and shakes the warped
    start loose (its flicker measured only 1.03x below independent frames'); with its moments following
    the pixels from frame to frame and later frames at a quarter of its rate, the flicker falls 5x or more."""
    clip = clip[:4]
    independent = _run(clip, style, "adam", 15, temporal_weight=0.0, frame_init="content")
    temporal = _run(clip, style, "adam", 15)
    (error, style_loss), (error_independent, style_independent) = _figures(temporal, clip), _figures(independent, clip)
    assert 5 * error <= error_independent
    assert style_loss <= 1.5 * style_independent
    assert temporal[1].optimizer_state is not None  # what a resumed run needs


@pytest.mark.slow
def test_one_compiled_program_serves_every_later_frame(clip, style):
    config = stylejax.StyleConfig(size=64, steps=2, chunk_steps=2)  # compiles as any run does: few steps suffice
    shape = bucket_shape(clip[0].shape[:2], 64)
    solver = frame_solver.FrameSolver(style, config, frame_solver.VideoSettings(frame_steps=2), shape)
    done = solver.first_frames([clip[0]])
    compiled = []
    for previous, frame in zip(clip[:4], clip[1:5], strict=True):
        done = solver.next_frames([frame], [previous], [done.outputs[0]], previous_states=done.states)
        compiled.append(solver.later.programs().run._cache_size())
    assert compiled[1:] == compiled[:1] * 3  # the warped frames are arguments, not constants: no recompiles
    # the targets are the last frame's: a 2 px pan leaves most of the frame reliably warped
    assert done.temporal.warped.shape == (1, *shape, 3) and float(np.mean(done.temporal.reliability)) > 0.5


def _frames_of(path):
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        return [f.to_ndarray(format="rgb24") for f in container.decode(stream)], stream.average_rate


@pytest.mark.slow
def test_a_killed_video_job_resumes_with_the_same_frames_and_keeps_audio_and_frame_rate(tmp_path, style):
    clip = pan_frames(5, 50, 80, step=2)  # optimised at 48x64 (a bucket shape), saved at 40x64
    source = encode_clip(tmp_path / "in.mp4", clip, fps=12, audio=step_audio(len(clip) / 12, 0.0))
    style_path = stylejax.save_image(style, tmp_path / "style.png")
    config = stylejax.StyleConfig(size=64, steps=FIRST, chunk_steps=10)

    def run(output, stop_after=None):
        def progress(done, total, frame):
            if frame is not None and done == stop_after:
                raise KeyboardInterrupt

        jobs = video.plan_jobs(source, output)
        return video.run_video_jobs(jobs, [style_path], config, frame_solver.VideoSettings(frame_steps=LATER),
                                         progress=progress)

    for output in (tmp_path / "out.mp4", tmp_path / "frames"):  # into a video, and into a folder of frames
        with pytest.raises(KeyboardInterrupt):
            run(output, stop_after=2)
        (summary,) = run(output)
        assert (summary.resumed, summary.frames) == (2, len(clip) - 2)  # none redone
    assert not (tmp_path / ".out.mp4.frames").exists()  # encoded, and its work folder gone
    run(tmp_path / "uninterrupted")
    for resumed, uninterrupted in zip(sorted((tmp_path / "frames").glob("frame_*.png")),
                                      sorted((tmp_path / "uninterrupted").glob("frame_*.png")), strict=True):
        np.testing.assert_array_equal(stylejax.load_image(resumed), stylejax.load_image(uninterrupted))
    frames, rate = _frames_of(tmp_path / "out.mp4")
    assert len(frames) == len(clip) and rate == 12 and frames[0].shape == (40, 64, 3)
    with av.open(str(tmp_path / "out.mp4")) as container:
        (audio,) = container.streams.audio
        assert float(audio.duration * audio.time_base) == pytest.approx(len(clip) / 12, abs=0.05)


@pytest.mark.slow
def test_an_adam_video_job_resumes_with_the_optimizer_state_it_stopped_with(tmp_path, clip, style):
    source = tmp_path / "in"
    source.mkdir()
    for i, frame in enumerate(clip[:4]):
        stylejax.save_image(frame, source / f"f{i}.png")
    style_path = stylejax.save_image(style, tmp_path / "style.png")
    config = stylejax.StyleConfig(size=64, steps=(5,), chunk_steps=5, optimizer="adam")

    def run(output, stop_after=None):
        def progress(done, total, frame):
            if frame is not None and done == stop_after:
                raise KeyboardInterrupt

        return video.run_video_jobs(video.plan_jobs(source, output), [style_path], config,
                                    frame_solver.VideoSettings(frame_steps=5), progress=progress)

    with pytest.raises(KeyboardInterrupt):
        run(tmp_path / "resumed", stop_after=2)
    assert run(tmp_path / "resumed")[0].resumed == 2
    run(tmp_path / "uninterrupted")
    for resumed, uninterrupted in zip(sorted((tmp_path / "resumed").glob("frame_*.png")),
                                      sorted((tmp_path / "uninterrupted").glob("frame_*.png")), strict=True):
        np.testing.assert_array_equal(stylejax.load_image(resumed), stylejax.load_image(uninterrupted))


def _bad_inputs(tmp_path, clip):
    (tmp_path / "text.mp4").write_text("not a video")
    encode_clip(tmp_path / "empty.mp4", [])
    (tmp_path / "no_images").mkdir()
    mixed = tmp_path / "mixed"
    mixed.mkdir()
    stylejax.save_image(clip[0], mixed / "a_001.png")
    stylejax.save_image(clip[1][:40], mixed / "a_002.png")
    encode_clip(tmp_path / "good.mp4", clip[:2])
    (tmp_path / "taken.mp4").write_bytes(b"a user's file")


@pytest.mark.parametrize("source, output, message", [
    ("text.mp4", "out.mp4", "not a video"),
    ("empty.mp4", "out.mp4", "no video frames"),
    ("no_images", "out.mp4", "no image"),
    ("mixed", "out.mp4", "a_002.png"),
    ("good.mp4", "taken.mp4", "already exists: pass --overwrite"),
    ("good.mp4", "good.mp4", "would replace an input"),
    ("missing.mp4", "out.mp4", "no such file"),
    ("good.mp4", "out.avi", "cannot write '.avi' video"),
    ("good.mp4", "out.mp4 --tile 128", "tiles are for"),
    ("good.mp4", "frames --frame-init nothing", "invalid choice"),
    ("good.mp4", "frames --optimizer lbfgs --frame-learning-rate 0.1", "frame learning rate: lbfgs chooses"),
])
def test_bad_video_input_is_one_line_exit_2_and_nothing_written(tmp_path, capsys, clip, style, source, output,
                                                                message):
    _bad_inputs(tmp_path, clip)
    stylejax.save_image(style, tmp_path / "style.png")
    before = sorted(p.name for p in tmp_path.rglob("*"))
    output, *flags = output.split()
    code = cli.main(["video", str(tmp_path / source), "-o", str(tmp_path / output), "--style",
                     str(tmp_path / "style.png"), "--size", "256", *flags])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and message in err, err
    assert sorted(p.name for p in tmp_path.rglob("*")) == before
    assert (tmp_path / "taken.mp4").read_bytes() == b"a user's file"


@pytest.mark.slow
def test_a_folder_of_videos_is_stylized_frame_by_frame_in_batches(tmp_path, clip, style, monkeypatch):
    videos = tmp_path / "videos"
    videos.mkdir()
    encode_clip(videos / "a.mp4", clip[:3])
    encode_clip(videos / "b.mov", clip[2:5])
    stylejax.save_image(style, tmp_path / "style.png")
    batches = []
    original = frame_solver._frame_batch
    monkeypatch.setattr(frame_solver, "_frame_batch", lambda solver, streams, *rest, **options: (
        batches.append(len(streams)), original(solver, streams, *rest, **options))[1])
    code = cli.main(["video", str(videos), "-o", str(tmp_path / "styled"), "--style", str(tmp_path / "style.png"),
                     "--size", "64", "--first-steps", "10", "--steps", "5"])
    assert code == 0
    assert batches == [2, 2, 2]  # frame t of both videos in one batch
    for name in ("a.mp4", "b.mov"):
        frames, rate = _frames_of(tmp_path / "styled" / name)
        assert len(frames) == 3 and rate == 12 and frames[0].shape == (48, 64, 3)


def test_a_batch_of_frames_that_cannot_fit_is_refused_and_leaves_nothing(tmp_path, capsys, clip, style,
                                                                          monkeypatch):
    pass

    encode_clip(tmp_path / "in.mp4", clip[:2])
    stylejax.save_image(style, tmp_path / "style.png")
    monkeypatch.setattr(memory, "available_bytes", lambda: 2**20)  # 1 MiB: no frame fits
    before = sorted(p.name for p in tmp_path.rglob("*"))
    code = cli.main(["video", str(tmp_path / "in.mp4"), "-o", str(tmp_path / "frames"), "--style",
                     str(tmp_path / "style.png"), "--size", "64"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and "per device but 1.0 MiB is available" in err and len(err.splitlines()) == 1, err
    assert sorted(p.name for p in tmp_path.rglob("*")) == before
