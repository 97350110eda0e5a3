"""Reading video files and frame folders (stylejax.video_io), from clips made with PyAV directly."""

import sys

import cv2
import numpy as np
import pytest
from PIL import Image
from video_clips import FPS, H, W, encode_clip, frame_ids, gray_frames, step_audio

from stylejax import StyleJaxError
from stylejax.io import images
from stylejax.video import reading

# --- selection ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("kwargs", "ids"), [
    ({}, list(range(24))),
    ({"start": 0.5, "duration": 1.0}, list(range(6, 18))),
    ({"start": 1.5}, list(range(18, 24))),
    ({"fps": 6}, list(range(0, 24, 2))),
    ({"fps": 24, "duration": 0.5}, [0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5]),  # a tie goes to the earlier frame
    ({"fps": 4, "start": 0.25, "duration": 1.0}, [3, 6, 9, 12]),
])
def test_selection_by_time_and_rate(tmp_path, kwargs, ids):
    source = encode_clip(tmp_path / "src.mp4", gray_frames(24))
    info = reading.probe(source, **kwargs)
    assert info.frame_count == len(ids)
    assert info.fps == kwargs.get("fps", FPS)
    start = kwargs.get("start", 0.0)
    np.testing.assert_allclose(info.timestamps, start + np.arange(len(ids)) / float(info.fps), atol=1e-6)
    assert frame_ids(reading.read_frames(source, **kwargs)) == ids


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"start": 5.0}, "selects no frames"),
    ({"start": -1.0}, "start"),
    ({"duration": 0.0}, "duration"),
    ({"fps": 0}, "fps"),
    ({"fps": "fast"}, "fps"),
])
def test_bad_selection_is_refused(tmp_path, kwargs, message):
    source = encode_clip(tmp_path / "src.mp4", gray_frames(6))
    with pytest.raises(StyleJaxError, match=message):
        reading.probe(source, **kwargs)
    with pytest.raises(StyleJaxError, match=message):
        reading.read_frames(source, **kwargs)  # at the call, before the first frame


# --- frame folders --------------------------------------------------------------------------------


def _save_gray(path, level, size=(W, H)):
    Image.new("RGB", size, (level, level, level)).save(path)


def test_folder_is_natural_sorted_and_timed_at_its_rate(tmp_path):
    for i in (10, 2, 1, 11, 3):
        _save_gray(tmp_path / f"frame{i}.png", 10 * i)
    (tmp_path / "notes.txt").write_text("not a frame")
    _save_gray(tmp_path / ".frame0-tmp.png", 255)  # hidden: e.g. save_image's temporary file
    assert [p.name for p in images.list_frame_files(tmp_path)] == [f"frame{i}.png" for i in (1, 2, 3, 10, 11)]
    info = reading.probe(tmp_path)
    assert (info.fps, info.frame_count, info.width, info.height, info.has_audio) == (25, 5, W, H, False)
    np.testing.assert_allclose(info.timestamps, np.arange(5) / 25)
    assert frame_ids(reading.read_frames(tmp_path)) == [1, 2, 3, 10, 11]
    info = reading.probe(tmp_path, fps=10, start=0.1, duration=0.2)
    assert (info.fps, info.frame_count) == (10, 2)
    assert frame_ids(reading.read_frames(tmp_path, fps=10, start=0.1, duration=0.2)) == [2, 3]


def test_folder_errors(tmp_path):
    with pytest.raises(StyleJaxError, match="no images"):
        reading.probe(tmp_path)
    assert images.list_frame_files(tmp_path, required=False) == []
    _save_gray(tmp_path / "f1.png", 0)
    _save_gray(tmp_path / "f2.png", 0, size=(W, H - 2))
    _save_gray(tmp_path / "f3.png", 0, size=(W + 2, H))
    with pytest.raises(StyleJaxError, match=f"f2.png: is {W}x{H - 2} but f1.png is {W}x{H}"):
        reading.probe(tmp_path)
    with pytest.raises(StyleJaxError, match="f2.png"):
        reading.read_frames(tmp_path)
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "f1.png").write_bytes(b"not a png")
    with pytest.raises(StyleJaxError, match="f1.png.*not an image"):
        reading.probe(broken)


# --- bad and damaged input ------------------------------------------------------------------------


def test_missing_path_and_non_video(tmp_path):
    with pytest.raises(StyleJaxError, match="no such file"):
        reading.probe(tmp_path / "nothing.mp4")
    text = tmp_path / "x.mp4"
    text.write_text("hello, this is not a video\n" * 20)
    with pytest.raises(StyleJaxError, match="not a video"):
        reading.probe(text)
    with pytest.raises(StyleJaxError, match="not a video"):
        reading.read_frames(text)


