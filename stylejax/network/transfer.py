"""Any painting in one pass: the VGG encoder and trained decoders loaded once (`OnePassTransfer`,
`load_transfer`), and `transfer`, a plain JAX function of a photo and a painting for `jit` and `vmap`.

The cascade itself is `stylejax.autoencoder.cascade` (pure); this module reads the weights and, for
`OnePassTransfer.__call__`, the images, masks and sizes a user gives.
"""

from __future__ import annotations

import dataclasses
import functools
import os
from collections.abc import Sequence
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from stylejax.autoencoder.cascade import Cascade, CascadeWeights
from stylejax.autoencoder.reconstruction import ENCODER_POOLING
from stylejax.autoencoder.settings import TransferSettings, deepest_first
from stylejax.errors import StyleJaxError
from stylejax.io import images
from stylejax.io.images import ImageLike, as_image, style_list
from stylejax.io.masks import region_masks
from stylejax.network.decoder_files import adain_levels, load_decoders
from stylejax.nn.weights import load_vgg


@dataclasses.dataclass(frozen=True, eq=False)
class OnePassTransfer:
    """The VGG encoder and the decoders of a folder, loaded once: stylizes any photo with any painting.

    `transfer(photo, painting)` takes images (paths or arrays) at any size and returns a numpy image;
    `transfer.run(content, styles)` is the pure function of arrays underneath, for `jax.jit` and `jax.vmap`.

    Attributes:
      encoder: the VGG's structure (max pooling, as the decoders were trained on).
      encoder_weights: the VGG's weights.
      decoders: {level: (structure, weights)} of every decoder loaded, deepest first: the reconstruction
        decoders, which WCT runs.
      adain_decoders: the same levels' decoders for AdaIN: a level's AdaIN-trained decoder where the folder
        has one (`decoder_files`), its reconstruction decoder elsewhere.
      folder: the decoders' folder.

    Example:
      >>> transfer = stylejax.load_transfer()
      >>> out = transfer("photo.jpg", "starry_night.jpg", settings=stylejax.TransferSettings(size=512, alpha=0.8))
      >>> stylejax.save_image(out, "out.png")
    """

    encoder: nnx.GraphDef
    encoder_weights: nnx.State
    decoders: dict[str, tuple[nnx.GraphDef, nnx.State]]
    adain_decoders: dict[str, tuple[nnx.GraphDef, nnx.State]]
    folder: Path | None = None

    @property
    def levels(self) -> tuple[str, ...]:
        """The levels this transfer has decoders for, deepest first."""
        return tuple(self.decoders)

    def cascade(self, settings: TransferSettings) -> tuple[Cascade, CascadeWeights]:
        """The pure cascade for `settings` (its levels among these decoders) and the arrays it takes.

        Raises:
          StyleJaxError: `settings.levels` asks for a level without a decoder.
        """
        levels = settings.resolved_levels(self.levels)
        decoders = [(self.adain_decoders if settings.method == "adain" else self.decoders)[level] for level in levels]
        cascade = Cascade(self.encoder, tuple(graphdef for graphdef, _ in decoders), levels,
                          method=settings.method, sqrt=settings.sqrt, original_colors=settings.original_colors,
                          painting_colors=float(settings.painting_colors))
        return cascade, CascadeWeights(self.encoder_weights, tuple(state for _, state in decoders))

    def run(self, content: jax.Array, styles: Sequence[jax.Array], settings: TransferSettings | None = None, *,
            alpha: float | jax.Array | None = None, masks: jax.Array | None = None) -> jax.Array:
        """One photo stylized, at its own size: a pure function of arrays, for `jax.jit` and `jax.vmap`.

        Args:
          content: (h, w, 3) photo in [0, 1].
          styles: (h_i, w_i, 3) style images in [0, 1], each its own size.
          settings: method, alpha, levels, blend, colours (default `TransferSettings()`); its sizes are unused.
          alpha: a style strength that overrides `settings.alpha`, e.g. an array under `jit` (unchecked).
          masks: (len(styles), h, w) region weights in [0, 1] at the photo's size: region i takes style i.

        Returns:
          (h, w, 3) float32 in [0, 1].

        Raises:
          StyleJaxError: a shape the cascade cannot take, a blend without one weight per style, missing levels.
        """
        settings = settings if settings is not None else TransferSettings()
        styles = tuple(styles)
        if not styles:
            raise StyleJaxError("`style`: give at least one style image")
        cascade, weights = self.cascade(settings)
        blend = jnp.asarray(settings.blend_weights(len(styles)), jnp.float32)
        if masks is not None and settings.style_blend is not None:
            raise StyleJaxError("`style_blend` mixes the styles everywhere and `masks` give each region its own: "
                                "give one or the other")
        alpha = settings.alpha if alpha is None else alpha
        return apply_cascade(cascade, weights, content, styles, alpha, blend, masks=masks)

    def __call__(self, content: ImageLike, style: ImageLike | Sequence[ImageLike],
                 masks: Sequence[ImageLike] | None = None, *, settings: TransferSettings | None = None) -> np.ndarray:
        """A photo stylized: resized to `settings.size`, the styles to `settings.style_size`, one pass.

        Args:
          content: a path or an (h, w, 3) array (float in [0, 1] or uint8).
          style: one style image (path or array) or several, blended by `settings.style_blend`.
          masks: one region mask per style (paths or arrays of the photo's aspect ratio, white where the
            style goes; resized to the photo), or None.
          settings: the transfer's settings (default `TransferSettings()`).

        Returns:
          (h', w', 3) float32 in [0, 1]: the photo's size, or its aspect ratio at `settings.size`.

        Raises:
          StyleJaxError: an unreadable image or mask, or any input `run` refuses.
        """
        settings = settings if settings is not None else TransferSettings()
        photo = as_image(content, "content image")
        if settings.size is not None:
            photo = images.resize(photo, images.fit_size(photo.shape[:2], settings.size))
        style_side = settings.style_size if settings.style_size is not None else max(photo.shape[:2])
        styles = [images.resize(s, images.fit_size(s.shape[:2], style_side)) for s in style_list(style)]
        regions = None if masks is None else region_masks(masks, len(styles), photo.shape[:2])
        out = self.run(jnp.asarray(photo), styles, settings, masks=None if regions is None else jnp.asarray(regions))
        return np.asarray(out, np.float32)


