"""Reading video files and frame folders as (h, w, 3) float32 RGB frames in [0, 1].

Reading goes through PyAV (the optional extra `stylejax[video]`, whose wheels bundle FFmpeg), imported only when a
function needs it (`import_av`, which `stylejax.video.writing` uses too). A source is a video file or a folder of
numbered images; `probe` says what `read_frames` will yield, without decoding more than one frame. Times are seconds
from the start of the source's video stream. Writing frames to a video file is `stylejax.video.writing`.

Damaged sources: a file FFmpeg cannot open (a text file, a few bytes, an MP4 cut before its index) is "not a
video". A stream that breaks part-way (a decode error, or an MP4 whose index lists more frames than the file holds)
makes `read_frames` yield every frame it decoded and then raise, naming the first frame it could not produce; `probe`
raises at once, unless `duration` stops the selection before the damage. A cut Matroska/WebM file records no frame
count, so it reads as a shorter, undamaged video.
"""

from __future__ import annotations

import bisect
import math
import os
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

from stylejax.errors import StyleJaxError
from stylejax.io.images import header_shape, list_frame_files, load_image

# .gif is left out: it is far more often a still style image than a clip (FFmpeg still reads one given here).
VIDEO_SUFFIXES = (".mp4", ".mov", ".m4v", ".mkv", ".webm", ".avi")
FOLDER_FPS = Fraction(25)  # a folder of images records no rate
_EPS = 1e-6  # seconds; absorbs float error when comparing frame times with window edges


@dataclass(frozen=True)
class VideoInfo:
    """What `read_frames` will yield for one source and selection.

    Attributes:
      fps: rate of the yielded frames: the `fps` asked for, else the stream's average rate (a folder: the given
        rate or 25).
      frame_count: number of frames `read_frames` yields.
      width, height: size of each yielded frame, after rotation.
      has_audio: whether the source has an audio stream (for `writing.write_video(audio_from=...)`).
      rotation: degrees counter-clockwise applied to stand the frames upright (0, 90, 180 or 270), from the
        stream's display matrix.
      timestamps: seconds of each yielded frame from the start of the video stream; irregular for a variable
        frame rate, and start + k / fps when resampling.
    """

    fps: Fraction
    frame_count: int
    width: int
    height: int
    has_audio: bool
    rotation: int
    timestamps: tuple[float, ...]


@dataclass(frozen=True)
class _Source:
    """Every frame of a source, before selection."""

    times: tuple[float, ...]  # sorted
    rate: Fraction
    width: int  # upright
    height: int
    rotation: int
    has_audio: bool
    pts: tuple[int, ...] | None = None  # per time, to match decoded frames; None: match them by order
    files: tuple[Path, ...] = ()  # a folder's images
    damage: str | None = None  # why the frames stop before the source's end (after the last of `times`)


def is_video_suffix(path: str | os.PathLike) -> bool:
    """Whether `path` is named like a video (see VIDEO_SUFFIXES), whether or not it exists: e.g. an output."""
    return Path(path).suffix.lower() in VIDEO_SUFFIXES


def is_video_file(path: str | os.PathLike) -> bool:
    """Whether `path` is an existing file with a video suffix (see VIDEO_SUFFIXES)."""
    return is_video_suffix(path) and Path(path).is_file()


def probe(path: str | os.PathLike, *, start: float = 0.0, duration: float | None = None,
          fps: float | Fraction | None = None) -> VideoInfo:
    """Describes the frames `read_frames(path, ...)` will yield with the same arguments.

    Reads a video's packets (no decoding beyond the first frame), or a folder's image headers.

    Args:
      path: a video file, or a folder of images (see `read_frames`).
      start: seconds from the start of the source to the first frame.
      duration: seconds of source to take from `start`; None for all the rest.
      fps: a video: resample to this rate; None keeps every frame. A folder: the rate its images were taken at
        (default 25), which places them in time for `start` and `duration`.

    Returns:
      A VideoInfo.

    Raises:
      StyleJaxError: a missing path, an unreadable or damaged video, one without frames, an empty folder, images
        of different sizes, bad selection arguments, or a selection with no frames.
    """
    source, rate = _open_source(path, fps)
    indices, times = _select(source, start, duration, None if source.files else fps)
    _check_damage(path, source, start, duration)
    return VideoInfo(fps=rate, frame_count=len(indices), width=source.width, height=source.height,
                     has_audio=source.has_audio, rotation=source.rotation, timestamps=tuple(times))


