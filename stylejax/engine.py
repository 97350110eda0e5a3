"""The engine under every driver: the objective of a content image and its styles, the start, one scale's run.

`image_schedule.stylize` (one image), `batch_schedule` (batches) and `tiles` build on these pieces.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

from . import color, images, losses, memory
from .config import MIN_SIDE, StyleConfig, normalised
from .crops import grams_by_crops
from .errors import StyleJaxError
from .objective import LossWeights, Objective, ObjectiveArgs, Targets
from .optimize import RunState, averaged_image, init_state_jit, make_optimizer, run_steps_jit
from .vgg import VGG, check_layers, extract_features

ImageLike = str | os.PathLike | np.ndarray | jax.Array
# Called between compiled chunks with (steps done, current image (h, w, 3), loss history so far).
Callback = Callable[[int, np.ndarray, np.ndarray], None]


def as_image(source: ImageLike, what: str) -> np.ndarray:
    """A path or an array -> (h, w, 3) float32 in [0, 1]. uint8 arrays are scaled; gray is repeated."""
    if isinstance(source, (str, os.PathLike)):
        return images.load_image(source)
    array = np.asarray(source)
    if array.dtype == np.uint8:
        array = array.astype(np.float32) / 255.0
    if array.ndim == 2:
        array = np.repeat(array[..., None], 3, axis=-1)
    if array.ndim != 3 or array.shape[-1] not in (3, 4):
        raise StyleJaxError(f"{what} must be (h, w, 3) RGB, got shape {array.shape}")
    array = np.asarray(array[..., :3], np.float32)
    if not np.all(np.isfinite(array)) or array.min() < 0 or array.max() > 1:
        raise StyleJaxError(f"{what} must hold finite values in [0, 1] (or be uint8)")
    return array


def check_finite(losses: np.ndarray, done: int) -> None:
    """Raises StyleJaxError naming the first step whose loss is not finite. losses: (..., steps)."""
    bad = ~np.isfinite(losses).reshape(-1, losses.shape[-1]).all(axis=0)
    if bad.any():
        raise StyleJaxError(f"the loss diverged (not finite at step {done + int(np.argmax(bad))}): lower the "
                            "learning rate (--learning-rate) or the style weight (--style-weight)")


def style_list(style: ImageLike | Sequence[ImageLike]) -> list[np.ndarray]:
    """One style image or several -> a non-empty list of (h, w, 3) float32 arrays."""
    styles = [style] if isinstance(style, (str, os.PathLike, np.ndarray, jax.Array)) else list(style)
    if not styles:
        raise StyleJaxError("give at least one style image")
    return [as_image(s, "style image") for s in styles]


def working_shape(shape: tuple[int, int], longest: int, what: str) -> tuple[int, int]:
    size = images.fit_size(shape, longest)
    if min(size) < MIN_SIDE or min(shape) < MIN_SIDE:  # upscaling a thumbnail invents no detail either
        raise StyleJaxError(f"{what} is too small: {shape[1]}x{shape[0]} becomes {size[1]}x{size[0]}, and VGG needs "
                            f">= {MIN_SIDE} px on the short side: use a larger image or a larger size")
    return size


@jax.jit
def _blend_grams(grams: Sequence[dict[str, jax.Array]], blend: jax.Array) -> dict[str, jax.Array]:
    return {name: sum(b * g[name] for g, b in zip(grams, blend, strict=True)) for name in grams[0]}


def _style_grams(graphdef: nnx.GraphDef, state: nnx.State, style: np.ndarray, layers: tuple[str, ...],
                 tile: int | None) -> dict[str, jax.Array]:
    if tile is not None and max(style.shape[:2]) > tile:
        return grams_by_crops(graphdef, state, style, layers, tile)
    return {name: losses.gram(f[0]) for name, f in extract_features(graphdef, state, style[None], layers).items()}


@functools.partial(jax.jit, static_argnums=0)
def terms_of(objective: Objective, image: jax.Array, args: ObjectiveArgs) -> dict[str, jax.Array]:
    """The weighted loss terms of one image (h, w, 3), compiled once per objective and shape."""
    return objective.terms(image, args)


def prepare(vgg: VGG, content: np.ndarray | jax.Array, styles: Sequence[np.ndarray], config: StyleConfig
            ) -> tuple[Objective, ObjectiveArgs, jax.Array]:
    """The objective and its arguments for `content` (already resized) and the style images (any size).

    Returns (objective, args, content as a jax array). Useful on its own to evaluate or optimise the
    Gatys loss with your own loop.
    """
    objective, shared = prepare_shared(vgg, styles, config)
    content = jnp.asarray(content)
    args = with_content(objective, shared, content[None])
    single = {name: f[0] for name, f in args.targets.content.items()}
    return objective, args._replace(targets=args.targets._replace(content=single)), content


def prepare_shared(vgg: VGG, styles: Sequence[np.ndarray], config: StyleConfig, *,
                   style_tile: int | None = None) -> tuple[Objective, ObjectiveArgs]:
    """What every content image shares: the objective, weights, style targets and loss weights.

    The returned args have no content targets yet (`with_content` adds them). With `style_tile`, a
    style image larger than that is run through VGG in crops of about that many px
    (`crops.grams_by_crops`), so a tiled run never holds a full-size forward pass.
    """
    check_layers(vgg.arch, config.content_layers + config.style_layers)
    graphdef, state = nnx.split(vgg)
    blend = normalised(config.style_blend, len(styles))
    if len(blend) != len(styles):
        raise StyleJaxError(f"style_blend has {len(blend)} weights for {len(styles)} style images: give one per style")
    style_size = max(MIN_SIDE, round(config.size * config.style_scale))
    resized_styles = [images.resize(s, working_shape(s.shape[:2], style_size, "style image")) for s in styles]
    style_grams = [_style_grams(graphdef, state, s, tuple(config.style_layers), style_tile) for s in resized_styles]
    layer_weights = normalised(config.style_layer_weights, len(config.style_layers))
    weights = LossWeights(
        content={n: jnp.float32(config.content_weight / len(config.content_layers)) for n in config.content_layers},
        style={n: jnp.float32(config.style_weight * w)
               for n, w in zip(config.style_layers, layer_weights, strict=True)},
        tv=jnp.float32(config.tv_weight),
    )
    objective = Objective(graphdef, tuple(config.content_layers), tuple(config.style_layers), remat=bool(config.remat))
    targets = Targets(content={}, style=_blend_grams(style_grams, jnp.asarray(blend)))
    return objective, ObjectiveArgs(state, vgg.backward_kernels(), targets, weights)


def with_content(objective: Objective, shared: ObjectiveArgs, contents: jax.Array) -> ObjectiveArgs:
    """Adds the content targets of contents (b, h, w, 3), batched: {layer: (b, 1, h', w', c)}.

    The leading axis is the one `vmap` maps over; one image's targets are row i, shaped as the
    objective expects for a single image.
    """
    features = extract_features(objective.graphdef, shared.vgg, contents, objective.content_layers)
    return shared._replace(targets=shared.targets._replace(content={n: f[:, None] for n, f in features.items()}))


def initial_image(config: StyleConfig, content: jax.Array, init_image: ImageLike | None = None) -> jax.Array:
    """The starting pixels: the content, seeded uniform noise, or a given image resized to the content's shape."""
    if init_image is None and config.init not in ("content", "noise"):
        init_image = config.init
    if init_image is not None:
        return images.resize(as_image(init_image, "init image"), content.shape[:2])
    if config.init == "noise":
        return jax.random.uniform(jax.random.key(config.seed), content.shape, jnp.float32)
    return content


