"""Encoding (h, w, 3) float RGB frames in [0, 1] to a video file, atomically, with a source's audio copied in.

Writing goes through PyAV (the optional extra `stylejax[video]`), imported only when `write_video` runs
(`reading.import_av`). Reading sources, and the timestamps and audio flag that `write_video` takes from them, is
`stylejax.video.reading`.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Sequence
from fractions import Fraction
from pathlib import Path
from typing import NamedTuple

import numpy as np

from stylejax.errors import StyleJaxError
from stylejax.io.atomic import atomic_output
from stylejax.video.reading import as_fraction, import_av

# Output suffix -> (FFmpeg muxer, video encoder).
_WRITERS = {".mp4": ("mp4", "libx264"), ".m4v": ("mp4", "libx264"), ".mov": ("mov", "libx264"),
            ".mkv": ("matroska", "libx264"), ".webm": ("webm", "libvpx-vp9")}
_VFR_TIME_BASE = Fraction(1, 90_000)  # the MPEG clock: fine enough to keep any frame time within 6 µs


class _Encoding(NamedTuple):
    """How frames are encoded: the muxer and encoder of the output's suffix, the nominal frame rate, each
    frame's seconds (None: frames at k / rate) and the CRF."""

    muxer: str
    encoder: str
    rate: Fraction
    timestamps: Sequence[float] | None
    quality: int


class _AudioWindow(NamedTuple):
    """The audio to copy in: a file (None: none), and the window of it in seconds (`write_video`'s)."""

    source: str | os.PathLike | None
    start: float
    duration: float | None


def write_video(path: str | os.PathLike, frames: Iterable[np.ndarray], *, fps: float | Fraction,
                timestamps: Sequence[float] | None = None, audio_from: str | os.PathLike | None = None,
                audio_start: float = 0.0, audio_duration: float | None = None, quality: int = 18) -> Path:
    """Encodes frames to a video file atomically: a reader never sees a partial file.

    .mp4/.m4v/.mov/.mkv get H.264 (libx264), .webm VP9 (libvpx-vp9), both yuv420p tagged BT.709. yuv420p needs
    even sides, so a frame with an odd width or height is padded by one row/column repeating its edge: a 63x47
    input reads back as 64x48.

    Args:
      path: output file; its suffix picks the format.
      frames: (h, w, 3) float RGB in [0, 1] (clipped, rounded to 8 bits), all one size.
      fps: the frame rate; with `timestamps` only the encoder's nominal rate.
      timestamps: seconds of each frame (one per frame, increasing), shifted so the first is at 0: keeps a variable
        frame rate, e.g. `reading.probe(...).timestamps`. None: frames at k / fps.
      audio_from: a file whose first audio stream is copied in unchanged (no re-encoding); nothing is copied if it
        has none.
      audio_start, audio_duration: the window of that audio to copy, in seconds from the start of its video stream
        (the clock of `reading.probe`'s timestamps); it is shifted to start at 0 with the video.
      quality: the encoder's CRF, 0..51, lower is better; 18 is near transparent for x264 (VP9's scale runs to 63,
        where about 31 looks the same).

    Returns:
      `path`.

    Raises:
      StyleJaxError: an unsupported suffix, bad `fps`/`quality`/`timestamps`, no frames, frames of different sizes,
        or audio the container cannot hold. An exception from `frames` itself propagates. Either way the
        temporary file is removed and a file already at `path` is left as it was.

    Example:
      info = reading.probe("in.mp4", start=10.0, duration=5.0)
      frames = (stylize_frame(f) for f in reading.read_frames("in.mp4", start=10.0, duration=5.0))
      write_video("out.mp4", frames, fps=info.fps, timestamps=info.timestamps, audio_from="in.mp4",
                  audio_start=10.0, audio_duration=5.0)
    """
    av = import_av()
    path = Path(path)
    muxer, encoder = _writer(av, path)
    if isinstance(quality, bool) or not isinstance(quality, int) or not 0 <= quality <= 51:
        raise StyleJaxError(f"quality {quality!r} is not a CRF from 0 (best) to 51 (worst): 18 is a good default")
    rate = as_fraction(fps, "fps")
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise StyleJaxError(f"{parent}: output directory does not exist: create it first")
    with atomic_output(path) as tmp:
        _encode(av, tmp, frames, _Encoding(muxer, encoder, rate, timestamps, quality),
                _AudioWindow(audio_from, audio_start, audio_duration))
    return path


