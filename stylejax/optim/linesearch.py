"""A backtracking (Armijo) line search whose control flow a lockstep batch can share. Pure.

optax's zoom line search branches on per-image conditions (`lax.cond`). Under `vmap` every such cond
runs both branches for every image, and a group waits for its slowest search. Backtracking has one
loop and no branches: try the step 1, then halve it until the loss falls enough (Armijo's
condition). Under `vmap` the loop runs until every image of the group has accepted a step; an image
that is done keeps its accepted point while the others try again, so the group's cost is its
largest trial count, and with L-BFGS's well-scaled directions that is almost always one.

Every trial evaluates value and gradient together: the first trial is nearly always accepted, and
then its gradient is the next step's, so no second pass is needed.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax


class BacktrackingInfo(NamedTuple):
    """Diagnostics of the last search (read by name with `optax.tree_utils.tree_get`)."""

    num_linesearch_steps: jax.Array  # int32: trials, each one value-and-gradient evaluation
    failed: jax.Array  # bool: no trial decreased the loss enough; the step was not taken


class BacktrackingState(NamedTuple):
    """value and grad at the current point, kept where optax's line searches keep them (read by name)."""

    value: jax.Array
    grad: Any
    info: BacktrackingInfo


def scale_by_backtracking(max_steps: int = 8, decrease_factor: float = 0.5, sufficient_decrease: float = 1e-4,
                          project: Callable[[Any], Any] | None = None) -> optax.GradientTransformationExtraArgs:
    """Scales an update direction by 1, `decrease_factor`, ... until Armijo's condition holds.

    Args:
      max_steps: trials before giving up; then the step is not taken (its value and gradient stay).
      decrease_factor: each trial's step over the one before.
      sufficient_decrease: Armijo's c1: accept x' when f(x') <= f(x) + c1 min(<grad, x' - x>, 0).
      project: onto the feasible set (pixels: clip to [0, 1]). Each trial is x' = project(x + s d)
        (backtracking along the projection arc), so the value and gradient kept are those of the
        point the optimizer really moves to, and no evaluation after the projection is needed.

    Returns:
      A transformation whose `update` takes `value`, `grad` (at `params`), `value_fn` and the extra
      keyword arguments `value_fn` needs; chain it after a direction (e.g. `optax.lbfgs(linesearch=...)`).
    """

    def init(params: optax.Params) -> BacktrackingState:
        return BacktrackingState(jnp.asarray(jnp.inf, jnp.float32), optax.tree.zeros_like(params),
                                 BacktrackingInfo(jnp.zeros((), jnp.int32), jnp.zeros((), bool)))

    def update(updates: optax.Updates, state: BacktrackingState, params: optax.Params, *, value: jax.Array,
               grad: optax.Updates, value_fn: Callable[..., jax.Array], **extra: Any
               ) -> tuple[optax.Updates, BacktrackingState]:
        value_and_grad = jax.value_and_grad(lambda p: value_fn(p, **extra))

        def trial(carry):
            k = carry[0]
            step = jnp.power(jnp.float32(decrease_factor), k.astype(jnp.float32))
            moved = optax.tree.add_scale(params, step, updates)
            if project is not None:
                moved = project(moved)
            displacement = optax.tree.sub(moved, params)
            slope = jnp.minimum(optax.tree.real(optax.tree.vdot(displacement, grad)), 0.0)
            new_value, new_grad = value_and_grad(moved)
            accepted = jnp.isfinite(new_value) & (new_value <= value + sufficient_decrease * slope)
            return k + 1, accepted, displacement, new_value, new_grad

        def searching(carry):
            k, accepted, *_ = carry
            return ~accepted & (k < max_steps)

        start = (jnp.zeros((), jnp.int32), jnp.zeros((), bool), optax.tree.zeros_like(updates), value, grad)
        trials, accepted, displacement, new_value, new_grad = jax.lax.while_loop(searching, trial, start)
        # Not accepted: stay put, with the value and gradient of where we are.
        keep = functools.partial(jnp.where, accepted)
        displacement = jax.tree.map(lambda d: keep(d, jnp.zeros_like(d)), displacement)
        new_grad = jax.tree.map(keep, new_grad, grad)
        info = BacktrackingInfo(trials, ~accepted)
        return displacement, BacktrackingState(keep(new_value, value), new_grad, info)

    return optax.GradientTransformationExtraArgs(init, update)
