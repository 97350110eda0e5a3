"""`TransferSettings`: every setting of a one-pass (encoder-decoder) transfer, validated once."""

from __future__ import annotations

import dataclasses
import math
import numbers
from collections.abc import Iterable

from stylejax.autoencoder.transforms import SQRT_METHODS
from stylejax.errors import StyleJaxError
from stylejax.nn.decoders import LEVELS, level_block

METHODS = ("wct", "adain")
# Li et al. 2017 run the cascade from relu5_1; our shipped decoders stop at relu4_1, where AdaIN works too.
DEFAULT_LEVELS = {"wct": ("relu4_1", "relu3_1", "relu2_1", "relu1_1"), "adain": ("relu4_1",)}


DEFAULT_ALPHA = {"wct": 0.6, "adain": 1.0}  # measured: docs/transfer.md
DEFAULT_PAINTING_COLORS = {"wct": 0.0, "adain": 0.7}  # measured: docs/transfer.md


@dataclasses.dataclass(frozen=True)
class TransferSettings:
    """Settings of a one-pass transfer: a photo encoded by VGG, given a painting's feature statistics, decoded.

    Attributes:
      method: "adain" (each channel's mean and standard deviation, Huang & Belongie 2017, with its own decoder
        and the painting's colours: more painted, closer to the photo and faster than WCT on every measure
        of docs/transfer.md) or "wct" (whitening and colouring: the style's mean and covariance, Li et al. 2017).
      alpha: style strength in [0, 1]: 0 gives the photo through the autoencoder, 1 the full transfer;
        None: `DEFAULT_ALPHA[method]` (WCT 0.6: with the shipped decoders it scored both more painted and
        closer to the photo than 1.0 on every pair measured, docs/transfer.md; AdaIN 1.0).
      levels: the VGG levels transformed and decoded in turn, deepest first (any order given is sorted so);
        None: `DEFAULT_LEVELS[method]` among those the decoders have (AdaIN, one level: relu4_1, else the
        deepest level the decoders have below it).
      sqrt: WCT's matrix square roots, "eigh" or "newton_schulz" (`stylejax.autoencoder.transforms.wct`).
      style_blend: one weight per style image (>= 0, normalised to sum to 1); None: equal weights.
      original_colors: keep the photo's colours (the output's luminance only), as `StyleConfig`'s.
      painting_colors: in [0, 1], how far the output's colours move to the painting's colour mean and
        covariance in CIELAB at alpha 1, scaled by alpha (so alpha 0 stays the reconstruction;
        `stylejax.autoencoder.cascade.toward_painting_colors`). None: `DEFAULT_PAINTING_COLORS[method]`, or 0
        with `original_colors` (AdaIN 0.7: its decoder's hues wander, and the step scored more painted with
        the content as close on the pairs measured; WCT 0: its covariances keep the painting's colours).
      size: the output's long side in pixels (the photo is resized to it); None: the photo's own size.
      style_size: the style images' long side in pixels; None: the output's long side.
    """

    method: str = "adain"
    alpha: float | None = None
    levels: tuple[str, ...] | None = None
    sqrt: str = "eigh"
    style_blend: tuple[float, ...] | None = None
    original_colors: bool = False
    painting_colors: float | None = None
    size: int | None = None
    style_size: int | None = None

    def __post_init__(self):
        for name in ("levels", "style_blend"):
            value = getattr(self, name)
            if isinstance(value, str):  # "relu4_1,relu3_1" or "0.7,0.3" from a CLI or a config file
                value = tuple(v.strip() for v in value.split(",") if v.strip())
                if name == "style_blend":
                    try:
                        value = tuple(float(v) for v in value)
                    except ValueError:
                        raise StyleJaxError(f"`style_blend` must be numbers, got {getattr(self, name)!r}") from None
            if value is not None:
                object.__setattr__(self, name, tuple(value))
        if self.method not in METHODS:
            raise StyleJaxError(f"`method` {self.method!r} is unknown: use one of {', '.join(METHODS)}")
        if self.alpha is None:
            object.__setattr__(self, "alpha", DEFAULT_ALPHA[self.method])
        if not (isinstance(self.alpha, numbers.Real) and 0.0 <= self.alpha <= 1.0):
            raise StyleJaxError(f"`alpha` must be a number in [0, 1] (0: the photo, 1: full style), got {self.alpha!r}")
        if self.levels is not None:
            if not self.levels:
                raise StyleJaxError("`levels` must name at least one level, or be None for the method's default")
            for level in self.levels:
                level_block(level)  # names `level` and the choices for an unknown one
            if len(set(self.levels)) != len(self.levels):
                raise StyleJaxError(f"`levels` names a level twice: {', '.join(self.levels)}")
            object.__setattr__(self, "levels", deepest_first(self.levels))
        if self.sqrt not in SQRT_METHODS:
            raise StyleJaxError(f"`sqrt` {self.sqrt!r} is unknown: use one of {', '.join(SQRT_METHODS)}")
        if self.style_blend is not None:
            if not self.style_blend or not all(isinstance(v, numbers.Real) and math.isfinite(v) and v >= 0
                                               for v in self.style_blend):
                raise StyleJaxError(f"`style_blend` must be finite weights >= 0, one per style, got {self.style_blend}")
            if not sum(self.style_blend) > 0:
                raise StyleJaxError(f"`style_blend` must have a positive sum, got {self.style_blend}")
        if not isinstance(self.original_colors, bool):
            raise StyleJaxError(f"`original_colors` must be True or False, got {self.original_colors!r}")
        if self.painting_colors is None:
            object.__setattr__(self, "painting_colors",
                               0.0 if self.original_colors else DEFAULT_PAINTING_COLORS[self.method])
        if not (isinstance(self.painting_colors, numbers.Real) and not isinstance(self.painting_colors, bool)
                and 0.0 <= self.painting_colors <= 1.0):
            raise StyleJaxError(f"`painting_colors` must be a number in [0, 1] (0: the decoder's colours, 1: the "
                                f"painting's), got {self.painting_colors!r}")
        if self.original_colors and self.painting_colors:
            raise StyleJaxError("`original_colors` keeps the photo's colours and `painting_colors` moves them to "
                                "the painting's: give one or the other")
        for name in ("size", "style_size"):
            value = getattr(self, name)
            if value is not None and not (isinstance(value, numbers.Integral) and not isinstance(value, bool)
                                          and value > 0):
                raise StyleJaxError(f"`{name}` must be a positive whole number of pixels or None, got {value!r}")

    def resolved_levels(self, available: Iterable[str]) -> tuple[str, ...]:
        """The levels to run, deepest first, given the levels the decoders have.

        Raises:
          StyleJaxError: a level asked for has no decoder, or none of the method's default levels has one.
        """
        available = tuple(available)
        if self.levels is not None:
            missing = [level for level in self.levels if level not in available]
            if missing:
                raise StyleJaxError(f"`levels`: no decoder for {', '.join(missing)} (the decoders have "
                                    f"{', '.join(available) or 'none'}): use the levels they have")
            return self.levels
        levels = tuple(level for level in DEFAULT_LEVELS[self.method] if level in available)
        if not levels and self.method == "adain":  # one level: the deepest the decoders have below relu4_1
            below = LEVELS.index(DEFAULT_LEVELS["adain"][0])
            levels = deepest_first(level for level in available if LEVELS.index(level) < below)[:1]
        if not levels:
            raise StyleJaxError(f"`levels`: {self.method} runs at {', '.join(DEFAULT_LEVELS[self.method])} but the "
                                f"decoders have {', '.join(available) or 'none'}: give `levels` they have")
        return levels

    def blend_weights(self, styles: int) -> tuple[float, ...]:
        """`style_blend` normalised to sum to 1 (None: `styles` equal weights).

        Raises:
          StyleJaxError: `style_blend` has not one weight per style.
        """
        if self.style_blend is None:
            return (1.0 / styles,) * styles
        if len(self.style_blend) != styles:
            raise StyleJaxError(f"`style_blend` has {len(self.style_blend)} weights for {styles} style image(s): "
                                "give one per style")
        total = sum(self.style_blend)
        return tuple(float(v) / total for v in self.style_blend)


def deepest_first(levels: Iterable[str]) -> tuple[str, ...]:
    """Levels ordered as the cascade runs them: relu5_1 before relu1_1."""
    return tuple(sorted(levels, key=LEVELS.index, reverse=True))
