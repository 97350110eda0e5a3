"""The one-pass transfer: a photo encoded by VGG, its features given a painting's statistics, decoded; level
after level, deepest first (Li et al. 2017's coarse-to-fine cascade; AdaIN is the one-level case).

At each level the current image (the photo, then each decoder's output) is encoded, its features
transformed with the styles' features at that level (`stylized_features`), blended with its own by alpha,
and decoded by that level's decoder. The style images are encoded once, at their own size.

Sizes: the photo's sides are padded by reflection (bottom and right) to a multiple of the deepest level's
stride (2 ** (block - 1): 8 at relu4_1), so every level's poolings and upsamplings see whole cells, and
the output is cropped back to the photo's size. The padding (at most stride - 1 rows and columns) is part
of the content's statistics: a mirrored strip of the photo, which moves them little.

Pure and jit-able: `Cascade` holds the structure (hashable, a static jit argument), `CascadeWeights` the
arrays; one image per call (`jax.vmap` for a batch).
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Sequence
from typing import NamedTuple

import jax
import jax.numpy as jnp
from flax import nnx

from stylejax.autoencoder.settings import METHODS, deepest_first
from stylejax.autoencoder.transforms import (
    StyleStatistics,
    adain_statistics,
    adain_to,
    by_regions,
    wct_statistics,
    wct_to,
)
from stylejax.errors import StyleJaxError
from stylejax.nn.decoders import level_block
from stylejax.objective import color
from stylejax.objective.losses import pooled_masks


class PaintingStatistics(NamedTuple):
    """What the cascade needs of the paintings, a function of them alone (`Cascade.style_statistics`).

    Attributes:
      levels: each level's statistics of each painting, `Cascade.levels`' order then the paintings'.
      colors: each painting's colour statistics (`color_statistics`) where the cascade moves the output's
        colours to theirs (`Cascade.painting_colors`), else None.
    """

    levels: tuple[tuple[StyleStatistics, ...], ...]
    colors: tuple[StyleStatistics, ...] | None


class CascadeWeights(NamedTuple):
    """The cascade's arrays, passed to it as arguments (never baked into a compiled program).

    Attributes:
      encoder: the VGG's weights (`nnx.split(vgg)[1]`; the VGG pools by max, as the decoders were trained).
      decoders: each level's decoder weights (`nnx.split(decoder)[1]`), in `Cascade.levels`' order.
    """

    encoder: nnx.State
    decoders: tuple[nnx.State, ...]


@dataclasses.dataclass(frozen=True)
class Cascade:
    """The structure of a one-pass transfer; hashable, so it can be a static `jax.jit` argument.

    Attributes:
      encoder: the VGG's structure (`nnx.GraphDef`).
      decoders: each level's decoder structure, in `levels`' order.
      levels: the levels run, deepest first, e.g. ("relu4_1", "relu3_1", "relu2_1", "relu1_1").
      method: "wct" or "adain".
      sqrt: WCT's matrix square roots, "eigh" or "newton_schulz".
      original_colors: keep the photo's colours (the output's luminance only).
      painting_colors: in [0, 1], how far the output's colours move to the paintings' at alpha 1
        (`toward_painting_colors`, scaled by alpha; 0: the decoder's own).
      rewrite: the decoders' upsamplings in the faster exact sub-pixel form (`Decoder.__call__`; False: XLA's
        own, for symbolic sizes and exports).
    """

    encoder: nnx.GraphDef
    decoders: tuple[nnx.GraphDef, ...]
    levels: tuple[str, ...]
    method: str
    sqrt: str = "eigh"
    original_colors: bool = False
    painting_colors: float = 0.0
    rewrite: bool = True

    def __post_init__(self):
        if self.method not in METHODS:
            raise StyleJaxError(f"`method` {self.method!r} is unknown: use one of {', '.join(METHODS)}")
        levels = tuple(self.levels)
        if not levels or levels != deepest_first(levels) or len(set(levels)) != len(levels):
            raise StyleJaxError(f"`levels` must be distinct levels, deepest first, got {self.levels}")
        if len(self.decoders) != len(self.levels):
            raise StyleJaxError(f"{len(self.decoders)} decoders for {len(self.levels)} `levels`: give one per level")

    @property
    def stride(self) -> int:
        """Pixels per feature position at the deepest level: the photo's sides are padded to a multiple of it."""
        return 2 ** (level_block(self.levels[0]) - 1)

    @property
    def min_side(self) -> int:
        """The shortest side a photo or style image may have: 2 positions at the deepest level."""
        return 2 * self.stride

    def check(self, content: tuple[int, ...], styles: Sequence[tuple[int, ...]],
              masks: tuple[int, ...] | None = None) -> None:
        """Raises StyleJaxError, naming the parameter, for shapes the cascade cannot take.

        Args:
          content: the photo's shape, (h, w, 3).
          styles: each style image's shape, (h', w', 3).
          masks: the region masks' shape, (len(styles), h, w), or None.
        """
        if len(content) != 3 or content[-1] != 3:
            raise StyleJaxError(f"`content` must be one (h, w, 3) image, got shape {content}: use jax.vmap for a batch")
        if not styles:
            raise StyleJaxError("`style`: give at least one style image")
        for i, shape in enumerate(styles):
            if len(shape) != 3 or shape[-1] != 3:
                raise StyleJaxError(f"`style` {i + 1} must be one (h, w, 3) image, got shape {shape}")
        for name, shape in [("`content`", content)] + [(f"`style` {i + 1}", s) for i, s in enumerate(styles)]:
            if any(side < self.min_side for side in shape[:2]):  # not min(): symbolic sides do not compare
                raise StyleJaxError(f"{name} is {shape[1]}x{shape[0]} px: {self.levels[0]} needs a short side of at "
                                    f"least {self.min_side} px (2 feature positions): use a larger image")
        if masks is not None and tuple(masks) != (len(styles), *content[:2]):
            raise StyleJaxError(f"`masks` have shape {tuple(masks)} for {len(styles)} style image(s) and a "
                                f"{content[1]}x{content[0]} photo: give one mask per style, (styles, h, w) at the "
                                "photo's size")

    def style_statistics(self, weights: CascadeWeights, styles: Sequence[jax.Array]) -> PaintingStatistics:
        """What the cascade needs of each style image: its statistics at each level, and its colours'.

        A function of the paintings alone: a job computes it once and passes it to every photo's call
        (one VGG pass and one matrix square root per painting and level saved per photo).

        Args:
          weights: the encoder's and decoders' arrays.
          styles: (h_i, w_i, 3) style images in [0, 1].
        """
        vgg = nnx.merge(self.encoder, weights.encoder)
        # One pass per style to the deepest level gives every level's features. Batches of one squeezed, not
        # indexed: under jax2onnx (an ONNX export) `x[0]` of a symbolic size is a gather it cannot convert.
        features = [vgg(s[None].astype(jnp.float32), self.levels) for s in styles]
        levels = tuple(tuple(level_statistics(self.method, f[level].squeeze(0), sqrt=self.sqrt) for f in features)
                       for level in self.levels)
        return PaintingStatistics(levels, color_statistics(styles, sqrt=self.sqrt) if self.painting_colors else None)

    def __call__(self, weights: CascadeWeights, content: jax.Array, styles: Sequence[jax.Array],
                 alpha: float | jax.Array = 1.0, blend: Sequence[float] | jax.Array | None = None,
                 masks: jax.Array | None = None, *,
                 statistics: PaintingStatistics | None = None) -> jax.Array:
        """The photo stylized: (h, w, 3) in [0, 1].

        Args:
          weights: the encoder's and decoders' arrays.
          content: (h, w, 3) photo in [0, 1]; any size whose short side is at least `min_side`.
          styles: (h_i, w_i, 3) style images in [0, 1], each its own size (at least `min_side`).
          alpha: style strength in [0, 1] (unchecked: a `TransferSettings` checks a user's).
          blend: (len(styles),) weights summing to 1 (None: equal); unused with `masks`.
          masks: (len(styles), h, w) region weights in [0, 1] at the photo's size: region i takes style i,
            where they sum to less than 1 the photo's features show through. None: the styles blended everywhere.
          statistics: `style_statistics(weights, styles)`, computed once for many photos (None: here).

        Returns:
          (h, w, 3) float32 in [0, 1].
        """
        styles = tuple(styles)
        self.check(content.shape, [s.shape for s in styles], None if masks is None else masks.shape)
        blend = jnp.full((len(styles),), 1.0 / len(styles)) if blend is None else jnp.asarray(blend, jnp.float32)
        vgg = nnx.merge(self.encoder, weights.encoder)
        h, w = content.shape[:2]
        image = pad_to_multiple(content.astype(jnp.float32), self.stride)
        padded = image.shape[:2] != (h, w)
        pixel_masks = masks
        if masks is not None:
            masks = pad_to_multiple(jnp.moveaxis(masks.astype(jnp.float32), 0, -1), self.stride)
            masks = jnp.moveaxis(masks, -1, 0)[..., None]  # (r, H, W, 1)
        if statistics is None:
            statistics = self.style_statistics(weights, styles)
        for level, graphdef, state, targets in zip(self.levels, self.decoders, weights.decoders, statistics.levels,
                                                   strict=True):
            features = vgg(image[None], (level,))[level].squeeze(0)
            target = stylized_features(self.method, features, targets, blend,
                                       None if masks is None else pooled_masks(masks, (level,))[level],
                                       sqrt=self.sqrt)
            # alpha = 0 gives the features exactly: the output is then the autoencoder's reconstruction.
            mixed = alpha * target + (1.0 - alpha) * features
            # Clipped between levels: the next encoding, like the decoders' training, sees images in [0, 1].
            image = jnp.clip(nnx.merge(graphdef, state)(mixed[None], rewrite=self.rewrite).squeeze(0), 0.0, 1.0)
        # Cropped only where padded: jax2onnx (an ONNX export, sizes multiples of the stride) cannot convert a
        # crop to a symbolic size.
        out = image[:h, :w] if padded else image
        if self.painting_colors:
            # Scaled by alpha too: alpha 0 stays the autoencoder's reconstruction.
            out = toward_painting_colors(out, styles, alpha * self.painting_colors, blend, pixel_masks,
                                         sqrt=self.sqrt, colors=statistics.colors)
        if self.original_colors:
            out = color.keep_colors(out, content.astype(jnp.float32))
        return out


