"""A batch's compiled programs over this process's devices: vmap inside a device, shard_map across them.

Inside a device the images are `vmap`ped; across the local devices they are split over a 1-D
`"data"` mesh with `jax.shard_map`. This replaces `jax.pmap` (in maintenance mode since JAX 0.4.3x,
implemented on top of jit + shard_map): shard_map composes with jit, needs no replicated copies per
device, and, unlike `jit(vmap)` with sharded inputs, compiles with no collectives at all, so no device
waits for another's L-BFGS line search.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import NamedTuple

import jax
import optax
from jax.sharding import Mesh
from jax.sharding import PartitionSpec as P

from stylejax.objective.gatys import LossWeights, Objective, ObjectiveArgs, Temporal
from stylejax.optim.loop import init_state, run_steps


def _arg_specs(args: ObjectiveArgs) -> ObjectiveArgs:
    """What differs per image (targets of content, time and regions, loss weights) is split over devices;
    the rest (VGG weights, style targets) is replicated."""
    per_image = jax.tree.map(lambda _: P("data"), _per_image(args))
    shared = jax.tree.map(lambda _: P(), _with_per_image(args, PerImage({}, None, None, None)))
    return _with_per_image(shared, per_image)


def default_vmap_size(mesh: Mesh) -> int | None:
    """1 on CPU, else None (a device's whole share in lockstep).

    A CPU gains nothing from wider convolutions once one image runs it at its matrix-multiply peak,
    and one image's activations stay in cache: at 256 px on a 2-core CPU, batches of 4 and 8 ran 8%
    and 14% faster one after another than in lockstep (benchmarks/throughput.py). Accelerators want
    the wide batch.
    """
    return 1 if mesh.devices.flat[0].platform == "cpu" else None


def _on_device(solve: Callable, size: int | None, *batched):
    """solve(*rows, axis_name=...) over a device's share of arrays (n, ...).

    Groups of `size` images run in lockstep under vmap (axis "batch"), one group after another;
    size 1 runs each image alone, with no vmap at all; None puts all n in one group.
    """
    n = jax.tree.leaves(batched)[0].shape[0]
    if size == 1:
        return jax.lax.map(lambda rows: solve(*rows, axis_name=None), batched)
    lockstep = jax.vmap(functools.partial(solve, axis_name="batch"), axis_name="batch")
    if size is None or size >= n:
        return lockstep(*batched)
    grouped = jax.tree.map(lambda x: x.reshape(n // size, size, *x.shape[1:]), batched)
    out = jax.lax.map(lambda rows: lockstep(*rows), grouped)
    return jax.tree.map(lambda x: x.reshape(n, *x.shape[2:]), out)


class PerImage(NamedTuple):
    """The part of the arguments that differs per image: mapped by vmap, split over devices."""

    content: dict[str, jax.Array]
    temporal: Temporal | None
    regions: dict[str, jax.Array] | None
    weights: LossWeights | None


def _per_image(args: ObjectiveArgs) -> PerImage:
    targets = args.targets
    return PerImage(targets.content, targets.temporal, targets.regions, args.weights)


def _with_per_image(args: ObjectiveArgs, per_image: PerImage) -> ObjectiveArgs:
    targets = args.targets._replace(content=per_image.content, temporal=per_image.temporal,
                                    regions=per_image.regions)
    return args._replace(targets=targets, weights=per_image.weights)


@jax.custom_batching.custom_vmap
def _same_in_every_row(x: jax.Array) -> jax.Array:
    return x


@_same_in_every_row.def_vmap
def _(axis_size, in_batched, x):
    return (x[0] if in_batched[0] else x), False


def _unbatch_shared(args: ObjectiveArgs) -> ObjectiveArgs:
    """Marks the arguments every image shares as unbatched again, even where JAX has batched them.

    Optax's zoom line search branches on per-image conditions. Under vmap JAX turns such a cond into
    a select and batches everything its branches read, the VGG weights too, and every convolution
    becomes a per-image grouped one. Only the `PerImage` part is ever mapped, so the rows of
    everything else are all equal and row 0 is exact.
    """
    shared = jax.tree.map(_same_in_every_row, _with_per_image(args, PerImage({}, None, None, None)))
    return _with_per_image(shared, _per_image(args))


class BatchPrograms(NamedTuple):
    """Compiled over a mesh; batched arrays are (b, ...), b a multiple of the device count."""

    init: Callable  # (images, args) -> RunState
    run: Callable  # (state, remaining, ema_decay, args) -> (state, (b, length) losses); donates the state
    terms: Callable  # (images, args) -> {"content", "style", "tv"} (and "temporal" for video frames): (b,) each


@functools.lru_cache(maxsize=16)
def batch_programs(objective: Objective, optimizer: optax.GradientTransformationExtraArgs, mesh: Mesh,
                   length: int, vmap_size: int | None = None) -> BatchPrograms:
    """The batch's programs. On each device, groups of `vmap_size` images (None: all of them) run in
    lockstep, the groups in sequence."""

    def loss(image, args):
        return objective(image, _unbatch_shared(args))

    def init(pixels, args):
        def solve(image, per_image, axis_name):
            return init_state(loss, optimizer, image, _with_per_image(args, per_image))

        return _on_device(solve, vmap_size, pixels, _per_image(args))

    def run(state, remaining, ema_decay, args):
        def solve(state, per_image, axis_name):
            return run_steps(loss, optimizer, state, remaining, _with_per_image(args, per_image), length,
                             axis_name=axis_name, ema_decay=ema_decay)

        return _on_device(solve, vmap_size, state, _per_image(args))

    def terms(pixels, args):
        def solve(image, per_image, axis_name):
            return objective.terms(image, _with_per_image(args, per_image))

        return _on_device(solve, vmap_size, pixels, _per_image(args))

    def sharded(fn, args_at, out_specs):
        """fn over the mesh: argument 0 is split over devices, `args_at` (ObjectiveArgs) by `_arg_specs`."""

        def program(*arguments):
            in_specs = [P()] * len(arguments)
            in_specs[0], in_specs[args_at] = P("data"), _arg_specs(arguments[args_at])
            # check_vma=False: optax's zoom line search fails shard_map's varying-axes check.
            return jax.shard_map(fn, mesh=mesh, in_specs=tuple(in_specs), out_specs=out_specs,
                                 check_vma=False)(*arguments)

        program.__name__ = fn.__name__  # compile logs and profiles say init, run or terms
        return program

    return BatchPrograms(
        init=jax.jit(sharded(init, 1, P("data"))),
        run=jax.jit(sharded(run, 3, (P("data"), P("data"))), donate_argnums=0),
        terms=jax.jit(sharded(terms, 1, P("data"))),
    )
