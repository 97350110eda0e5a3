"""Video clips for the video tests, made with PyAV directly so that reading is tested apart from writing."""

from fractions import Fraction

import av
import numpy as np

H, W, FPS = 48, 64, 12


def gray_frames(n: int) -> list[np.ndarray]:
    """Frame i is a flat gray of level 10 i / 255, so a decoded frame tells which one it is."""
    return [np.full((H, W, 3), 10 * i, np.uint8) for i in range(n)]


def frame_ids(frames) -> list[int]:
    """Which of `gray_frames` each decoded frame is."""
    return [round(float(np.mean(f)) * 255 / 10) for f in frames]


def pan_frames(n: int, h: int = H, w: int = W, step: int = 2) -> list[np.ndarray]:
    """n frames of a window panning `step` px a frame across a smooth (downscaled) astronaut: float32 [0, 1]."""
    from skimage import data, transform

    picture = transform.resize(data.astronaut(), (h + 40, w + step * n), anti_aliasing=True).astype(np.float32)
    return [picture[20:20 + h, step * k:step * k + w] for k in range(n)]


def encode_clip(path, frames, *, fps=FPS, rotation=None, audio=None, gop=None, faststart=False):
    """Writes (h, w, 3) frames (uint8, or float in [0, 1]) as H.264 with PyAV; audio: mono float samples
    at 48 kHz, AAC."""
    frames = [f if f.dtype == np.uint8 else np.round(np.clip(f, 0, 1) * 255).astype(np.uint8) for f in frames]
    options = {"movflags": "+faststart"} if faststart else {}
    with av.open(str(path), "w", options=options) as out:
        video = out.add_stream("libx264", rate=fps, options={"g": str(gop)} if gop else {})
        video.height, video.width = frames[0].shape[:2] if frames else (H, W)
        video.pix_fmt = "yuv420p"
        if rotation is not None:
            video.set_display_rotation(rotation)
        if audio is not None:  # every stream must exist before the first packet
            sound = out.add_stream("aac", rate=48_000)
            sound.layout = "mono"
        out.start_encoding()  # writes the header, so a clip without frames is still a file
        for pixels in frames:
            out.mux(video.encode(av.VideoFrame.from_ndarray(pixels, format="rgb24")))
        out.mux(video.encode())
        if audio is not None:
            _encode_audio(out, sound, audio)
    return path


def _encode_audio(out, stream, samples, rate=48_000):
    for at in range(0, len(samples), 1024):
        chunk = av.AudioFrame.from_ndarray(samples[None, at:at + 1024].astype(np.float32), format="fltp",
                                           layout="mono")
        chunk.sample_rate, chunk.pts, chunk.time_base = rate, at, Fraction(1, rate)
        out.mux(stream.encode(chunk))
    out.mux(stream.encode())


def step_audio(seconds: float, loud_from: float, rate=48_000) -> np.ndarray:
    """A 440 Hz tone, silent before `loud_from` seconds: shows which part of the audio was copied."""
    t = np.arange(int(seconds * rate)) / rate
    return np.where(t >= loud_from, 0.5 * np.sin(2 * np.pi * 440 * t), 0.0)