def check_writable(path: str | os.PathLike, audio_from: str | os.PathLike | None = None) -> None:
    """Raises StyleJaxError, before any frame is computed, if `write_video` could not write `path`.

    Checks the suffix, that this PyAV build has its encoder, and that the container can hold the
    audio of `audio_from` (e.g. AAC cannot go into .webm).
    """
    av = import_av()
    muxer, _ = _writer(av, Path(path))
    if audio_from is None:
        return
    with av.open(str(audio_from)) as source:
        if not source.streams.audio:
            return
        with av.open(os.devnull, "w", format=muxer) as probe:
            try:
                probe.add_stream_from_template(source.streams.audio[0])
            except ValueError as e:
                raise StyleJaxError(f"{path}: {e}: write .mkv (holds any audio) or .mp4 instead") from None


def _writer(av, path: Path) -> tuple[str, str]:
    """(FFmpeg muxer, video encoder) for the suffix of `path`, or StyleJaxError."""
    if path.suffix.lower() not in _WRITERS:
        raise StyleJaxError(f"{path}: cannot write {path.suffix!r} video: use one of {', '.join(_WRITERS)}")
    muxer, encoder = _WRITERS[path.suffix.lower()]
    if encoder not in av.codecs_available:
        raise StyleJaxError(f"{path}: this PyAV build has no {encoder} encoder for {path.suffix}: write .mp4 instead")
    return muxer, encoder


def _to_uint8(frame: np.ndarray) -> np.ndarray:
    """(h, w, 3) in [0, 1] -> uint8, padded to even sides by repeating the last row/column (yuv420p needs them)."""
    pixels = np.round(np.clip(np.asarray(frame, np.float32), 0.0, 1.0) * 255.0).astype(np.uint8)
    h, w = pixels.shape[:2]
    if h % 2 or w % 2:
        pixels = np.pad(pixels, ((0, h % 2), (0, w % 2), (0, 0)), mode="edge")
    return pixels


def _encode(av, tmp: Path, frames: Iterable[np.ndarray], encoding: _Encoding, window: _AudioWindow) -> None:
    muxer, encoder, rate, timestamps, quality = encoding
    options = {"movflags": "+faststart"} if muxer in ("mp4", "mov") else {}  # index first: playable while loading
    # One encoder thread: with several, x264's output for identical frames varied from run to run on a
    # busy CPU (decoded frames differed by up to 29 levels), and a re-run should give the same video.
    # Encoding costs far less than stylizing a frame.
    codec_options = {"crf": str(quality), "threads": "1"}
    if encoder == "libvpx-vp9":
        codec_options |= {"b": "0", "deadline": "good", "cpu-used": "4", "row-mt": "1"}  # b=0: constant quality
    time_base = 1 / rate if timestamps is None else _VFR_TIME_BASE
    with av.open(str(tmp), "w", format=muxer, options=options) as out:
        # The encoder opens at the first frame, so its size can wait for it; the audio is set up first so that a
        # container that cannot hold it fails before any frame is computed.
        stream = out.add_stream(encoder, rate=rate, options=codec_options)
        stream.pix_fmt = "yuv420p"
        stream.codec_context.time_base = time_base
        for name in ("colorspace", "color_primaries", "color_trc"):  # tag what the conversion below uses
            setattr(stream.codec_context, name, 1)  # 1 = BT.709 in each FFmpeg enum
        stream.codec_context.color_range = 1  # limited ("MPEG") range
        with _AudioCopy(av, out, window) as audio:
            size, count, previous = None, 0, -1
            for frame in frames:
                pixels = np.asarray(frame)
                if pixels.ndim != 3 or pixels.shape[2] != 3:
                    raise StyleJaxError(f"frame {count} has shape {pixels.shape}: expected (h, w, 3) RGB")
                if size is None:
                    size = pixels.shape[:2]
                    stream.height, stream.width = size[0] + size[0] % 2, size[1] + size[1] % 2
                elif pixels.shape[:2] != size:
                    raise StyleJaxError(f"frame {count} is {pixels.shape[1]}x{pixels.shape[0]} but frame 0 is "
                                        f"{size[1]}x{size[0]}: all frames must be one size")
                picture = av.VideoFrame.from_ndarray(_to_uint8(pixels), format="rgb24").reformat(
                    format="yuv420p", dst_colorspace="ITU709", dst_color_range="MPEG")
                picture.pts = count if timestamps is None else _tick(timestamps, count, time_base)
                if picture.pts <= previous:
                    raise StyleJaxError(f"timestamp {count} ({timestamps[count]}s) does not come after the one "
                                        "before it: timestamps must increase")
                previous, picture.time_base = picture.pts, time_base
                for packet in stream.encode(picture):
                    audio.mux_until(packet.dts * packet.time_base)  # interleave, so neither stream piles up
                    out.mux(packet)
                count += 1
            if size is None:
                raise StyleJaxError("no frames to write")
            if timestamps is not None and count != len(timestamps):
                raise StyleJaxError(f"{count} frames but {len(timestamps)} timestamps: give one per frame")
            out.mux(stream.encode())
            audio.mux_until(math.inf)


