"""Coarse to fine: the scales a run optimises at, and the state carried from one to the next.

A run starts at `min_size` and grows by `scale_factor` up to `size` (Gatys et al. 2017; crowsonkb's
style-transfer-pytorch). The coarse scales are cheap and lay down the painting's large structures, which
VGG's ~200 px receptive field cannot see at print size; each later scale starts from the previous result
upsampled and refines texture. stylize, stylize_batch and bulk jobs all drive their loops with `plan_scales`.
"""

from __future__ import annotations

import dataclasses
import functools

import jax
import jax.numpy as jnp

from stylejax.config import DEFAULT_MIN_SIZE, StyleConfig
from stylejax.optim.loop import RunState


@dataclasses.dataclass(frozen=True)
class Scale:
    """One scale of a run: its longest side, its step budget, and where it stands.

    Attributes:
      size: the longest side of the image at this scale, in pixels.
      steps: optimisation steps at this scale.
      index: the scale's position in the run, 0 for the coarsest.
      count: how many scales the run has.
    """

    size: int
    steps: int
    index: int
    count: int

    @property
    def label(self) -> str:
        """What a progress bar shows, e.g. '256 px 2/4'."""
        return f"{self.size} px {self.index + 1}/{self.count}"

    @property
    def last(self) -> bool:
        """Whether this is the run's final (full-size) scale."""
        return self.index == self.count - 1


def scale_sizes(size: int, min_size: int, factor: float) -> tuple[int, ...]:
    """Longest sides from `size` down by `factor` while at least `min_size`, smallest first."""
    sizes = []
    while (side := round(size / factor ** len(sizes))) >= min_size:
        sizes.append(side)
    return tuple(sorted(set(sizes)))


def plan_scales(config: StyleConfig) -> tuple[Scale, ...]:
    """The scales `config` runs, coarsest first. `min_size` None starts at DEFAULT_MIN_SIZE (or `size`).

    Args:
      config: the settings whose `size`, `min_size`, `scale_factor` and `steps` make the scales.

    Returns:
      One `Scale` per size from the smallest to `config.size`, each with its steps (the last number of
      `config.steps` repeating).
    """
    min_size = config.min_size if config.min_size is not None else min(DEFAULT_MIN_SIZE, config.size)
    sizes = scale_sizes(config.size, min_size, config.scale_factor)
    steps = config.steps if isinstance(config.steps, tuple) else (config.steps,)
    return tuple(Scale(side, steps[min(i, len(steps) - 1)], i, len(sizes)) for i, side in enumerate(sizes))


def total_steps(config: StyleConfig) -> int:
    """Steps over every scale."""
    return sum(scale.steps for scale in plan_scales(config))


def at_scale(config: StyleConfig, scale: Scale) -> StyleConfig:
    """The one-scale config of `scale`: its size and step budget, style sized relative to it."""
    return config.replace(size=scale.size, steps=scale.steps, min_size=scale.size, tile=None)


def is_per_pixel(leaf, image_shape: tuple[int, ...]) -> bool:
    """Whether a leaf of an optimizer state holds a value per pixel: shaped like the image it optimises
    (Adam's moments, SGD's momentum). `image_shape`: (h, w, 3), or (b, h, w, 3) for a batch's state."""
    return tuple(leaf.shape) == tuple(image_shape)


def movable(opt_state, image_shape: tuple[int, ...]) -> bool:
    """Whether an optimizer state is per-pixel arrays (`is_per_pixel`) and integer counters only.

    Such a state (Adam's moments and step count, SGD's momentum) can follow the pixels to another size
    or into another video frame. Any other state (L-BFGS's history of steps and gradient changes, a line
    search's value) describes the problem it was built on. Works on one state or a batch (leading axis).
    """
    return all(is_per_pixel(leaf, image_shape)
               or (leaf.shape == image_shape[:-3] and jnp.issubdtype(leaf.dtype, jnp.integer))
               for leaf in jax.tree.leaves(opt_state))


def carry_state(previous: RunState, fresh: RunState) -> RunState:
    """`fresh` (initialised at the next scale) with what carries over from `previous`.

    A `movable` optimizer state is resized to the new shape, bilinearly so second moments stay
    non-negative, and its counters are kept (at one shape it is taken over as it is). Any other state
    cannot be resized meaningfully: the optimizer restarts. Works on one state or a batch of them.
    """
    old_shape, new_shape = previous.image.shape, fresh.image.shape
    if (jax.tree.structure(previous.opt_state) != jax.tree.structure(fresh.opt_state)
            or not movable(previous.opt_state, old_shape)):
        return fresh
    carried = jax.tree.map(lambda old, new: jax.image.resize(old, new_shape, "linear").astype(new.dtype)
                           if is_per_pixel(old, old_shape) else old, previous.opt_state, fresh.opt_state)
    return fresh._replace(opt_state=carried)


@functools.partial(jax.jit, static_argnums=1)
def upsample(image: jax.Array, shape: tuple[int, int]) -> jax.Array:
    """A result (..., h, w, 3) resized to the next scale's (h', w'), as the start of its optimisation."""
    return jnp.clip(jax.image.resize(image, (*image.shape[:-3], *shape, 3), "cubic"), 0.0, 1.0)
