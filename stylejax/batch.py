"""`stylize_batch`: many content images optimised independently and in parallel.

Inside a device the images are `vmap`ped; across the local devices they are split over a 1-D
`"data"` mesh with `jax.shard_map`. This replaces `jax.pmap` (in maintenance mode since JAX 0.4.3x,
implemented on top of jit + shard_map): shard_map composes with jit, needs no replicated copies per
device, and, unlike `jit(vmap)` with sharded inputs, compiles with no collectives at all, so no device
waits for another's L-BFGS line search.
"""

from __future__ import annotations

import dataclasses
import functools
import time
from collections.abc import Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.sharding import Mesh
from jax.sharding import PartitionSpec as P

from . import images
from .config import MIN_SIDE, StyleConfig
from .engine import (
    ImageLike,
    _finish,
    _working_shape,
    as_image,
    check_finite,
    initial_image,
    prepare_shared,
    resolve_optimizer,
    style_list,
    terms_of,
    with_content,
)
from .errors import StyleJaxError
from .objective import Objective, ObjectiveArgs, Targets
from .optimize import RunState, init_state, run_steps
from .weights import load_vgg

BUCKET = 16  # the short side is rounded to a multiple of this, so similar aspect ratios share a program

# Which parts of ObjectiveArgs differ per image (mapped) and which are shared (replicated).
_ARG_AXES = ObjectiveArgs(vgg=None, backward_kernels=None, targets=Targets(content=0, style=None), weights=None)
_ARG_SPECS = ObjectiveArgs(vgg=P(), backward_kernels=P(), targets=Targets(content=P("data"), style=P()),
                           weights=P())


def bucket_shape(shape: tuple[int, int], size: int) -> tuple[int, int]:
    """The (h, w) an image of `shape` is optimised at: longest side `size`, short side rounded to BUCKET."""
    h, w = images.fit_size(shape, size)
    if h >= w:
        return h, max(MIN_SIDE, round(w / BUCKET) * BUCKET)
    return max(MIN_SIDE, round(h / BUCKET) * BUCKET), w


def local_mesh(devices: Sequence[jax.Device] | None = None) -> Mesh:
    """A 1-D ("data",) mesh over this process's devices."""
    return Mesh(np.array(devices if devices is not None else jax.local_devices()), ("data",))


@functools.lru_cache(maxsize=16)
def batch_programs(objective: Objective, optimizer: optax.GradientTransformationExtraArgs, mesh: Mesh,
                   length: int) -> tuple[Callable, Callable]:
    """(init, run) compiled over `mesh`: init(images, args) -> RunState; run(state, remaining, args) -> (state, losses).

    Batched arrays are (b, ...) with b a multiple of the mesh size; losses are (b, length).
    """
    loss = objective

    def init(pixels, args):
        return jax.vmap(lambda x, a: init_state(loss, optimizer, x, a), in_axes=(0, _ARG_AXES))(pixels, args)

    def run(state, remaining, args):
        step = functools.partial(run_steps, loss, optimizer, length=length, axis_name="batch")
        return jax.vmap(lambda s, a: step(s, remaining=remaining, args=a), in_axes=(0, _ARG_AXES),
                        axis_name="batch")(state, args)

    # check_vma=False: optax's zoom line search fails shard_map's varying-axes check.
    init_sharded = jax.shard_map(init, mesh=mesh, in_specs=(P("data"), _ARG_SPECS), out_specs=P("data"),
                                 check_vma=False)
    run_sharded = jax.shard_map(run, mesh=mesh, in_specs=(P("data"), P(), _ARG_SPECS),
                                out_specs=(P("data"), P("data")), check_vma=False)
    return jax.jit(init_sharded), jax.jit(run_sharded, donate_argnums=0)


@dataclasses.dataclass(frozen=True)
class BatchResult:
    """What `stylize_batch` returns, one entry per content image, in input order.

    Attributes:
      images: (h_i, w_i, 3) float32 in [0, 1], each with its content image's aspect ratio.
      loss_histories: (n, steps) float32.
      evaluations: (n,) int: loss evaluations per image.
      losses: per image, {"content", "style", "tv", "total"} of the final image.
      seconds: wall time, compilation included.
    """

    images: list[np.ndarray]
    loss_histories: np.ndarray
    evaluations: np.ndarray
    losses: list[dict[str, float]]
    seconds: float