def load_transfer(decoders: str | os.PathLike | None = None, *, levels: Sequence[str] | None = None
                  ) -> OnePassTransfer:
    """The encoder and the decoders of a folder (default: the ones stylejax ships), ready to stylize.

    Args:
      decoders: a decoders folder (written by `stylejax train-decoders`), or None for the shipped ones.
      levels: the levels to load (default: every level the folder has).

    Returns:
      An `OnePassTransfer`.

    Raises:
      StyleJaxError: the folder or a level is missing or damaged.

    Example:
      >>> transfer = stylejax.load_transfer("my-decoders")
      >>> out = transfer(photo, [sky, sea], settings=stylejax.TransferSettings(style_blend=(0.7, 0.3)))
    """
    loaded = load_decoders(decoders, None if levels is None else tuple(levels))
    # AdaIN runs a level's AdaIN-trained decoder where it has one: only those are read a second time.
    adain = [level for level in adain_levels(decoders) if level in loaded]
    adain_loaded = loaded | (load_decoders(decoders, tuple(adain), objective="adain") if adain else {})
    arch = next(iter(loaded.values())).arch
    encoder, encoder_weights = nnx.split(load_vgg(arch, pooling=ENCODER_POOLING))
    return OnePassTransfer(encoder, encoder_weights,
                           {level: nnx.split(loaded[level]) for level in deepest_first(loaded)},
                           {level: nnx.split(adain_loaded[level]) for level in deepest_first(adain_loaded)},
                           None if decoders is None else Path(decoders))


