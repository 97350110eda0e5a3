"""What a video's later frame takes over from the frame before: its output and its optimizer state, both
moved into the new frame by the content's optical flow.

Ruder et al. start frame t from frame t-1's output warped by the flow ("prevWarped"). An optimizer with
per-pixel state (Adam's moments, SGD's momentum) that restarts at every frame forgets how far the
optimisation had come: fresh, Adam moves every pixel by about its learning rate on its first steps and
shakes the warped start loose. So that state follows the pixels as the image does: warped by the same
flow, and fresh where the flow is unreliable (new picture at an edge), where the start is the content.
A state that is not per-pixel (L-BFGS's history of steps and gradient changes) describes the previous
frame's problem only, and starts afresh (`scales.movable`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from stylejax.objective.gatys import Temporal
from stylejax.optim.loop import RunState
from stylejax.solve import scales
from stylejax.video import flow

StateRow = tuple[np.ndarray, ...]  # one frame's optimizer state: its leaves, flattened


class FrameTargets(NamedTuple):
    """A batch of later frames' pull towards their previous outputs, and the flows that made it."""

    temporal: Temporal  # warped previous outputs (b, h, w, 3), reliabilities (b, h, w, 1)
    backward: jax.Array  # (b, h, w, 2): each frame's flow towards its previous frame


def frame_targets(contents: Sequence[np.ndarray], previous_contents: Sequence[np.ndarray],
                  previous_outputs: Sequence[np.ndarray], preset: str) -> FrameTargets:
    """The previous outputs warped into the frames (all (h, w, 3) at one shape), with their reliabilities."""
    warped, reliability, backwards = [], [], []
    for content, previous_content, previous_output in zip(contents, previous_contents, previous_outputs,
                                                         strict=True):
        backward, forward = flow.frame_flows(previous_content, content, preset)
        warped.append(flow.warp(jnp.asarray(previous_output), jnp.asarray(backward)))
        reliability.append(flow.reliability(backward, forward)[..., None])
        backwards.append(backward)
    return FrameTargets(Temporal(jnp.stack(warped), jnp.asarray(np.stack(reliability))),
                        jnp.asarray(np.stack(backwards)))


def blend(reliability: jax.Array, warped: jax.Array, fresh: jax.Array) -> jax.Array:
    """The warped value where the flow is reliable, the fresh one where it is not (per pixel, batched)."""
    return reliability * warped + (1 - reliability) * fresh


def state_tree(optimizer: optax.GradientTransformation, shape: tuple[int, int]):
    """The structure of `optimizer`'s state for one (h, w, 3) image, and whether it is `movable`."""
    abstract = jax.eval_shape(optimizer.init, jax.ShapeDtypeStruct((*shape, 3), jnp.float32))
    return jax.tree.structure(abstract), scales.movable(abstract, (*shape, 3))


def state_rows(state: RunState, count: int) -> list[StateRow]:
    """The first `count` rows of a batch's optimizer state, each as its flattened leaves (NumPy)."""
    leaves = [np.asarray(leaf) for leaf in jax.tree.leaves(state.opt_state)]
    return [tuple(leaf[i] for leaf in leaves) for i in range(count)]


def moved_state(optimizer: optax.GradientTransformation, tree, rows: Sequence[StateRow], targets: FrameTargets,
                starts: Sequence[jax.Array], padded: int) -> RunState:
    """The previous frames' optimizer states moved into these frames, for `BatchSolver.solve(previous=...)`.

    Per-pixel leaves are warped by each frame's backward flow and blended with a fresh state by the
    reliability, as the start image is; counters are kept. Rows are padded to `padded` by repeating the
    last. At one shape `scales.carry_state` takes the result over as it is.
    """
    images = jnp.stack(list(starts))
    stacked = [jnp.stack([jnp.asarray(row[i]) for row in rows]) for i in range(len(rows[0]))]
    fresh = jax.tree.leaves(jax.vmap(optimizer.init)(images))
    reliability = targets.temporal.reliability
    moved = [blend(reliability, jax.vmap(flow.warp)(old, targets.backward), new) if old.shape == images.shape
             else old for old, new in zip(stacked, fresh, strict=True)]

    def pad(x):
        return jnp.concatenate([x, jnp.repeat(x[-1:], padded - len(x), axis=0)])

    return RunState(pad(images), jax.tree.unflatten(tree, [pad(x) for x in moved]),
                    jnp.zeros(padded, jnp.int32), jnp.zeros(padded, jnp.int32), pad(jnp.zeros_like(images)))
