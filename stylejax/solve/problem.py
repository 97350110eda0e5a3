"""One image's problem around the optimisation: where its pixels start, when its loss has diverged, and
the output it becomes (back to its own aspect ratio, with its colours kept if asked)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from stylejax.config import StyleConfig
from stylejax.errors import LossDivergedError
from stylejax.io import images
from stylejax.io.images import ImageLike, as_image
from stylejax.objective import color


def check_finite(losses: np.ndarray, done: int) -> None:
    """Raises LossDivergedError naming the first step whose loss is not finite. losses: (..., steps)."""
    bad = ~np.isfinite(losses).reshape(-1, losses.shape[-1]).all(axis=0)
    if bad.any():
        raise LossDivergedError(f"the loss diverged (not finite at step {done + int(np.argmax(bad))}): lower "
                            "`learning_rate` or `style_weight`")


def initial_image(config: StyleConfig, content: jax.Array, init_image: ImageLike | None = None) -> jax.Array:
    """The starting pixels: the content, seeded uniform noise, or a given image resized to the content's shape."""
    if init_image is None and config.init not in ("content", "noise"):
        init_image = config.init
    if init_image is not None:
        return images.resize(as_image(init_image, "init image"), content.shape[:2])
    if config.init == "noise":
        return jax.random.uniform(jax.random.key(config.seed), content.shape, jnp.float32)
    return content


def finish(image: jax.Array, content: np.ndarray | jax.Array, config: StyleConfig) -> np.ndarray:
    """The output image; with original colours, the content (any size) lends its colours."""
    if config.original_colors:
        image = color.keep_colors(image, images.resize(content, image.shape[:2]))
    return np.asarray(image, np.float32)


def finish_image(image: np.ndarray, content: np.ndarray, config: StyleConfig) -> np.ndarray:
    """Undo the bucketing: the optimised image resized to the content's own aspect ratio, colours applied."""
    shape = images.fit_size(content.shape[:2], config.size)
    return finish(images.resize(np.asarray(image), shape), content, config)