def level_statistics(method: str, features: jax.Array, *, sqrt: str = "eigh") -> StyleStatistics:
    """One style image's statistics at one level (h, w, c) features: what `stylized_features` takes."""
    return adain_statistics(features) if method == "adain" else wct_statistics(features, sqrt=sqrt)


def stylized_features(method: str, content: jax.Array, styles: Sequence[StyleStatistics],
                      blend: Sequence[float] | jax.Array, masks: jax.Array | None = None, *, sqrt: str = "eigh",
                      **options) -> jax.Array:
    """One level's content features given the styles' statistics (alpha 1; the cascade blends by alpha after).

    Several styles blended: the weighted sum of the content transformed to each style. That is WCT's style
    interpolation (Li et al. 2017, sec. 4.2: blending the coloured features, each of which has its style's
    covariance, rather than the covariances, which would ask for one more square root and no longer be a
    mix of the paintings' looks); for AdaIN, whose output is linear in the style's mean and standard
    deviation, it is exactly the transform to the blended mean and standard deviation (Huang & Belongie
    2017, sec. 7's interpolation).

    Args:
      method: "wct" or "adain".
      content: (h, w, c) features.
      styles: each style image's `level_statistics` at the same level.
      blend: (len(styles),) weights summing to 1; unused with `masks`.
      masks: (len(styles), h, w, 1) region weights at the features' size (`by_regions`), or None.
      sqrt: WCT's square roots, "eigh" or "newton_schulz".
      **options: passed to the transform (e.g. `eps`).

    Returns:
      (h, w, c) float32 features.
    """
    transform = adain_to if method == "adain" else functools.partial(wct_to, sqrt=sqrt)
    x = content.astype(jnp.float32)
    if masks is not None:
        return by_regions(transform, x, styles, masks, 1.0, **options)
    if len(styles) == 1:
        return transform(x, styles[0], 1.0, **options)
    return sum(blend[i] * transform(x, style, 1.0, **options) for i, style in enumerate(styles))


