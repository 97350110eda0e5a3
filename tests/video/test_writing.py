"""Writing videos (stylejax.video_write), read back with stylejax.video_io and PyAV."""

import sys

import av
import numpy as np
import pytest
from video_clips import FPS, H, W, encode_clip, frame_ids, gray_frames, pan_frames, step_audio

from stylejax import StyleJaxError
from stylejax.video import reading
from stylejax.video.writing import write_video


def _audio(path) -> tuple[float, np.ndarray]:
    """(stream duration in seconds, decoded samples at 48 kHz) of the first audio stream."""
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        duration = float(stream.duration * stream.time_base) if stream.duration else float(container.duration / 1e6)
        samples = np.concatenate([f.to_ndarray()[0] for f in container.decode(stream)])
    return duration, samples


def _rms(samples, start, stop, rate=48_000) -> float:
    return float(np.sqrt(np.mean(samples[int(start * rate):int(stop * rate)] ** 2)))


# --- writing and reading back ---------------------------------------------------------------------


def test_round_trip_keeps_count_rate_size_and_pixels(tmp_path):
    frames = pan_frames(12)
    out = write_video(tmp_path / "out.mp4", frames, fps=FPS)
    info = reading.probe(out)
    assert (info.frame_count, info.fps, info.width, info.height, info.rotation) == (12, FPS, W, H, 0)
    assert not info.has_audio
    np.testing.assert_allclose(info.timestamps, np.arange(12) / FPS, atol=1e-3)
    back = list(reading.read_frames(out))
    assert len(back) == 12 and all(f.shape == (H, W, 3) and f.dtype == np.float32 for f in back)
    assert all(0 <= f.min() and f.max() <= 1 for f in back)
    errors = [np.abs(b - f).mean() for b, f in zip(back, frames, strict=True)]
    assert max(errors) < 0.03, errors
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.mp4"]  # the temporary file is gone


@pytest.mark.parametrize("suffix", [".mkv", ".mov", ".webm"])
def test_other_containers_round_trip(tmp_path, suffix):
    frames = pan_frames(6)
    out = write_video(tmp_path / f"out{suffix}", frames, fps=FPS, quality=20)
    back = list(reading.read_frames(out))
    assert len(back) == 6 and reading.probe(out).fps == FPS
    assert np.abs(np.stack(back) - np.stack(frames)).mean() < 0.04


def test_odd_size_is_padded_to_even_by_repeating_the_edge(tmp_path):
    frames = [f[:47, :63] for f in pan_frames(4)]
    out = write_video(tmp_path / "odd.mp4", frames, fps=FPS)
    info = reading.probe(out)
    assert (info.width, info.height) == (64, 48)
    back = next(reading.read_frames(out))
    assert back.shape == (48, 64, 3)
    assert np.abs(back[:47, :63] - frames[0]).mean() < 0.03
    assert np.abs(back[:47, 63] - frames[0][:, 62]).mean() < 0.05  # the added column copies the last one
    assert np.abs(back[47, :63] - frames[0][46]).mean() < 0.05


def test_variable_frame_rate_survives(tmp_path):
    times = [2.0, 2.05, 2.2, 2.25, 2.5, 2.53, 2.9, 3.0]  # shifted so the first frame is at 0
    for suffix in (".mp4", ".mkv"):
        out = write_video(tmp_path / f"vfr{suffix}", pan_frames(len(times)), fps=FPS, timestamps=times)
        info = reading.probe(out)
        assert info.frame_count == len(times)
        np.testing.assert_allclose(info.timestamps, np.array(times) - 2.0, atol=1e-3)
        assert len(list(reading.read_frames(out))) == len(times)


# --- audio ----------------------------------------------------------------------------------------


def test_audio_is_copied_whole(tmp_path):
    source = encode_clip(tmp_path / "src.mp4", gray_frames(24), audio=step_audio(2.0, loud_from=1.0))
    assert reading.probe(source).has_audio
    out = write_video(tmp_path / "out.mp4", list(reading.read_frames(source)), fps=FPS, audio_from=source)
    assert reading.probe(out).has_audio
    with av.open(str(out)) as container:
        assert container.streams.audio[0].codec_context.name == "aac"  # copied, not re-encoded to another codec
    duration, samples = _audio(out)
    assert abs(duration - _audio(source)[0]) < 0.05
    assert _rms(samples, 0.1, 0.9) < 0.01 and _rms(samples, 1.1, 1.9) > 0.2  # still in step with the video