def read_frames(path: str | os.PathLike, *, start: float = 0.0, duration: float | None = None,
                fps: float | Fraction | None = None) -> Iterator[np.ndarray]:
    """Yields the frames of a video file or an image folder, in order, upright.

    A video is decoded from its beginning (frames before `start` are decoded and dropped), so a late `start` in a
    long file costs decoding time, never a wrong frame. With `fps`, each output time start + k / fps takes the
    source frame nearest it: frames repeat when upsampling and are dropped when downsampling. A folder's images are
    read with `stylejax.io.images.load_image`; they must all be one size.

    Args:
      path: a video file, or a folder of images (FRAME_SUFFIXES, natural-sorted).
      start, duration, fps: as for `probe`.

    Returns:
      An iterator over (h, w, 3) float32 RGB frames in [0, 1]: `probe(...).frame_count` of them for an undamaged
      source.

    Raises:
      StyleJaxError: as `probe`, at the call; for a stream that breaks part-way, from the iterator, after it has
        yielded every frame decoded before the damage.
    """
    source, _ = _open_source(path, fps)  # before the first next(), so that bad input fails at the call
    indices, _ = _select(source, start, duration, None if source.files else fps)
    if source.files:
        return _read_folder(source, indices)
    return _read_video(Path(path), source, indices, start, duration)


def import_av():
    """The `av` (PyAV) module, imported on first use.

    Raises:
      StyleJaxError: PyAV is not installed; the message says how to install it.
    """
    try:
        import av
    except ImportError:
        raise StyleJaxError("video needs PyAV: pip install 'stylejax[video]'") from None
    return av


def as_fraction(value: float | Fraction, name: str) -> Fraction:
    """A positive rate (e.g. fps) as an exact Fraction: 29.97 -> 2997/100, 30000/1001 stays exact.

    Args:
      value: the rate, as a number or Fraction.
      name: what it is, for the error message.

    Raises:
      StyleJaxError: `value` is not a number, or not positive.
    """
    try:
        rate = Fraction(value).limit_denominator(100_000)
    except (TypeError, ValueError):
        raise StyleJaxError(f"{name} {value!r} is not a number") from None
    if not rate > 0:
        raise StyleJaxError(f"{name} {value!r} must be positive")
    return rate


# --- reading -------------------------------------------------------------------------------------


def _open_source(path: str | os.PathLike, fps: float | Fraction | None) -> tuple[_Source, Fraction]:
    """The source's frames and the rate of the frames to yield."""
    path = Path(path)
    wanted = None if fps is None else as_fraction(fps, "fps")
    if path.is_dir():
        source = _scan_folder(path, wanted or FOLDER_FPS)
        return source, source.rate
    if not path.exists():
        raise StyleJaxError(f"{path}: no such file or folder")
    source = _scan_video(path)
    return source, wanted or source.rate


def _scan_folder(folder: Path, rate: Fraction) -> _Source:
    files = list_frame_files(folder)
    size = None
    for file in files:
        try:
            height, width = header_shape(file)
        except StyleJaxError as e:
            raise StyleJaxError(f"{e}: remove it from the folder") from None
        if size is None:
            size = (width, height)
        elif (width, height) != size:
            raise StyleJaxError(f"{file}: is {width}x{height} but {files[0].name} is {size[0]}x{size[1]}: "
                                "all frames in a folder must be one size")
    return _Source(times=tuple(float(i / rate) for i in range(len(files))), rate=rate, width=size[0],
                   height=size[1], rotation=0, has_audio=False, files=tuple(files))


def _scan_video(path: Path) -> _Source:
    """Every frame's time from the packets (no decoding but the first frame, for its size and rotation)."""
    av = import_av()
    try:
        container = av.open(str(path))
    except av.FFmpegError as e:
        raise StyleJaxError(f"{path}: not a video FFmpeg can read, or damaged/truncated ({e})") from None
    with container:
        if not container.streams.video:
            raise StyleJaxError(f"{path}: no video frames in this file (it has no video stream): give a video")
        stream = container.streams.video[0]
        pts, first, damage, packets = [], None, None, 0
        try:
            for packet in container.demux(stream):
                if packet.size == 0:  # the demuxer's end-of-stream marker
                    continue
                packets += 1
                if packet.is_discard:  # before an edit list's start: decoded but never shown
                    continue
                pts.append(packet.pts)
                if first is None:
                    first = next(iter(stream.decode(packet)), None)
            if first is None and pts:  # a decoder that holds frames back gives them up when flushed
                first = next(iter(stream.decode(None)), None)
        except av.FFmpegError as e:
            damage = str(e)
        if damage is None and stream.frames and packets < stream.frames:  # the MP4 index lists more than is there
            damage = f"truncated: {packets} of the {stream.frames} frames its index lists are in the file"
        if not pts or (first is None and damage is None):
            raise StyleJaxError(f"{path}: " + (f"damaged at frame 0: {damage}" if damage else
                                               "no video frames in this file (its video stream is empty)"))
        rate = stream.average_rate or stream.guessed_rate or FOLDER_FPS
        if None in pts:  # no timing (some raw or AVI streams): space frames at the average rate
            times, pts = tuple(float(i / rate) for i in range(len(pts))), None
        else:
            pts.sort()  # packets come in decode order; frames come out in presentation order
            origin = stream.start_time if stream.start_time is not None else pts[0]
            times = tuple(float((p - origin) * stream.time_base) for p in pts)
        rotation = _rotation(first.rotation) if first is not None else 0
        width, height = (first.width, first.height) if first is not None else (stream.width, stream.height)
        if rotation in (90, 270):
            width, height = height, width
        return _Source(times=times, rate=Fraction(rate), width=width, height=height, rotation=rotation,
                       has_audio=bool(container.streams.audio), pts=None if pts is None else tuple(pts),
                       damage=damage)