def color_statistics(styles: Sequence[jax.Array], *, sqrt: str = "eigh") -> tuple[StyleStatistics, ...]:
    """Each painting's colour mean and covariance in CIELAB, as WCT's statistics: what
    `toward_painting_colors` moves an image's colours to."""
    return tuple(level_statistics("wct", color.rgb_to_lab(s.astype(jnp.float32)), sqrt=sqrt) for s in styles)


def toward_painting_colors(image: jax.Array, styles: Sequence[jax.Array], strength: float | jax.Array,
                           blend: Sequence[float] | jax.Array, masks: jax.Array | None = None, *,
                           sqrt: str = "eigh", colors: tuple[StyleStatistics, ...] | None = None) -> jax.Array:
    """The image's colours moved toward the paintings': `strength` of the way, in sRGB.

    The move is WCT on pixels in CIELAB: the image's colour mean and covariance to each painting's (Gatys et
    al. 2017's colour matching), several paintings blended or given their regions as `stylized_features`
    does for features. AdaIN's statistics are per channel: they leave the colours' correlations to the
    decoder, which paints hues the painting lacks (docs/transfer.md measures what this step does).

    Args:
      image: (h, w, 3) in [0, 1].
      styles: (h_i, w_i, 3) paintings in [0, 1].
      strength: 0 returns the image, 1 the image with the paintings' colour moments.
      blend: (len(styles),) weights summing to 1; unused with `masks`.
      masks: (len(styles), h, w) region weights at the image's size, or None.
      sqrt: the matrix square roots, "eigh" or "newton_schulz" (an ONNX export's).
      colors: `color_statistics(styles, sqrt=sqrt)`, computed once for many images (None: here).

    Returns:
      (h, w, 3) float32 in [0, 1].
    """
    if colors is None:
        colors = color_statistics(styles, sqrt=sqrt)
    lab = stylized_features("wct", color.rgb_to_lab(image), colors, blend,
                            None if masks is None else masks[..., None], sqrt=sqrt)
    return strength * color.lab_to_rgb(lab) + (1.0 - strength) * image


def pad_to_multiple(image: jax.Array, multiple: int) -> jax.Array:
    """(h, w, c) reflected at the bottom and right to sides that are multiples of `multiple` (each side must
    exceed the padding it needs)."""
    h, w = image.shape[:2]
    # (multiple - h % multiple) % multiple, not -h % multiple: a symbolic size constrained by "mod(h, 8) == 0"
    # (an ONNX export's) simplifies only where `mod(h, 8)` itself appears.
    pad = ((0, (multiple - h % multiple) % multiple), (0, (multiple - w % multiple) % multiple), (0, 0))
    return jnp.pad(image, pad, mode="reflect") if pad[0][1] or pad[1][1] else image