def _tick(timestamps: Sequence[float], count: int, time_base: Fraction) -> int:
    """Frame `count`'s pts: its timestamp less the first, in `time_base` ticks."""
    if count >= len(timestamps):
        raise StyleJaxError(f"more frames than timestamps ({len(timestamps)}): give one per frame")
    return round((Fraction(float(timestamps[count])) - Fraction(float(timestamps[0]))) / time_base)


class _AudioCopy:
    """Remuxes one window of a file's first audio stream into `out`, shifted to start at 0; a no-op without one."""

    def __init__(self, av, out, window: _AudioWindow):
        source, start, duration = window
        self.out, self.source, self.container, self.packets, self.pending = out, source, None, iter(()), None
        self.error = av.FFmpegError
        if source is None:
            return
        if not start >= 0 or (duration is not None and not duration > 0):
            raise StyleJaxError(f"audio_start {start!r} must be >= 0 and audio_duration {duration!r} positive")
        if not Path(source).is_file():
            raise StyleJaxError(f"{source}: no such file to copy audio from")
        try:
            self.container = av.open(str(source))
        except av.FFmpegError as e:
            raise StyleJaxError(f"{source}: cannot copy its audio: not a file FFmpeg can read ({e})") from None
        if not self.container.streams.audio:
            return
        source_audio = self.container.streams.audio[0]
        try:
            self.stream = out.add_stream_from_template(source_audio)
        except ValueError as e:  # e.g. AAC into WebM
            self.container.close()
            raise StyleJaxError(f"{e}: write .mkv (holds any audio) or .mp4 instead, or leave out audio_from") from None
        # The window is on the clock of reading.probe's timestamps: from the start of the source's video stream.
        reference = self.container.streams.video[0] if self.container.streams.video else source_audio
        self.base = (reference.start_time or 0) * reference.time_base + Fraction(float(start))
        self.end = math.inf if duration is None else self.base + Fraction(float(duration))
        self.shift = round(self.base / source_audio.time_base)  # in the source stream's ticks
        self.packets = self.container.demux(source_audio)

    def __enter__(self) -> _AudioCopy:
        return self

    def __exit__(self, *exc) -> None:
        if self.container is not None:
            self.container.close()

    def mux_until(self, time: float | Fraction) -> None:
        """Muxes the window's audio packets that start before `time` seconds of output."""
        while True:
            if self.pending is None:
                try:
                    self.pending = next(self.packets, None)
                except self.error as e:
                    raise StyleJaxError(f"{self.source}: audio damaged ({e}): repair it or leave out audio_from") \
                        from None
                if self.pending is None:
                    return
            packet = self.pending
            if packet.size == 0 or packet.pts is None:  # end-of-stream markers; untimed packets cannot be placed
                self.pending = None
                continue
            begins = packet.pts * packet.time_base
            if begins - self.base >= time:
                return
            self.pending = None
            if begins >= self.end:
                self.packets = iter(())  # the rest is past the window
                return
            # Keep packets that end where the window begins or later: an AAC decoder needs the one before the
            # window (its priming packet, at 0) to decode the first samples.
            if begins + (packet.duration or 0) * packet.time_base < self.base:
                continue
            packet.pts -= self.shift
            if packet.dts is not None:
                packet.dts -= self.shift
            packet.stream = self.stream
            self.out.mux(packet)