@functools.lru_cache(maxsize=4)
def cached_transfer(decoders: str | None = None) -> OnePassTransfer:
    """`load_transfer(decoders)` read once per folder (a resolved path, or None for the shipped decoders)."""
    # The first call may come inside a user's `jit`: the weights must be arrays, not tracers of that trace.
    with jax.ensure_compile_time_eval():
        return load_transfer(decoders)


def transfer(content: jax.Array, style: jax.Array | Sequence[jax.Array], *, method: str = "adain",
             alpha: float | jax.Array | None = None, levels: Sequence[str] | None = None, sqrt: str = "eigh",
             style_blend: Sequence[float] | None = None, masks: jax.Array | None = None,
             original_colors: bool = False, painting_colors: float | None = None,
             decoders: str | os.PathLike | None = None) -> jax.Array:
    """A photo stylized with any painting in one pass: a plain JAX function, for `jax.jit` and `jax.vmap`.

    The encoder and decoders are read once per folder and cached; the arrays in are the photo and the
    painting at the sizes they are stylized at (no resizing: see `OnePassTransfer` for images of any size).

    Args:
      content: (h, w, 3) photo in [0, 1] (`jax.vmap` for a batch); the short side at least twice the
        deepest level's stride (16 px at relu4_1).
      style: one (h', w', 3) painting in [0, 1] of its own size, or a sequence of them.
      method: "adain" or "wct" (`TransferSettings`).
      alpha: style strength in [0, 1] (None: the method's default, `DEFAULT_ALPHA`); a jax array (e.g. one
        per image under `vmap`) is used unchecked.
      levels: the levels to run, or None for the method's default among the decoders'.
      sqrt: WCT's matrix square roots, "eigh" or "newton_schulz".
      style_blend: one weight per style (None: equal).
      masks: (len(style), h, w) region weights at the photo's size: region i takes style i.
      original_colors: keep the photo's colours.
      painting_colors: in [0, 1], how far the colours move to the painting's (None: the method's default,
        `DEFAULT_PAINTING_COLORS`).
      decoders: a decoders folder, or None for the shipped ones.

    Returns:
      (h, w, 3) float32 in [0, 1].

    Raises:
      StyleJaxError: a bad setting or shape (the message names the parameter), missing or damaged decoders.

    Example:
      >>> out = stylejax.transfer(photo, painting, alpha=0.8)
      >>> batch = jax.jit(jax.vmap(lambda p: stylejax.transfer(p, painting, method="adain")))(photos)
    """
    traced = isinstance(alpha, jax.Array)
    settings = TransferSettings(method=method, alpha=None if traced else alpha,
                                levels=None if levels is None else tuple(levels), sqrt=sqrt,
                                style_blend=None if style_blend is None else tuple(style_blend),
                                original_colors=original_colors, painting_colors=painting_colors)
    styles = (style,) if isinstance(style, jax.Array | np.ndarray) else tuple(style)
    folder = None if decoders is None else str(Path(decoders).resolve())
    return cached_transfer(folder).run(content, styles, settings, alpha=alpha if traced else None, masks=masks)


@functools.partial(jax.jit, static_argnums=0)
def apply_cascade(cascade: Cascade, weights: CascadeWeights, content: jax.Array, styles: tuple[jax.Array, ...],
                  alpha: float | jax.Array, blend: jax.Array, *, masks: jax.Array | None = None) -> jax.Array:
    """`cascade(weights, content, styles, alpha, blend, masks)` compiled once per cascade and shapes (the
    weights are arguments, not constants of the program)."""
    # Under a user's `jit` the weights, and a painting closed over, are constants: without the barrier XLA
    # folds the painting's encoding at compile time, with another convolution, and the result differs.
    weights, styles = jax.lax.optimization_barrier((weights, styles))
    return cascade(weights, content, styles, alpha, blend, masks)
