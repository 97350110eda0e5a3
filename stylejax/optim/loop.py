"""Optimising pixels with optax: optimizers by name and the compiled optimisation loop. Pure.

The loop runs `length` steps per call inside one `lax.scan`; a call can run fewer (`remaining`: the
rest are skipped by a `lax.cond`, not recompiled), so any step count uses one compiled program.
Pixels are projected onto [0, 1] after every step. The state also keeps an exponential moving average
of the pixels (`averaged_image` reads it, bias-corrected): averaging iterates smooths an optimizer's noise.

Under `vmap` (a batch of images) every `lax.cond` predicate must stay unbatched: a batched predicate
turns the cond into a select whose operands, the VGG weights included, all get batched, and the
convolutions become per-image grouped convolutions (5x slower on CPU). Hence `remaining` is a shared
scalar, and the projection test is reduced over the batch axis (`axis_name`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax
import optax.tree_utils as otu


def project_pixels(image: jax.Array) -> jax.Array:
    """Pixels onto [0, 1]: the feasible set every step is projected onto."""
    return jnp.clip(image, 0.0, 1.0)


class RunState(NamedTuple):
    """The optimisation state of one image; `vmap` it for a batch.

    Attributes:
      image: (h, w, 3) float32 pixels in [0, 1].
      opt_state: the optax optimizer's state.
      step: int32, the steps taken.
      evaluations: int32, the loss-and-gradient evaluations used so far.
      average: (h, w, 3) float32, the moving average of the pixels, not yet bias-corrected
        (see `averaged_image`).
    """

    image: jax.Array  # (h, w, 3) float32 in [0, 1]
    opt_state: optax.OptState
    step: jax.Array  # int32: steps taken
    evaluations: jax.Array  # int32: loss-and-gradient evaluations used so far
    average: jax.Array  # (h, w, 3) float32: moving average of the pixels, not yet bias-corrected


Loss = Callable[[jax.Array, Any], jax.Array]


def _has_linesearch(opt_state: optax.OptState) -> bool:
    # A line search keeps the value and gradient at the current point in its state.
    return otu.tree_get(opt_state, "value") is not None


def init_state(loss: Loss, optimizer: optax.GradientTransformationExtraArgs, image: jax.Array,
               args: Any) -> RunState:
    """The state before step 0. A line search is primed with one evaluation, counted."""
    opt_state = optimizer.init(image)
    evaluations = jnp.zeros((), jnp.int32)
    if _has_linesearch(opt_state):
        value, grad = jax.value_and_grad(loss)(image, args)
        opt_state = otu.tree_set(opt_state, value=value, grad=grad)
        evaluations += 1
    return RunState(image, opt_state, jnp.zeros((), jnp.int32), evaluations, jnp.zeros_like(image))


def averaged_image(state: RunState, ema_decay: float | jax.Array) -> jax.Array:
    """The bias-corrected moving average of the pixels (the image itself before any step).

    With decay 0 it is the last iterate. Works on one state or a batch of them (leading axes).

    Args:
      state: one `RunState` or a batch of them.
      ema_decay: the decay the average was kept with (`StyleConfig.ema_decay`).

    Returns:
      (..., h, w, 3) float32 pixels.
    """
    steps = state.step.reshape(state.step.shape + (1, 1, 1))
    weight = 1.0 - jnp.power(jnp.float32(ema_decay), steps.astype(jnp.float32))  # Adam's bias correction
    return jnp.where(steps > 0, state.average / jnp.maximum(weight, 1e-12), state.image)


def _step(loss: Loss, optimizer: optax.GradientTransformationExtraArgs, state: RunState,
          args: Any, ema_decay: jax.Array, axis_name: str | None = None) -> tuple[RunState, jax.Array]:
    image, opt_state, step, evaluations, average = state
    linesearch = _has_linesearch(opt_state)
    if linesearch:
        # Read, don't recompute: under vmap value_and_grad_from_state's cond would always recompute.
        value, grad = otu.tree_get(opt_state, "value"), otu.tree_get(opt_state, "grad")
    else:
        value, grad = jax.value_and_grad(loss)(image, args)
        evaluations += 1
    updates, opt_state = optimizer.update(grad, opt_state, image, value=value, grad=grad,
                                          value_fn=loss, args=args)
    stepped = optax.apply_updates(image, updates)
    projected = project_pixels(stepped)
    if linesearch:
        evaluations += otu.tree_get(opt_state, "num_linesearch_steps")
        # The line search stored value and gradient at `stepped`; re-evaluate where projection moved it.
        # A line search that projects its trials itself returns x' - x, and x + (x' - x) can round
        # past 1 by an ulp: a move that small changes no figure, so it is not a move.
        moved = jnp.any(jnp.abs(projected - stepped) > 1e-6)
        # In a batch, re-evaluate every image if any moved (an unmoved one gets the same numbers back).
        any_moved = moved if axis_name is None else jax.lax.pmax(moved.astype(jnp.int32), axis_name) > 0
        new_value, new_grad = jax.lax.cond(
            any_moved, lambda: jax.value_and_grad(loss)(projected, args),
            lambda: (otu.tree_get(opt_state, "value"), otu.tree_get(opt_state, "grad")))
        opt_state = otu.tree_set(opt_state, value=new_value, grad=new_grad)
        evaluations += moved.astype(jnp.int32)
    average = ema_decay * average + (1.0 - ema_decay) * projected
    return RunState(projected, opt_state, step + 1, evaluations, average), value


def run_steps(loss: Loss, optimizer: optax.GradientTransformationExtraArgs, state: RunState,
              remaining: jax.Array, args: Any, length: int, *,
              axis_name: str | None = None, ema_decay: float | jax.Array = 0.0) -> tuple[RunState, jax.Array]:
    """min(length, remaining) steps. Returns the state and (length,) losses, NaN where skipped.

    losses[i] is the loss at the start of that step. `remaining` is a scalar shared by a whole batch;
    `axis_name` names the vmapped batch axis, if any; `ema_decay` (an argument, not compiled in) is the
    decay of the pixels' moving average. Not jitted: jit it, or vmap/shard_map it first.
    """
    ema_decay = jnp.asarray(ema_decay, jnp.float32)

    def body(state, i):
        return jax.lax.cond(i < remaining,
                            lambda s: _step(loss, optimizer, s, args, ema_decay, axis_name),
                            lambda s: (s, jnp.full((), jnp.nan, jnp.float32)), state)

    return jax.lax.scan(body, state, jnp.arange(length))


init_state_jit = jax.jit(init_state, static_argnums=(0, 1))
run_steps_jit = jax.jit(run_steps, static_argnums=(0, 1, 5), static_argnames=("axis_name",), donate_argnums=(2,))
