"""The objective of content and style images: style Gram targets, content targets, loss weights.

`prepare` gives one image's objective and arguments; `prepare_shared` what a batch shares (the style
targets), `with_content` each image's content targets and regions. Computing targets runs VGG: nothing
here reads files.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from stylejax.config import MIN_SIDE, StyleConfig, normalised
from stylejax.errors import StyleJaxError
from stylejax.io import images
from stylejax.io.images import working_shape
from stylejax.nn.vgg import VGG, check_layers, extract_features
from stylejax.objective import losses
from stylejax.objective.crops import grams_by_crops
from stylejax.objective.gatys import LossWeights, Objective, ObjectiveArgs, Targets


@jax.jit
def _blend_grams(grams: Sequence[dict[str, jax.Array]], blend: jax.Array) -> dict[str, jax.Array]:
    return {name: sum(b * g[name] for g, b in zip(grams, blend, strict=True)) for name in grams[0]}


def _style_grams(graphdef: nnx.GraphDef, state: nnx.State, style: np.ndarray, layers: tuple[str, ...],
                 tile: int | None, mask: np.ndarray | None = None) -> dict[str, jax.Array]:
    """{layer: (c, c)} Gram matrices of a style image, or its guided Grams where `mask` (h, w) picks part of it."""
    if tile is not None and max(style.shape[:2]) > tile:
        if mask is not None:
            raise StyleJaxError("style masks do not work with tiles yet: drop `tile`")
        return grams_by_crops(graphdef, state, style, layers, tile)
    features = extract_features(graphdef, state, style[None], layers)
    if mask is None:
        return {name: losses.gram(f[0]) for name, f in features.items()}
    pooled = losses.pooled_masks(images.resize_mask(mask, style.shape[:2])[None], layers)
    return {name: losses.guided_gram(f[0], pooled[name])[0] for name, f in features.items()}


@functools.partial(jax.jit, static_argnums=0)
def terms_of(objective: Objective, image: jax.Array, args: ObjectiveArgs) -> dict[str, jax.Array]:
    """The weighted loss terms of one image (h, w, 3), compiled once per objective and shape."""
    return objective.terms(image, args)


def prepare(vgg: VGG, content: np.ndarray | jax.Array, styles: Sequence[np.ndarray], config: StyleConfig, *,
            masks: np.ndarray | jax.Array | None = None,
            style_masks: Sequence[np.ndarray | None] | None = None) -> tuple[Objective, ObjectiveArgs, jax.Array]:
    """The objective and its arguments for `content` (already resized) and the style images (any size).

    With `masks` (r, h, w) in [0, 1], one per style image (any size of the content's aspect ratio),
    style i applies where mask i is on (`style_masks`: see `prepare_shared`). Useful on its own to
    evaluate or optimise the Gatys loss with your own loop.

    Args:
      vgg: a VGG with weights, e.g. `stylejax.load_vgg()`.
      content: (h, w, 3) in [0, 1], already at the size to optimise.
      styles: (h, w, 3) style images in [0, 1], any size: each is resized to `config.size * config.style_scale`.
      config: the layers, loss weights, style blend, style scale and precision to use.
      masks: (r, h, w) in [0, 1], one region mask per style image, or None (styles blended everywhere).
      style_masks: with `masks`, per style a mask of the part of the painting to take, or None.

    Returns:
      (objective, args, content as a jax array): `objective(image, args)` is the scalar loss.

    Raises:
      StyleJaxError: an unknown layer, or a `style_blend` or `style_masks` without one entry per style.
    """
    if masks is not None and style_masks is None:
        style_masks = [None] * len(styles)
    objective, shared = prepare_shared(vgg, styles, config, style_masks=style_masks)
    content = jnp.asarray(content)
    args = with_content(objective, shared, content[None], None if masks is None else jnp.asarray(masks)[None])
    return objective, _single(args), content


def _single(args: ObjectiveArgs) -> ObjectiveArgs:
    """Batched per-image targets (row 0 of each) as one image's."""
    targets = args.targets
    regions = None if targets.regions is None else {n: m[0] for n, m in targets.regions.items()}
    return args._replace(targets=targets._replace(content={n: f[0] for n, f in targets.content.items()},
                                                  regions=regions))


def loss_weights(config: StyleConfig) -> LossWeights:
    """The content, per-layer style and TV weights of `config` as f32 scalars (no temporal weight)."""
    layer_weights = normalised(config.style_layer_weights, len(config.style_layers))
    return LossWeights(
        content={n: jnp.float32(config.content_weight / len(config.content_layers)) for n in config.content_layers},
        style={n: jnp.float32(config.style_weight * w)
               for n, w in zip(config.style_layers, layer_weights, strict=True)},
        tv=jnp.float32(config.tv_weight),
    )


def prepare_shared(vgg: VGG, styles: Sequence[np.ndarray], config: StyleConfig, *,
                   style_tile: int | None = None,
                   style_masks: Sequence[np.ndarray | None] | None = None) -> tuple[Objective, ObjectiveArgs]:
    """What every content image shares: the objective, weights, style targets and loss weights.

    The returned args have no content targets yet (`with_content` adds them). With `style_tile`, a
    style image larger than that is run through VGG in crops of about that many px
    (`crops.grams_by_crops`), so a tiled run never holds a full-size forward pass.
    `style_masks` None blends the styles' Grams into one target; a list (one entry per style: a mask
    (h, w) of the part of that painting to take from, or None for all of it) keeps one target per
    style, {layer: (r, c, c)}, for images whose regions each take one style.
    """
    check_layers(vgg.arch, config.content_layers + config.style_layers)
    graphdef, state = nnx.split(vgg)
    style_size = max(MIN_SIDE, round(config.size * config.style_scale))
    resized_styles = [images.resize(s, working_shape(s.shape[:2], style_size, "style image")) for s in styles]
    layers = tuple(config.style_layers)
    objective = Objective(graphdef, tuple(config.content_layers), layers, remat=bool(config.remat),
                          precision=resolve_precision(config.precision))
    if style_masks is None:
        blend = normalised(config.style_blend, len(styles))
        if len(blend) != len(styles):
            raise StyleJaxError(f"style_blend has {len(blend)} weights for {len(styles)} style images: "
                                "give one per style")
        style_grams = [_style_grams(graphdef, state, s, layers, style_tile) for s in resized_styles]
        style_targets = _blend_grams(style_grams, jnp.asarray(blend))
    else:
        if len(style_masks) != len(styles):
            raise StyleJaxError(f"{len(style_masks)} style masks for {len(styles)} style images: give one per style")
        grams = [_style_grams(graphdef, state, s, layers, style_tile, m)
                 for s, m in zip(resized_styles, style_masks, strict=True)]
        style_targets = {name: jnp.stack([g[name] for g in grams]) for name in layers}
    targets = Targets(content={}, style=style_targets)
    return objective, ObjectiveArgs(state, vgg.backward_kernels(), targets, loss_weights(config))


def with_content(objective: Objective, shared: ObjectiveArgs, contents: jax.Array,
                 masks: jax.Array | None = None) -> ObjectiveArgs:
    """Adds the content targets of contents (b, h, w, 3), batched: {layer: (b, 1, h', w', c)}, and with
    `masks` (b, r, h'', w'') each image's regions, resized to its shape and pooled to each style layer.

    The leading axis is the one `vmap` maps over; one image's targets are row i, shaped as the
    objective expects for a single image.
    """
    features = extract_features(objective.graphdef, shared.vgg, contents, objective.content_layers)
    regions = None
    if masks is not None:
        target = shared.targets.style[objective.style_layers[0]]
        if target.ndim != 3 or target.shape[0] != masks.shape[1]:
            raise StyleJaxError(f"{masks.shape[1]} masks for {target.shape[0] if target.ndim == 3 else 'blended'} "
                                "style targets: give one mask per style (prepare_shared's style_masks)")
        resized = jax.vmap(lambda m: images.resize_mask(m, contents.shape[1:3]))(masks)
        regions = losses.pooled_masks(resized, objective.style_layers)
    return shared._replace(targets=shared.targets._replace(content={n: f[:, None] for n, f in features.items()},
                                                           regions=regions))


def resolve_precision(precision: str, platform: str | None = None) -> str:
    """"auto" -> "bf16" on GPU/TPU (many times their f32 arithmetic), "f32" on CPU; others unchanged.

    On this project's 2-core CPU bfloat16 convolutions ran no faster than f32 (docs/accelerators.md).
    `platform` defaults to JAX's default backend.
    """
    if precision != "auto":
        return precision
    return "f32" if (platform or jax.default_backend()) == "cpu" else "bf16"