def test_audio_window_is_shifted_to_start_with_the_video(tmp_path):
    source = encode_clip(tmp_path / "src.mkv", gray_frames(24), audio=step_audio(2.0, loud_from=1.0))
    info = reading.probe(source, start=0.5, duration=1.0)
    frames = list(reading.read_frames(source, start=0.5, duration=1.0))
    out = write_video(tmp_path / "out.mp4", frames, fps=info.fps, timestamps=info.timestamps,
                      audio_from=source, audio_start=0.5, audio_duration=1.0)
    duration, samples = _audio(out)
    assert abs(duration - 1.0) < 0.05
    assert _rms(samples, 0.05, 0.45) < 0.01 and _rms(samples, 0.55, 0.95) > 0.2  # loud from 0.5 s, not 1.0 s
    assert frame_ids(reading.read_frames(out))[0] == 6


def test_audio_from_a_silent_file_adds_no_audio(tmp_path):
    source = encode_clip(tmp_path / "src.mp4", gray_frames(4))
    out = write_video(tmp_path / "out.mp4", pan_frames(4), fps=FPS, audio_from=source)
    assert not reading.probe(out).has_audio


def test_audio_the_container_cannot_hold_is_refused_before_any_frame(tmp_path):
    source = encode_clip(tmp_path / "src.mp4", gray_frames(4), audio=step_audio(0.4, 0.0))
    (tmp_path / "out").mkdir()
    pulled = []

    def frames():
        pulled.append(1)
        yield from pan_frames(4)

    with pytest.raises(StyleJaxError, match="aac.*mkv"):
        write_video(tmp_path / "out" / "x.webm", frames(), fps=FPS, audio_from=source)
    assert not pulled and list((tmp_path / "out").iterdir()) == []


# --- writing fails cleanly ------------------------------------------------------------------------


def test_failing_frames_leave_nothing_behind(tmp_path):
    def frames():
        yield from pan_frames(3)
        raise RuntimeError("stylization failed")

    with pytest.raises(RuntimeError, match="stylization failed"):
        write_video(tmp_path / "out.mp4", frames(), fps=FPS)
    assert list(tmp_path.iterdir()) == []
    old = write_video(tmp_path / "out.mp4", pan_frames(2), fps=FPS)
    before = old.read_bytes()
    with pytest.raises(StyleJaxError, match="frame 1 is 32x48 but frame 0 is 64x48"):
        write_video(old, [pan_frames(1)[0], pan_frames(1)[0][:, :32]], fps=FPS)
    assert old.read_bytes() == before and list(tmp_path.iterdir()) == [old]  # the old file is untouched


@pytest.mark.parametrize(("name", "kwargs", "message"), [
    ("out.mp4", {"quality": 52}, "quality"),
    ("out.mp4", {"quality": -1}, "quality"),
    ("out.mp4", {"quality": 18.5}, "quality"),
    ("out.avi", {}, "cannot write '.avi'"),
    ("missing/out.mp4", {}, "does not exist"),
    ("out.mp4", {"fps": 0}, "fps"),
    ("out.mp4", {"timestamps": [0.0, 0.1]}, "more frames than timestamps"),
    ("out.mp4", {"timestamps": [0.0, 0.1, 0.2, 0.3]}, "3 frames but 4 timestamps"),
    ("out.mp4", {"timestamps": [0.0, 0.1, 0.1]}, "timestamps must increase"),
])
def test_bad_write_arguments_are_refused(tmp_path, name, kwargs, message):
    with pytest.raises(StyleJaxError, match=message):
        write_video(tmp_path / name, pan_frames(3), **{"fps": FPS, **kwargs})
    assert list(tmp_path.iterdir()) == []


def test_no_frames_is_refused(tmp_path):
    with pytest.raises(StyleJaxError, match="no frames"):
        write_video(tmp_path / "out.mp4", [], fps=FPS)
    assert list(tmp_path.iterdir()) == []


def test_missing_pyav_is_explained(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "av", None)  # makes `import av` raise ImportError
    with pytest.raises(StyleJaxError, match=r"pip install 'stylejax\[video\]'"):
        write_video(tmp_path / "b.mp4", pan_frames(1), fps=FPS)