def resolve_optimizer(config: StyleConfig) -> optax.GradientTransformationExtraArgs:
    """The config's optimizer; the same object for the same settings, so programs are reused."""
    if isinstance(config.optimizer, str):
        return make_optimizer(config.optimizer, config.learning_rate)
    return _with_extra_args(config.optimizer)


@functools.lru_cache(maxsize=32)
def _with_extra_args(optimizer: optax.GradientTransformation) -> optax.GradientTransformationExtraArgs:
    return optax.with_extra_args_support(optimizer)


def step_bytes(vgg: VGG, styles: Sequence[np.ndarray], config: StyleConfig, shape: tuple[int, int]) -> int:
    """Bytes of memory optimising an image of `shape` needs, from XLA's analysis of the compiled chunk.

    Compiled with abstract arguments: nothing is computed. The run reuses the compiled program from
    JAX's cache, so the check costs no second compile at the largest scale.
    """
    built = {}

    def build(content):
        built["objective"], args, content = prepare(vgg, content, styles, config)
        return args, content

    args, content = jax.eval_shape(build, jax.ShapeDtypeStruct((*shape, 3), jnp.float32))
    objective, optimizer = built["objective"], resolve_optimizer(config)
    state = jax.eval_shape(lambda c, a: init_state_jit(objective, optimizer, c, a), content, args)
    compiled = run_steps_jit.lower(objective, optimizer, state, jnp.int32(1), args, config.chunk_steps, None,
                                   jnp.float32(config.ema_decay)).compile()
    return memory.compiled_bytes(compiled)


def run_scale(objective: Objective, optimizer: optax.GradientTransformationExtraArgs, state: RunState,
               args: ObjectiveArgs, config: StyleConfig,
               callback: Callable[[int, jax.Array, np.ndarray], None] | None = None, offset: int = 0
               ) -> tuple[RunState, np.ndarray]:
    """One scale's `config.steps` steps, chunk by chunk. Returns the state and this scale's loss history.

    `callback` gets (steps done in this scale, current output, this scale's history) after every chunk
    but the last. `offset` (steps before this scale) only numbers the steps in a divergence message.
    """
    history = []
    ema_decay = jnp.float32(config.ema_decay)
    while (done := sum(len(h) for h in history)) < config.steps:
        remaining = jnp.int32(config.steps - done)
        state, chunk = run_steps_jit(objective, optimizer, state, remaining, args, config.chunk_steps, None, ema_decay)
        chunk = np.asarray(chunk)[: config.steps - done]
        history.append(chunk)
        check_finite(chunk, offset + done)
        if callback is not None and done + len(chunk) < config.steps:
            callback(done + len(chunk), averaged_image(state, config.ema_decay), np.concatenate(history))
    return state, np.concatenate(history)


def finish(image: jax.Array, content: np.ndarray | jax.Array, config: StyleConfig) -> np.ndarray:
    """The output image; with original colours, the content (any size) lends its colours."""
    if config.original_colors:
        image = color.keep_colors(image, images.resize(content, image.shape[:2]))
    return np.asarray(image, np.float32)
