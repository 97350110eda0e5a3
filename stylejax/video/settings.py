"""What a video run is asked (`VideoSettings`) and what each frame gives back (`VideoFrame`)."""

from __future__ import annotations

import dataclasses
from typing import NamedTuple

import numpy as np
import optax

from stylejax.config import StyleConfig
from stylejax.errors import StyleJaxError
from stylejax.optim.optimizers import refining_learning_rate
from stylejax.video import flow

FRAME_INITS = ("warped", "content", "noise")


@dataclasses.dataclass(frozen=True)
class VideoSettings:
    """How a video is stylized beyond the StyleConfig (whose `steps` per scale the first frame runs).

    Attributes:
      frame_steps: optimisation steps of each frame after the first, at full size only.
      temporal_weight: weight of mean(reliability * (frame - warped previous output)^2); 0 disables it.
      frame_init: where a later frame starts: "warped" (the previous output warped by the flow, Ruder's
        prevWarped, blended into the content where the flow is unreliable, so picture entering at an
        edge is not smeared from the border), "content" or "noise". "content" with temporal_weight 0
        stylizes frames independently.
      flow_preset: OpenCV DIS preset for the optical flow: "ultrafast", "fast" or "medium".
      frame_learning_rate: the learning rate of each frame after the first. None: with the "warped"
        start, the optimizer's rate for refining a nearly optimal start (`refining_learning_rate`: a
        quarter of Adam's, the others' own), else the first frame's. With the "warped" start, an
        optimizer whose state is per pixel (Adam's moments) also carries it from frame to frame, warped
        like the image (`warm_start`).
    """

    frame_steps: int = 50
    temporal_weight: float = 1000.0
    frame_init: str = "warped"
    flow_preset: str = "medium"
    frame_learning_rate: float | None = None

    def __post_init__(self):
        if not isinstance(self.frame_steps, int) or self.frame_steps <= 0:
            raise StyleJaxError(f"frame steps must be a positive whole number, got {self.frame_steps}")
        if not np.isfinite(self.temporal_weight) or self.temporal_weight < 0:
            raise StyleJaxError(f"temporal weight must be a finite number >= 0, got {self.temporal_weight}")
        if self.frame_init not in FRAME_INITS:
            raise StyleJaxError(f"unknown frame init {self.frame_init!r}: use one of {', '.join(FRAME_INITS)}")
        if self.flow_preset not in flow.PRESETS:
            raise StyleJaxError(f"unknown flow preset {self.flow_preset!r}: use one of {', '.join(flow.PRESETS)}")
        rate = self.frame_learning_rate
        if rate is not None and not (np.isfinite(rate) and rate > 0):
            raise StyleJaxError(f"frame learning rate must be a finite number > 0, got {rate}")


def frame_config(config: StyleConfig, settings: VideoSettings) -> StyleConfig:
    """The config of the frames after the first (from the first frame's, or its final scale's).

    Only a warped start is next to its optimum: a frame started from its content or noise has as far
    to go as the first frame, and keeps the first frame's learning rate.
    """
    rate = settings.frame_learning_rate
    if rate is None:
        rate = refining_learning_rate(config) if settings.frame_init == "warped" else config.learning_rate
    return config.replace(steps=settings.frame_steps, learning_rate=rate)


@dataclasses.dataclass(frozen=True)
class VideoFrame:
    """One stylized frame.

    Attributes:
      index: the frame's position in the video (0 first).
      image: (h, w, 3) float32 in [0, 1], the content frame's aspect ratio, colours kept if asked.
      working: (h', w', 3) float32, the raw output at the working shape: where the next frame starts from
        (a resumed run needs it).
      losses: {"content", "style", "tv", "temporal" (later frames with a temporal term), "total"}.
      temporal_error: `flow.warping_error` of `image` against the previous frame's `image` (None for
        the first frame); the mean over a video is `flow.temporal_error` of its frames.
      optimizer_state: the optimizer's state at the end (an optax state of one image, NumPy leaves), which
        the next frame takes over (`warm_start`); None where it does not (L-BFGS). A resumed run needs it.
    """

    index: int
    image: np.ndarray
    working: np.ndarray
    losses: dict[str, float]
    temporal_error: float | None
    optimizer_state: optax.OptState | None = None


class Progress(NamedTuple):
    """Where an interrupted video stands: frames done, and the last one's `VideoFrame.working` and
    `VideoFrame.optimizer_state` (or that state's leaves in `jax.tree.leaves` order, as a job saves them)."""

    frames: int
    working: np.ndarray | None
    optimizer_state: optax.OptState | list[np.ndarray] | None = None
