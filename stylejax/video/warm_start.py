"""What a video's later frame takes over from the frame before: its output and its optimizer state, both
moved into the new frame by the content's optical flow.

Ruder et al. start frame t from frame t-1's output warped by the flow ("prevWarped"). An optimizer with
per-pixel state (Adam's moments, SGD's momentum) that restarts at every frame forgets how far the
optimisation had come: fresh, Adam moves every pixel by about its learning rate on its first steps and
shakes the warped start loose. So that state follows the pixels as the image does: warped by the same
flow, and fresh where the flow is unreliable (new picture at an edge), where the start is the content.
A state that is not per-pixel (L-BFGS's history of steps and gradient changes) describes the previous
frame's problem only, and starts afresh (`scales.movable`). A frame's state is the optax state of one
image, sliced by row from the batch's; which of its leaves are per pixel, `scales.is_per_pixel` says.
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


def carries(optimizer: optax.GradientTransformation, shape: tuple[int, int]) -> bool:
    """Whether `optimizer`'s state for an (h, w, 3) image of `shape` can follow the pixels (`scales.movable`)."""
    abstract = jax.eval_shape(optimizer.init, jax.ShapeDtypeStruct((*shape, 3), jnp.float32))
    return scales.movable(abstract, (*shape, 3))


def state_rows(state: RunState, count: int) -> list[optax.OptState]:
    """The first `count` rows of a batch's optimizer state: each one frame's optax state, NumPy leaves."""
    host = jax.tree.map(np.asarray, state.opt_state)
    return [jax.tree.map(lambda leaf, i=i: leaf[i], host) for i in range(count)]


def moved_state(optimizer: optax.GradientTransformation, rows: Sequence[optax.OptState], targets: FrameTargets,
                starts: Sequence[jax.Array], padded: int) -> RunState:
    """The previous frames' optimizer states moved into these frames, for `BatchSolver.solve(previous=...)`.

    Per-pixel leaves are warped by each frame's backward flow and blended with a fresh state by the
    reliability, as the start image is; the others (counters) are kept. Rows are padded to `padded` by
    repeating the last. At one shape `scales.carry_state` takes the result over as it is.

    Args:
      optimizer: the later frames' optimizer.
      rows: each frame's previous state (`state_rows`), or its leaves in `jax.tree.leaves` order (as a
        resumed job reads them back, `VideoFrame.optimizer_state`).
      targets: the frames' flows and reliabilities.
      starts: the frames' start images (h, w, 3).
      padded: the batch's rows.
    """
    images = jnp.stack(list(starts))
    fresh = jax.vmap(optimizer.init)(images)
    structure = jax.tree.structure(fresh)
    rows = [jax.tree.unflatten(structure, jax.tree.leaves(row)) for row in rows]
    previous = jax.tree.map(lambda *leaves: jnp.stack([jnp.asarray(leaf) for leaf in leaves]), *rows)
    reliability, backward = targets.temporal.reliability, targets.backward
    moved = jax.tree.map(lambda old, new: blend(reliability, jax.vmap(flow.warp)(old, backward), new)
                         if scales.is_per_pixel(old, images.shape) else old, previous, fresh)

    def pad(x):
        return jnp.concatenate([x, jnp.repeat(x[-1:], padded - len(x), axis=0)])

    return RunState(pad(images), jax.tree.map(pad, moved), jnp.zeros(padded, jnp.int32), jnp.zeros(padded, jnp.int32),
                    pad(jnp.zeros_like(images)))
