"""`StyleConfig`: every setting of a stylization, validated once, mirrored by the CLI's flags."""

from __future__ import annotations

import dataclasses
import math
import numbers

import optax

from stylejax.errors import StyleJaxError

MIN_SIDE = 32  # VGG pools four times before relu5_1: smaller images leave it a 1-pixel map.
MIN_TILE = 128  # a tile narrower than this gives VGG's deep layers too little of the picture
DEFAULT_MIN_SIZE = 256  # the first scale of a multi-scale run: measured in benchmarks/resolution.py
PRECISIONS = ("auto", "f32", "bf16")
OPTIMIZERS = ("adam", "lbfgs", "lbfgs-fixed", "lbfgs-backtrack", "sgd")  # `optim.optimizers` builds them
COLOR_TRANSFERS = ("none", "histogram", "lab-moments")  # `objective.color` implements them
DEFAULT_STYLE_LAYERS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")


@dataclasses.dataclass(frozen=True)
class StyleConfig:
    """Settings of one style transfer. Defaults give a good 512 px result with VGG16.

    Attributes:
      size: longest side of the output, in pixels (the content image is resized to it).
      steps: optimisation steps at each scale: one number for every scale, or one per scale, coarsest
        first, the last repeating for the scales after it (an L-BFGS step may use several evaluations).
      min_size: the smallest longest side a scale may have: scales go down from `size` by `scale_factor`
        while they are at least this (so 1000 px from 256 starts at 354). None picks `DEFAULT_MIN_SIZE`,
        or `size` when that is smaller. `min_size == size` optimises at one scale only.
      scale_factor: each scale's longest side over the one before (> 1).
      ema_decay: decay of the bias-corrected moving average of the pixels that is output (0: the last
        iterate is output).
      tile: None (never tile), a tile side in pixels (scales larger than it are optimised as
        overlapping tiles), or "auto" (tile only when the size does not fit in memory).
      remat: recompute VGG activations block by block in the backward pass (less memory, more time);
        None decides by the memory check.
      optimizer: "adam", "lbfgs", "lbfgs-fixed", "lbfgs-backtrack", "sgd", or any optax GradientTransformation.
      learning_rate: step size; None picks the optimizer's default (lbfgs takes none: it line-searches).
      content_weight, style_weight, tv_weight: weights of the three loss terms (>= 0).
      content_layers, style_layers: VGG ReLU names, e.g. "relu4_2".
      style_layer_weights: one weight per style layer (default: equal); normalised to sum to 1.
      style_blend: one weight per style image (default: equal); normalised to sum to 1.
      style_scale: style image's longest side relative to each scale's (1.0 = same size).
      init: "content", "noise" (seeded uniform noise), or the path of a starting image.
      original_colors: keep the content image's colours (transfer luminance only), after optimising.
      color_transfer: "none", "histogram" or "lab-moments": before optimising, recolour the style images
        with the content image's colours (per-channel histograms, or mean and covariance in CIELAB).
      pooling: "avg" or "max".
      model: a name in the weights cache ("vgg16" always works; "vgg19" once ported).
      seed: random seed for noise initialisation.
      chunk_steps: steps per compiled chunk; progress and intermediate saves happen between chunks.
      precision: "f32", "bf16" (VGG convolutions and Gram products in bfloat16 with f32 accumulation;
        pixels, optimizer state and loss reductions stay f32) or "auto": bf16 on GPU/TPU, f32 on CPU.
    """

    size: int = 512
    steps: int | tuple[int, ...] = (100, 50, 50, 20, 10)
    min_size: int | None = None
    scale_factor: float = 2 ** 0.5
    ema_decay: float = 0.0
    tile: int | str | None = None
    remat: bool | None = None
    optimizer: str | optax.GradientTransformation = "lbfgs-fixed"
    learning_rate: float | None = None
    content_weight: float = 1.0
    style_weight: float = 1.0e3
    tv_weight: float = 1.0
    content_layers: tuple[str, ...] = ("relu4_2",)
    style_layers: tuple[str, ...] = DEFAULT_STYLE_LAYERS
    style_layer_weights: tuple[float, ...] | None = None
    style_blend: tuple[float, ...] | None = None
    style_scale: float = 1.0
    init: str = "content"
    original_colors: bool = False
    color_transfer: str = "none"
    pooling: str = "avg"
    model: str = "vgg16"
    seed: int = 0
    chunk_steps: int = 25
    precision: str = "auto"

    def __post_init__(self):
        for name in ("content_layers", "style_layers", "style_layer_weights", "style_blend"):
            value = getattr(self, name)
            if isinstance(value, str):  # "relu1_1,relu2_1" from a CLI or a config file
                value = tuple(v.strip() for v in value.split(",") if v.strip())
            if value is not None:
                object.__setattr__(self, name, tuple(value))
        _check(isinstance(self.size, int) and self.size >= MIN_SIDE,
               f"size must be a whole number of pixels >= {MIN_SIDE}, got {self.size}")
        if isinstance(self.steps, (list, tuple)):
            object.__setattr__(self, "steps", tuple(self.steps))
        steps = self.steps if isinstance(self.steps, tuple) else (self.steps,)
        _check(len(steps) > 0 and all(isinstance(s, int) and s > 0 for s in steps),
               f"steps must be a positive whole number (or one per scale), got {self.steps}")
        _check(self.min_size is None or (isinstance(self.min_size, int) and MIN_SIDE <= self.min_size <= self.size),
               f"min_size must be a whole number of pixels from {MIN_SIDE} to size ({self.size}), got {self.min_size}")
        _check(isinstance(self.scale_factor, (int, float)) and 1 < self.scale_factor <= 4,
               f"scale_factor must be above 1 and at most 4, got {self.scale_factor}")
        _check(isinstance(self.ema_decay, (int, float)) and 0 <= self.ema_decay < 1,
               f"ema_decay must be in [0, 1), got {self.ema_decay}")
        _check_tile(self.tile, self.size)
        _check(self.remat in (None, True, False), f"remat must be True, False or None, got {self.remat!r}")
        _check(isinstance(self.chunk_steps, int) and self.chunk_steps > 0,
               f"chunk_steps must be a positive whole number, got {self.chunk_steps}")
        if isinstance(self.optimizer, str):
            _check(self.optimizer in OPTIMIZERS,
                   f"unknown optimizer {self.optimizer!r}: use one of {', '.join(OPTIMIZERS)}")
        for name in ("content_weight", "style_weight", "tv_weight"):
            _check_non_negative(name, getattr(self, name))
        _check(self.learning_rate is None or (math.isfinite(self.learning_rate) and self.learning_rate > 0),
               f"learning_rate must be positive, got {self.learning_rate}")
        _check(math.isfinite(self.style_scale) and self.style_scale > 0,
               f"style_scale must be positive, got {self.style_scale}")
        _check(len(self.content_layers) > 0, "content_layers must name at least one layer")
        _check(len(self.style_layers) > 0, "style_layers must name at least one layer")
        if self.style_layer_weights is not None:
            _check(len(self.style_layer_weights) == len(self.style_layers),
                   f"style_layer_weights has {len(self.style_layer_weights)} weights for "
                   f"{len(self.style_layers)} style layers: give one per layer")
            _check_distribution("style_layer_weights", self.style_layer_weights)
        if self.style_blend is not None:
            _check_distribution("style_blend", self.style_blend)
        _check(self.color_transfer in COLOR_TRANSFERS,
               f"unknown color_transfer {self.color_transfer!r}: use one of {', '.join(COLOR_TRANSFERS)}")
        _check(self.pooling in ("avg", "max"), f"unknown pooling {self.pooling!r}: use 'avg' or 'max'")
        _check(self.precision in PRECISIONS,
               f"unknown precision {self.precision!r}: use one of {', '.join(PRECISIONS)}")

    def replace(self, **overrides) -> StyleConfig:
        """A copy with some fields changed; unknown names raise StyleJaxError."""
        unknown = set(overrides) - {f.name for f in dataclasses.fields(self)}
        if unknown:
            raise StyleJaxError(f"unknown StyleConfig field(s): {', '.join(sorted(unknown))}")
        return dataclasses.replace(self, **overrides)


