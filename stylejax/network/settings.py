"""`TrainSettings`: every setting of a style network's training, validated once."""

from __future__ import annotations

import dataclasses

from stylejax.config import StyleConfig
from stylejax.errors import StyleJaxError
from stylejax.nn.style_network import WIDTHS

PAINTING_SIDE = 512  # px: the painting's long side in training by default, the usual size of apply's outputs


@dataclasses.dataclass(frozen=True)
class TrainSettings:
    """Settings of a style network's training. The defaults were chosen by measurement (docs/network.md).

    Attributes:
      size: side of the square training crops, in pixels.
      steps: training steps.
      batch_size: crops per step, split over the local devices (a multiple of their count).
      width: the network's first-layer channels: 32 (Johnson et al.) or 16 (a quarter of the arithmetic).
      learning_rate: Adam's step size.
      content_weight, style_weight, tv_weight: the objective's weights, as in `StyleConfig`.
      content_layers, style_layers: VGG ReLU names, as in `StyleConfig`.
      style_scale: the style images' long side relative to `size`; it sets the strokes' size. None: the
        painting at PAINTING_SIDE px whatever `size` is, strokes sized for outputs of about that size (4 at
        128 px crops: 2.1x closer to the painting than 1 at 512 px outputs, measured in docs/network.md).
      checkpoint_every: steps between checkpoints.
      sample_every: steps between sample sheets (0: only at the end).
      seed: fixes the initial weights, the data order, crops and flips.
      precision: "auto", "f32" or "bf16" for VGG's arithmetic, as in `StyleConfig`.
      model: the VGG of the objective.
    """

    size: int = 256
    steps: int = 2000
    batch_size: int = 4
    width: int = 32
    learning_rate: float = 1e-3
    content_weight: float = 1.0
    style_weight: float = 30.0  # stylize's 1e3 leaves a network that starts from nothing texture only
    tv_weight: float = 1.0
    content_layers: tuple[str, ...] = ("relu3_1",)
    style_layers: tuple[str, ...] = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")
    style_scale: float | None = None
    checkpoint_every: int = 100
    sample_every: int = 100
    seed: int = 0
    precision: str = "auto"
    model: str = "vgg16"

    def __post_init__(self):
        for name in ("steps", "batch_size", "checkpoint_every"):
            if not isinstance(getattr(self, name), int) or getattr(self, name) <= 0:
                raise StyleJaxError(f"`{name}` must be a positive whole number, got {getattr(self, name)!r}")
        if self.width not in WIDTHS and (self.width <= 0 or self.width % 4):
            raise StyleJaxError(f"`width` must be 32 or 16, got {self.width}")
        if not (self.learning_rate > 0):
            raise StyleJaxError(f"`learning_rate` must be positive, got {self.learning_rate}")
        if self.sample_every < 0:
            raise StyleJaxError(f"`sample_every` must be >= 0, got {self.sample_every}")
        if self.style_scale is not None and not self.style_scale > 0:
            raise StyleJaxError(f"`style_scale` must be positive, got {self.style_scale}")
        self.objective_config()  # validates sizes, weights, layers and precision

    @property
    def painting_scale(self) -> float:
        """The style images' long side relative to `size`: `style_scale`, or PAINTING_SIDE / `size`."""
        return self.style_scale if self.style_scale is not None else PAINTING_SIDE / self.size

    def objective_config(self) -> StyleConfig:
        """The `StyleConfig` of the objective the network is trained on."""
        return StyleConfig(size=self.size, content_weight=self.content_weight, style_weight=self.style_weight,
                           tv_weight=self.tv_weight, content_layers=self.content_layers,
                           style_layers=self.style_layers, style_scale=self.painting_scale, model=self.model,
                           precision=self.precision)