def _rotation(degrees: float) -> int:
    """A display-matrix angle (counter-clockwise, -180..180) as a quarter turn: 0, 90, 180 or 270."""
    return round(degrees / 90) % 4 * 90


def _upright(frame: np.ndarray, rotation: int) -> np.ndarray:
    """(h, w, c) as displayed: turned `rotation` degrees counter-clockwise (a multiple of 90)."""
    return np.ascontiguousarray(np.rot90(frame, k=rotation // 90)) if rotation else frame


def _select(source: _Source, start: float, duration: float | None,
            fps: Fraction | None) -> tuple[list[int], list[float]]:
    """Indices into source.times of the frames to yield (repeats allowed), with each yielded frame's time."""
    if not start >= 0:
        raise StyleJaxError(f"start {start!r} must be 0 or more seconds")
    if duration is not None and not duration > 0:
        raise StyleJaxError(f"duration {duration!r} must be positive seconds")
    times = source.times
    end = math.inf if duration is None else start + duration
    if fps is None:
        indices = [i for i, t in enumerate(times) if start - _EPS <= t < end - _EPS]
        chosen = [times[i] for i in indices]
    else:
        stop = min(end, times[-1] + 1 / source.rate)  # the last frame lasts one frame period
        chosen = [start + k / float(fps) for k in range(max(0, math.ceil((stop - start) * fps - _EPS)))]
        indices = []
        for t in chosen:  # the nearest frame; a tie goes to the earlier one
            j = bisect.bisect_left(times, t)
            indices.append(j - 1 if j == len(times) or (j > 0 and t - times[j - 1] <= times[j] - t + _EPS) else j)
    if not indices:
        length = times[-1] + 1 / source.rate
        asked = f"start={start}s" + ("" if duration is None else f", duration={duration}s")
        raise StyleJaxError(f"{asked} selects no frames: the source is {length:.3f}s long")
    return indices, chosen


def _check_damage(path: str | os.PathLike, source: _Source, start: float, duration: float | None,
                  at: int | None = None) -> None:
    """Raises the source's damage if the selection reaches it; `at`: the first frame that could not be read."""
    readable = source.times[-1] + 1 / source.rate
    if source.damage and (at is not None or duration is None or start + duration > readable + _EPS):
        at = len(source.times) if at is None else at
        until = source.times[at] if at < len(source.times) else readable
        raise StyleJaxError(f"{path}: damaged at frame {at}: {source.damage}: repair or re-encode it, or end the "
                            f"selection (start + duration) by {until:.3f}s to use the part before")


def _read_folder(source: _Source, indices: list[int]) -> Iterator[np.ndarray]:
    for i in indices:
        frame = load_image(source.files[i])
        if frame.shape[:2] != (source.height, source.width):  # the header check missed it (e.g. odd EXIF)
            raise StyleJaxError(f"{source.files[i]}: is {frame.shape[1]}x{frame.shape[0]} but the folder's frames "
                                f"are {source.width}x{source.height}: all frames must be one size")
        yield frame


def _read_video(path: Path, source: _Source, indices: list[int], start: float,
                duration: float | None) -> Iterator[np.ndarray]:
    av = import_av()
    repeats: dict[int, int] = {}
    for i in indices:
        repeats[i] = repeats.get(i, 0) + 1
    index_of = None if source.pts is None else {p: i for i, p in enumerate(source.pts)}
    following = 0  # the next frame in presentation order
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        try:
            for decoded in container.decode(stream):
                i = following if index_of is None or decoded.pts is None else index_of.get(decoded.pts)
                if i is None or i < following:  # not a listed frame (discarded or a duplicate time)
                    continue
                following = i + 1
                if i in repeats:
                    frame = _upright(decoded.to_ndarray(format="rgb24"), source.rotation).astype(np.float32) / 255
                    for copy in range(repeats.pop(i)):
                        yield frame if copy == 0 else frame.copy()
                if not repeats:
                    break
        except av.FFmpegError as e:
            raise StyleJaxError(f"{path}: damaged at frame {following}: {e}") from None
    if repeats:  # frames the packets promised but the decoder did not produce
        _check_damage(path, source, start, duration, at=min(repeats))
        raise StyleJaxError(f"{path}: damaged at frame {min(repeats)}: the decoder returned no picture for it")
    _check_damage(path, source, start, duration)
