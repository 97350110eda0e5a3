"""Video in one pass a frame, through a style network or the one-pass (encoder-decoder) transfer: no
optimisation, and the same warping error.

A per-frame feed-forward pass is the baseline of feed-forward video (Ruder et al. 2018; Gupta et al. 2017):
nothing ties a frame to the one before, so each frame's `temporal_error` is measured exactly as the optimised
path's (`flow.warping_error` of the finished frames, content frames at their size), and the paths are
comparable. Consecutive frames of a video go through `batch_size` at a time, one compiled program per shape.
What stylizes a batch is a `FramePass`: `NetworkPass` or `TransferPass`.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Sequence
from typing import Protocol

import jax
import jax.numpy as jnp
import numpy as np

from stylejax.autoencoder.settings import TransferSettings
from stylejax.config import check_batch_size
from stylejax.errors import StyleJaxError
from stylejax.io import images
from stylejax.io.images import ImageLike, style_list
from stylejax.network.function import StyleNetworkFunction, apply_network
from stylejax.network.transfer import OnePassTransfer
from stylejax.network.transfer_inference import style_statistics, transfer_rows
from stylejax.nn.style_network import NETWORK_MIN_SIDE
from stylejax.video import flow
from stylejax.video.settings import Progress, VideoFrame


class FramePass(Protocol):
    """What stylizes a batch of frames in one pass: called with (b, h, w, 3) frames in [0, 1], it returns them
    stylized, the same shape. `min_side` is the shortest side it takes; `check` refuses any other shape it cannot."""

    min_side: int

    def check(self, shape: tuple[int, int]) -> None: ...

    def __call__(self, frames: jax.Array) -> jax.Array: ...


class NetworkPass:
    """Frames through a trained style network (`load_network`) with one style or mix."""

    min_side = NETWORK_MIN_SIDE

    def __init__(self, net: StyleNetworkFunction, style: int | Sequence[float] | jax.Array | None = None):
        """Raises StyleJaxError for a style the network lacks."""
        self.net, self.weights = net, net.style_weights(style)

    def check(self, shape: tuple[int, int]) -> None:
        """Takes any frame of `min_side` px or more."""

    def __call__(self, frames: jax.Array) -> jax.Array:
        return apply_network(self.net, frames, self.weights)


class TransferPass:
    """Frames through the one-pass transfer with fixed paintings: a batch is one compiled call
    (`transfer_rows`, the photos in sequence on a CPU and in lockstep elsewhere, as `stylejax transfer` runs them),
    and the paintings' statistics are computed once per frame size.

    The paintings are resized to `settings.style_size`, or to each video's frame size (their long side); the
    settings' method, alpha, levels, blend and colours apply, their `size` is the job's.
    """

    def __init__(self, transfer: OnePassTransfer, style: ImageLike | Sequence[ImageLike],
                 settings: TransferSettings):
        """Raises StyleJaxError for an unreadable style image, a blend without one weight per style, or levels
        without a decoder."""
        self.settings = settings
        self.cascade, self.weights = transfer.cascade(settings)
        self.paintings = style_list(style)
        self.blend = jnp.asarray(settings.blend_weights(len(self.paintings)), jnp.float32)
        self.min_side = self.cascade.min_side
        self.lockstep = jax.default_backend() != "cpu"
        self.resized: dict[int, tuple[tuple[jax.Array, ...], tuple]] = {}

    def styles(self, shape: tuple[int, int]) -> tuple[tuple[jax.Array, ...], tuple]:
        """(the paintings for frames of `shape`, their `Cascade.style_statistics`), made once per long side.

        Raises:
          StyleJaxError: a painting too small there for the deepest level (the message names `style`).
        """
        side = self.settings.style_size or max(shape)
        if side not in self.resized:
            styles = tuple(jnp.asarray(images.resize(p, images.fit_size(p.shape[:2], side))) for p in self.paintings)
            self.cascade.check((*shape, 3), [s.shape for s in styles])
            self.resized[side] = styles, style_statistics(self.cascade, self.weights, styles)
        return self.resized[side]

    def check(self, shape: tuple[int, int]) -> None:
        """Raises StyleJaxError for frames of `shape` whose paintings would be too small for the deepest level."""
        self.styles(shape)

    def __call__(self, frames: jax.Array) -> jax.Array:
        styles, statistics = self.styles(frames.shape[1:3])
        return transfer_rows(self.cascade, 0, self.weights, frames, styles, statistics=statistics,
                             alpha=jnp.float32(self.settings.alpha), blend=self.blend, lockstep=self.lockstep)


def frame_shape(shape: tuple[int, int], size: int | None, frame_pass: FramePass) -> tuple[int, int]:
    """The (h, w) a frame of `shape` goes through `frame_pass` at: longest side `size` (None: its own).

    Raises:
      StyleJaxError: a short side under `frame_pass.min_side` px, or a shape `frame_pass.check` refuses.
    """
    out = tuple(shape) if size is None else images.fit_size(shape, size)
    if min(out) < frame_pass.min_side:
        raise StyleJaxError(f"video frame is too small: {shape[1]}x{shape[0]} becomes {out[1]}x{out[0]}, and one "
                            f"pass needs >= {frame_pass.min_side} px on the short side: use a larger `size`")
    frame_pass.check(out)
    return out


def apply_one_pass_streams(videos: Sequence[Iterable[np.ndarray]], frame_pass: FramePass,
                           on_frame: Callable[[int, VideoFrame], None], *, size: int | None,
                           done: Sequence[Progress] | None = None, batch_size: int = 8,
                           flow_preset: str = "medium") -> None:
    """Stylizes videos through `frame_pass`, frame by frame, with each frame's warping error against the one before.

    Args:
      videos: each video's content frames, (h, w, 3) float32 in [0, 1], one size per video.
      frame_pass: what stylizes a batch (`NetworkPass`, `TransferPass`).
      on_frame: called with (video index, VideoFrame) as each frame is done, in frame order per video;
        `VideoFrame.working` is the frame itself and `losses` is empty (nothing is optimised).
      size: the frames' longest side (None: the video's own size).
      done: per video, the `Progress` to resume after: the frames already done are read and skipped, and
        `Progress.working` (the last finished frame) is what the next frame's warping error compares with.
      batch_size: consecutive frames per pass.
      flow_preset: the DIS preset of the warping error's optical flow.

    Raises:
      StyleJaxError: a batch size that is not positive, frames too small, or no OpenCV (for the warping
        error's flow).
    """
    check_batch_size(batch_size)
    flow.check_available()
    for video, frames in enumerate(videos):
        count, last = (done[video].frames, done[video].working) if done else (0, None)
        frames = iter(frames)
        previous_content = None
        for _ in range(count):  # frames finished before an interruption: the last one's content is needed
            previous_content = next(frames, previous_content)
        previous, index = (last, count) if count else (None, 0)
        while batch := list(itertools.islice(frames, batch_size)):
            shape = frame_shape(batch[0].shape[:2], size, frame_pass)
            contents = [np.asarray(images.resize(frame, shape)) for frame in batch]
            outputs = np.asarray(frame_pass(jnp.stack(contents)))
            for content, image in zip(contents, outputs, strict=True):
                error = None
                if previous is not None:
                    error = flow.warping_error(previous, image, np.asarray(images.resize(previous_content, shape)),
                                               content, flow_preset)
                on_frame(video, VideoFrame(index, image, image, {}, error))
                previous, previous_content, index = image, content, index + 1