@dataclasses.dataclass
class BatchSolver:
    """Optimises batches of same-shape content images against one set of style targets.

    Holds what all batches share (weights, style targets, compiled programs). Used by `stylize_batch`
    and by resumable jobs, which checkpoint `RunState` between chunks.
    """

    config: StyleConfig
    objective: Objective
    shared: ObjectiveArgs
    mesh: Mesh

    @classmethod
    def create(cls, style: ImageLike | Sequence[ImageLike], config: StyleConfig,
               mesh: Mesh | None = None) -> BatchSolver:
        vgg = load_vgg(config.model, pooling=config.pooling)
        objective, shared = prepare_shared(vgg, style_list(style), config)
        return cls(config, objective, shared, mesh or local_mesh())

    @property
    def devices(self) -> int:
        return self.mesh.devices.size

    def padded(self, count: int) -> int:
        """The batch size actually run: `count` rounded up to a multiple of the device count."""
        return -(-count // self.devices) * self.devices

    def programs(self) -> tuple[Callable, Callable]:
        optimizer = resolve_optimizer(self.config)
        return batch_programs(self.objective, optimizer, self.mesh, self.config.chunk_steps)

    def start(self, contents: jax.Array, init_images: jax.Array | None = None) -> tuple[RunState, ObjectiveArgs]:
        """contents: (b, h, w, 3), b a multiple of the device count -> (initial state, per-batch args)."""
        args = with_content(self.objective, self.shared, contents)
        if init_images is None:
            init_images = jnp.stack([initial_image(self.config, c) for c in contents])
        init, _ = self.programs()
        return init(init_images, args), args

    def run_chunk(self, state: RunState, args: ObjectiveArgs) -> tuple[RunState, np.ndarray]:
        """One chunk of `config.chunk_steps` steps (fewer at the end). Returns the state and (b, n) losses."""
        _, run = self.programs()
        done = int(state.step[0])
        state, losses = run(state, jnp.int32(self.config.steps - done), args)
        losses = np.asarray(losses)[:, : self.config.steps - done]
        check_finite(losses, done)
        return state, losses

    def solve(self, pixels: Sequence[jax.Array], *,
              resume: Callable[[RunState], tuple[RunState, np.ndarray] | None] | None = None,
              on_chunk: Callable[[RunState, np.ndarray], None] | None = None
              ) -> tuple[RunState, np.ndarray, list[dict[str, float]]]:
        """Optimises same-shape images (h, w, 3) to the end; pads them to the device count.

        Args:
          pixels: the content images, already at the bucket shape.
          resume: given the fresh state, returns a (state, loss history) to continue from, or None.
          on_chunk: called after every chunk but the last with the state and history (checkpointing).

        Returns:
          (state, (b, steps) loss history, final loss terms per image), padded rows included.
        """
        padded = list(pixels) + [pixels[-1]] * (self.padded(len(pixels)) - len(pixels))
        state, args = self.start(jnp.stack(padded))
        history = np.zeros((len(padded), 0), np.float32)
        if resume is not None and (resumed := resume(state)) is not None:
            state, history = resumed
        while history.shape[1] < self.config.steps:
            state, losses = self.run_chunk(state, args)
            history = np.concatenate([history, losses], axis=1)
            if on_chunk is not None and history.shape[1] < self.config.steps:
                on_chunk(state, history)
        return state, history, terms_batch(self.objective, state.image, args)

    def memory_needed(self, shape: tuple[int, int], batch: int) -> int:
        """Bytes of device memory one device needs for a batch of `batch` images of `shape` (from XLA)."""
        per_device = self.padded(batch) // self.devices
        contents = jax.ShapeDtypeStruct((per_device, *shape, 3), jnp.float32)
        args = jax.eval_shape(lambda c: with_content(self.objective, self.shared, c), contents)
        state = jax.eval_shape(lambda x, a: jax.vmap(lambda x1, a1: init_state(
            self.objective, resolve_optimizer(self.config), x1, a1), in_axes=(0, _ARG_AXES))(x, a), contents, args)
        single = batch_programs(self.objective, resolve_optimizer(self.config), local_mesh(self.mesh.devices.flat[:1]),
                                self.config.chunk_steps)[1]
        stats = single.lower(state, jnp.int32(1), args).compile().memory_analysis()
        if stats is None:
            return 0
        return int(stats.argument_size_in_bytes + stats.output_size_in_bytes + stats.temp_size_in_bytes
                   - stats.alias_size_in_bytes)


def terms_batch(objective: Objective, states: jax.Array, args: ObjectiveArgs) -> list[dict[str, float]]:
    """Final loss terms of each image of a batch."""
    terms = jax.vmap(lambda x, a: terms_of(objective, x, a), in_axes=(0, _ARG_AXES))(states, args)
    terms = {k: np.asarray(v) for k, v in terms.items()}
    return [{k: float(v[i]) for k, v in terms.items()} | {"total": float(sum(v[i] for v in terms.values()))}
            for i in range(len(states))]


def finish_image(image: jax.Array, content: np.ndarray, config: StyleConfig) -> np.ndarray:
    """Undo the bucketing: the optimised image resized to the content's own aspect ratio, colours applied."""
    shape = images.fit_size(content.shape[:2], config.size)
    return _finish(images.resize(np.asarray(image), shape), images.resize(content, shape), config)


def stylize_batch(contents: Sequence[ImageLike], style: ImageLike | Sequence[ImageLike],
                  config: StyleConfig | None = None, *, batch_size: int = 8, mesh: Mesh | None = None,
                  callback: Callable[[int], None] | None = None, **overrides) -> BatchResult:
    """Stylizes many content images, each independently, in parallel over this process's devices.

    Images are resized to `config.size` and grouped by `bucket_shape`; each group runs in batches of
    `batch_size` (padded to a multiple of the device count; the padding is discarded). Outputs keep each
    content image's aspect ratio. Per image, the result matches `stylize` with the same config when the
    image's shape is already a bucket shape.

    Args:
      contents: paths or (h, w, 3) arrays.
      style: a path or array, or a sequence of them.
      config: settings; `**overrides` change its fields.
      batch_size: images per compiled batch, across all devices.
      mesh: a 1-D ("data",) mesh; default: all local devices.
      callback: called with the number of images finished so far, after each batch.

    Returns:
      A BatchResult in input order.
    """
    config = (config or StyleConfig()).replace(**overrides)
    if batch_size <= 0:
        raise StyleJaxError(f"batch_size must be positive, got {batch_size}")
    start = time.perf_counter()
    content_images = [as_image(c, f"content image {i}") for i, c in enumerate(contents)]
    solver = BatchSolver.create(style, config, mesh)
    buckets: dict[tuple[int, int], list[int]] = {}
    for i, image in enumerate(content_images):
        _working_shape(image.shape[:2], config.size, f"content image {i}")
        buckets.setdefault(bucket_shape(image.shape[:2], config.size), []).append(i)

    results: dict[int, tuple] = {}
    for shape, members in buckets.items():
        for first in range(0, len(members), batch_size):
            batch = members[first:first + batch_size]
            state, history, terms = solver.solve([images.resize(content_images[i], shape) for i in batch])
            for row, i in enumerate(batch):  # rows past the batch are padding
                results[i] = (finish_image(state.image[row], content_images[i], config), history[row],
                              int(state.evaluations[row]), terms[row])
            if callback is not None:
                callback(len(results))
    ordered = [results[i] for i in range(len(content_images))]
    return BatchResult(
        images=[r[0] for r in ordered],
        loss_histories=np.stack([r[1] for r in ordered]).astype(np.float32),
        evaluations=np.array([r[2] for r in ordered]),
        losses=[r[3] for r in ordered],
        seconds=time.perf_counter() - start,
    )