def test_zero_frame_videos(tmp_path):
    empty = encode_clip(tmp_path / "empty.mp4", [])  # MP4 drops a stream with no samples
    with pytest.raises(StyleJaxError, match="no video frames"):
        reading.probe(empty)
    empty = encode_clip(tmp_path / "empty.mkv", [], audio=step_audio(0.5, 0.0))  # Matroska keeps it, empty
    with pytest.raises(StyleJaxError, match="no video frames.*empty"):
        reading.probe(empty)


def _noise(n: int) -> list[np.ndarray]:
    """Incompressible frames, so a clip is long enough to cut in the middle of its frames."""
    return list(np.random.default_rng(0).integers(0, 256, (n, H, W, 3), dtype=np.uint8))


def _cut(path, fraction):
    data_ = path.read_bytes()
    cut = path.with_name(f"cut_{path.name}")
    cut.write_bytes(data_[:int(len(data_) * fraction)])
    return cut


def test_truncated_files(tmp_path):
    # An MP4 with its index first: the frames before the cut, then an error naming the first one missing.
    cut = _cut(encode_clip(tmp_path / "fast.mp4", _noise(24), gop=4, faststart=True), 0.5)
    with pytest.raises(StyleJaxError, match="damaged at frame 12: truncated"):
        reading.probe(cut)
    got = []
    with pytest.raises(StyleJaxError, match="damaged at frame") as caught:
        got.extend(reading.read_frames(cut))
    assert 0 < len(got) < 24 and f"damaged at frame {len(got)}:" in str(caught.value)
    assert reading.probe(cut, duration=0.5).frame_count == 6  # a selection that ends before the damage is fine
    assert len(list(reading.read_frames(cut, duration=0.5))) == 6
    # An MP4 with its index last has none left: nothing is readable.
    with pytest.raises(StyleJaxError, match="not a video.*truncated"):
        reading.probe(_cut(encode_clip(tmp_path / "plain.mp4", _noise(24), gop=4), 0.5))
    # Matroska records no frame count: a cut file reads as a shorter video.
    cut = _cut(encode_clip(tmp_path / "clip.mkv", _noise(24), gop=4), 0.5)
    count = reading.probe(cut).frame_count
    assert 0 < count < 24 and len(list(reading.read_frames(cut))) == count
    # A few bytes of anything are not a video.
    with pytest.raises(StyleJaxError, match="not a video"):
        reading.probe(_cut(tmp_path / "fast.mp4", 0.0005))


def test_decode_error_mid_stream_yields_frames_then_names_the_frame(tmp_path):
    path = encode_clip(tmp_path / "clip.mp4", _noise(24), gop=4)
    data_ = bytearray(path.read_bytes())
    middle = len(data_) // 2
    data_[middle:middle + 3000] = np.random.default_rng(1).integers(0, 256, 3000, dtype=np.uint8).tobytes()
    path.write_bytes(bytes(data_))
    got = []
    with pytest.raises(StyleJaxError, match="damaged at frame") as caught:
        got.extend(reading.read_frames(path))
    assert 0 < len(got) < 24 and f"damaged at frame {len(got)}:" in str(caught.value)


# --- rotation -------------------------------------------------------------------------------------


@pytest.mark.parametrize("rotation", [90, 180, -90])
def test_rotation_metadata_is_applied(tmp_path, rotation):
    pixels = np.zeros((H, W, 3), np.uint8)
    pixels[:12, :20] = 255  # a white block top-left, to see the turn
    path = encode_clip(tmp_path / "rot.mp4", [pixels] * 3, rotation=rotation)
    info = reading.probe(path)
    turned = np.rot90(pixels, k=rotation // 90) / 255.0  # counter-clockwise, as FFmpeg reads the display matrix
    assert info.rotation == rotation % 360
    assert (info.height, info.width) == turned.shape[:2]
    frame = next(reading.read_frames(path))
    assert frame.shape == turned.shape and np.abs(frame - turned).mean() < 0.03
    capture = cv2.VideoCapture(str(path))  # OpenCV's own FFmpeg build turns frames upright by default
    ok, bgr = capture.read()
    capture.release()
    assert ok and np.abs(frame - bgr[..., ::-1] / 255.0).mean() < 0.03


# --- odds and ends --------------------------------------------------------------------------------


def test_is_video_file(tmp_path):
    clip = encode_clip(tmp_path / "a.MP4", gray_frames(1))
    (tmp_path / "dir.mp4").mkdir()
    _save_gray(tmp_path / "b.png", 0)
    assert reading.is_video_file(clip)
    assert not any(reading.is_video_file(tmp_path / n) for n in ("dir.mp4", "b.png", "missing.mp4"))
    assert reading.is_video_suffix(tmp_path / "missing.MKV") and not reading.is_video_suffix(tmp_path / "b.png")


def test_missing_pyav_is_explained(tmp_path, monkeypatch):
    clip = encode_clip(tmp_path / "a.mp4", gray_frames(1))
    monkeypatch.setitem(sys.modules, "av", None)  # makes `import av` raise ImportError
    with pytest.raises(StyleJaxError, match=r"pip install 'stylejax\[video\]'"):
        reading.probe(clip)