def check_batch_size(batch_size: int) -> None:
    """Raises StyleJaxError unless `batch_size` (images or frames per batch, wherever one is asked) is a
    positive whole number."""
    _check(isinstance(batch_size, numbers.Integral) and not isinstance(batch_size, bool) and batch_size > 0,
           f"`batch_size` must be a positive whole number, got {batch_size!r}")


def _check(ok: bool, message: str) -> None:
    if not ok:
        raise StyleJaxError(message)


def _check_tile(tile: int | str | None, size: int) -> None:
    if tile is None or tile == "auto":
        return
    _check(isinstance(tile, int) and not isinstance(tile, bool) and tile >= MIN_TILE,
           f"tile must be 'auto' or a whole number of pixels >= {MIN_TILE}, got {tile!r}")
    _check(tile < size, f"a tile of {tile} px is not smaller than the size ({size} px): drop the tile or lower it")


def _check_non_negative(name: str, value: float) -> None:
    _check(isinstance(value, (int, float)) and math.isfinite(value) and value >= 0,
           f"{name} must be a finite number >= 0, got {value}")


def _check_distribution(name: str, values: tuple[float, ...]) -> None:
    for v in values:
        _check_non_negative(name, v)
    _check(sum(values) > 0, f"{name} must have a positive sum, got {values}")


def normalised(values: tuple[float, ...] | None, count: int) -> tuple[float, ...]:
    """Weights scaled to sum to 1; None means `count` equal weights."""
    values = values if values is not None else (1.0,) * count
    total = sum(values)
    return tuple(v / total for v in values)
