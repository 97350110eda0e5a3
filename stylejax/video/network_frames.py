"""Video through a style network: one forward pass a frame, no optimisation, and the same warping error.

A per-frame network is the baseline of feed-forward video (Ruder et al. 2018; Gupta et al. 2017): nothing
ties a frame to the one before, so each frame's `temporal_error` is measured exactly as the optimised path's
(`flow.warping_error` of the finished frames, content frames at their size), and the two are comparable.
Consecutive frames of a video go through the network `batch_size` at a time, one compiled program per shape.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from stylejax.config import check_batch_size
from stylejax.errors import StyleJaxError
from stylejax.io import images
from stylejax.network.function import StyleNetworkFunction, apply_network
from stylejax.nn.style_network import NETWORK_MIN_SIDE
from stylejax.video import flow
from stylejax.video.settings import Progress, VideoFrame


def network_frame_shape(shape: tuple[int, int], size: int | None) -> tuple[int, int]:
    """The (h, w) a frame of `shape` goes through the network at: longest side `size` (None: its own).

    Raises:
      StyleJaxError: a short side under `NETWORK_MIN_SIDE` px.
    """
    out = tuple(shape) if size is None else images.fit_size(shape, size)
    if min(out) < NETWORK_MIN_SIDE:
        raise StyleJaxError(f"video frame is too small: {shape[1]}x{shape[0]} becomes {out[1]}x{out[0]}, and the "
                            f"network needs >= {NETWORK_MIN_SIDE} px on the short side: use a larger `size`")
    return out


def apply_network_streams(videos: Sequence[Iterable[np.ndarray]], net: StyleNetworkFunction,
                          on_frame: Callable[[int, VideoFrame], None], *, size: int | None,
                          style: int | Sequence[float] | jax.Array | None = None,
                          done: Sequence[Progress] | None = None, batch_size: int = 8,
                          flow_preset: str = "medium") -> None:
    """Stylizes videos through `net`, frame by frame, with each frame's warping error against the one before.

    Args:
      videos: each video's content frames, (h, w, 3) float32 in [0, 1], one size per video.
      net: a loaded network (`load_network`).
      on_frame: called with (video index, VideoFrame) as each frame is done, in frame order per video;
        `VideoFrame.working` is the frame itself and `losses` is empty (nothing is optimised).
      size: the frames' longest side (None: the video's own size).
      style: the network's style: an index, a mix, (num_styles,) weights, or None (style 0).
      done: per video, the `Progress` to resume after: the frames already done are read and skipped, and
        `Progress.working` (the last finished frame) is what the next frame's warping error compares with.
      batch_size: consecutive frames per forward pass.
      flow_preset: the DIS preset of the warping error's optical flow.

    Raises:
      StyleJaxError: a batch size that is not positive, a style the network lacks, frames too small, or no
        OpenCV (for the warping error's flow).
    """
    check_batch_size(batch_size)
    weights = net.style_weights(style)
    flow.check_available()
    for video, frames in enumerate(videos):
        count, last = (done[video].frames, done[video].working) if done else (0, None)
        frames = iter(frames)
        previous_content = None
        for _ in range(count):  # frames finished before an interruption: the last one's content is needed
            previous_content = next(frames, previous_content)
        previous, index = (last, count) if count else (None, 0)
        while batch := list(itertools.islice(frames, batch_size)):
            shape = network_frame_shape(batch[0].shape[:2], size)
            contents = [np.asarray(images.resize(frame, shape)) for frame in batch]
            outputs = np.asarray(apply_network(net, jnp.stack(contents), weights))
            for content, image in zip(contents, outputs, strict=True):
                error = None
                if previous is not None:
                    error = flow.warping_error(previous, image, np.asarray(images.resize(previous_content, shape)),
                                               content, flow_preset)
                on_frame(video, VideoFrame(index, image, image, {}, error))
                previous, previous_content, index = image, content, index + 1
