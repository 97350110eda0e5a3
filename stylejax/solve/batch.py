"""`BatchSolver`: many same-shape problems optimised independently and in parallel, at one scale.

It holds what every batch shares (VGG weights, style targets, compiled programs) and runs the one chunk
loop of stylejax (`solve`), checkpointable between chunks; `sharding` compiles its programs over devices.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh

from stylejax.config import StyleConfig
from stylejax.errors import StyleJaxError
from stylejax.io.images import ImageLike, style_list
from stylejax.nn.weights import load_vgg
from stylejax.objective.gatys import LossWeights, Objective, ObjectiveArgs, Temporal
from stylejax.objective.targets import prepare_shared, with_content
from stylejax.optim.loop import RunState, averaged_image
from stylejax.optim.optimizers import resolve_optimizer
from stylejax.runtime import memory
from stylejax.runtime.meshes import local_mesh
from stylejax.solve import scales
from stylejax.solve.problem import check_finite, initial_image
from stylejax.solve.sharding import BatchPrograms, batch_programs, default_vmap_size


def rows_of(weights: LossWeights, rows: int) -> LossWeights:
    """Loss weights with a leading axis of `rows` (every row equal): per-image arguments of a batch."""
    return jax.tree.map(lambda w: jnp.broadcast_to(w, (rows, *jnp.shape(w))), weights)


@dataclasses.dataclass
class BatchSolver:
    """Optimises batches of same-shape content images against one set of style targets.

    Holds what all batches share (weights, style targets, compiled programs). Each scale of the
    batches of `stylize_batch` and resumable jobs (which checkpoint `RunState` between chunks) has one,
    and so does each scale of tiles. `vmap_size` images per device run in lockstep (None: all of a
    device's share); see `default_vmap_size`. `create(..., style_tile=px)` computes the style targets
    in crops of that size, `create(..., style_masks=[...])` one per style for images with region
    masks (`stylejax.objective.targets.prepare_shared`).
    """

    config: StyleConfig
    objective: Objective
    shared: ObjectiveArgs
    mesh: Mesh
    vmap_size: int | None = None

    @classmethod
    def create(cls, style: ImageLike | Sequence[ImageLike], config: StyleConfig, mesh: Mesh | None = None,
               vmap_size: int | str | None = "auto", style_tile: int | None = None,
               style_masks: Sequence[np.ndarray | None] | None = None) -> BatchSolver:
        """A solver for `style` at `config`'s settings: loads the weights and computes the style targets.

        Args:
          style: a path or array, or a sequence of them (blended by `config.style_blend`).
          config: the settings of this scale (`config.size` sizes the style image).
          mesh: a 1-D ("data",) mesh; default: all local devices.
          vmap_size: images per device in lockstep; None: all of a device's share; "auto":
            `default_vmap_size` (1 on CPU, None on GPU/TPU).
          style_tile: compute the style targets in crops of this many pixels (for tiles).
          style_masks: one entry per style (a mask of the part of the painting, or None): keeps one style
            target per style, for content images with region masks.

        Returns:
          The solver.

        Raises:
          StyleJaxError: a vmap_size that is not positive, unreadable style images or masks, or missing weights.
        """
        if vmap_size is not None and vmap_size != "auto" and vmap_size <= 0:
            raise StyleJaxError(f"vmap_size must be positive, got {vmap_size}")
        mesh = mesh or local_mesh()
        vgg = load_vgg(config.model, pooling=config.pooling)
        objective, shared = prepare_shared(vgg, style_list(style), config, style_tile=style_tile,
                                           style_masks=style_masks)
        return cls(config, objective, shared, mesh, default_vmap_size(mesh) if vmap_size == "auto" else vmap_size)

    @classmethod
    def abstract(cls, style: ImageLike | Sequence[ImageLike], config: StyleConfig, mesh: Mesh | None = None,
                 vmap_size: int | str | None = "auto",
                 style_masks: Sequence[np.ndarray | None] | None = None) -> BatchSolver:
        """A solver whose shared arguments are shapes only, computed from nothing: for `memory_needed`."""
        load_vgg(config.model, pooling=config.pooling)  # cached outside the trace: the weights stay concrete
        made = {}

        def make():
            made["solver"] = cls.create(style, config, mesh, vmap_size, style_masks=style_masks)
            return made["solver"].shared

        shared = jax.eval_shape(make)
        return dataclasses.replace(made["solver"], shared=shared)

    @property
    def devices(self) -> int:
        """How many devices the mesh splits a batch over."""
        return self.mesh.devices.size

    def padded(self, count: int) -> int:
        """The batch size actually run: `count` padded so each device gets whole groups of vmap_size."""
        per_device = -(-count // self.devices)
        group = min(self.vmap_size or per_device, per_device)
        return -(-per_device // group) * group * self.devices

    def programs(self, mesh: Mesh | None = None) -> BatchPrograms:
        """The compiled programs (start, chunk of steps, loss terms) for this solver's objective and optimizer.

        Equal settings give the same programs, so every batch and solver of a shape shares one compilation.
        """
        optimizer = resolve_optimizer(self.config)
        return batch_programs(self.objective, optimizer, mesh or self.mesh, self.config.chunk_steps, self.vmap_size)

    def start(self, contents: jax.Array, init_images: jax.Array | None = None,
              content_targets: dict[str, jax.Array] | None = None, temporal: Temporal | None = None,
              masks: jax.Array | None = None, weights: LossWeights | None = None) -> tuple[RunState, ObjectiveArgs]:
        """contents: (b, h, w, 3), b = `padded(b)` -> (initial state, per-batch args); see `solve`."""
        args = self.batch_args(contents, content_targets, temporal, masks, weights)
        if init_images is None:
            init_images = jnp.stack([initial_image(self.config, c) for c in contents])
        return self.programs().init(init_images, args), args

    def batch_args(self, contents: jax.Array, content_targets: dict[str, jax.Array] | None = None,
                   temporal: Temporal | None = None, masks: jax.Array | None = None,
                   weights: LossWeights | None = None) -> ObjectiveArgs:
        """The arguments of a batch of contents (b, h, w, 3): the shared ones and each image's."""
        if content_targets is None:
            args = with_content(self.objective, self.shared, contents, masks)
        else:  # tiles: targets cut from the whole image's features (tiles take no masks)
            args = self.shared._replace(targets=self.shared.targets._replace(content=content_targets))
        if temporal is not None:
            if args.weights.temporal is None:
                raise StyleJaxError("temporal targets need a temporal weight: set shared.weights.temporal")
            args = args._replace(targets=args.targets._replace(temporal=temporal))
        return args._replace(weights=weights if weights is not None else rows_of(args.weights, len(contents)))

    def run_chunk(self, state: RunState, args: ObjectiveArgs) -> tuple[RunState, np.ndarray]:
        """One chunk of `config.chunk_steps` steps (fewer at the end). Returns the state and (b, n) losses."""
        done = int(state.step[0])
        state, losses = self.programs().run(state, jnp.int32(self.config.steps - done),
                                            jnp.float32(self.config.ema_decay), args)
        losses = np.asarray(losses)[:, : self.config.steps - done]
        check_finite(losses, done)
        return state, losses

    def solve(self, pixels: Sequence[jax.Array], *, init_images: Sequence[jax.Array] | None = None,
              content_targets: dict[str, jax.Array] | None = None, temporal: Temporal | None = None,
              masks: Sequence[np.ndarray | jax.Array] | None = None, weights: Sequence[LossWeights] | None = None,
              previous: RunState | None = None,
              resume: Callable[[RunState], tuple[RunState, np.ndarray] | None] | None = None,
              on_chunk: Callable[[RunState, np.ndarray], None] | None = None
              ) -> tuple[RunState, np.ndarray, list[dict[str, float]]]:
        """Optimises same-shape images (h, w, 3) to the end; pads them to the device count.

        Args:
          pixels: the content images, already at the bucket shape.
          init_images: where each image starts (default: `config.init`), e.g. the previous scale's result.
          content_targets: {layer: (b, 1, h', w', c)} to use instead of the targets of `pixels`.
          temporal: video frames' warped previous outputs (b, h, w, 3) and reliabilities (b, h, w, 1);
            `shared.weights.temporal` weighs them.
          masks: each image's region masks (r, h', w') in [0, 1], one per style (`stylejax.io.masks`); the
            solver's style targets must be per style (`create(..., style_masks=...)`).
          weights: each image's loss weights (`stylejax.objective.targets.loss_weights`), e.g. a grid of
            style weights that one compiled program runs; default: the config's for every image.
          previous: the padded batch's state at the previous scale, whose optimizer state carries over.
          resume: given the fresh state, returns a (state, loss history) to continue from, or None.
          on_chunk: called after every chunk but the last with the state and history (checkpointing).

        Returns:
          (state, (b, steps) loss history, final loss terms of each image's output), padded rows included.
        """
        rows = self.padded(len(pixels))

        def pad(items):
            return jnp.stack(list(items) + [items[-1]] * (rows - len(items)))

        def pad_list(items):
            return list(items) + [items[-1]] * (rows - len(items))

        def pad_rows(tree):  # batched arrays (n, ...) -> (rows, ...), repeating the last row
            return jax.tree.map(lambda v: jnp.concatenate([v, jnp.repeat(v[-1:], rows - len(v), axis=0)]), tree)

        state, args = self.start(pad(pixels), None if init_images is None else pad(init_images),
                                 None if content_targets is None else pad_rows(content_targets),
                                 None if temporal is None else pad_rows(temporal),
                                 None if masks is None else pad([jnp.asarray(m) for m in masks]),
                                 None if weights is None else jax.tree.map(lambda *w: jnp.stack(w), *pad_list(weights)))
        if previous is not None:
            state = scales.carry_state(previous, state)
        history = np.zeros((rows, 0), np.float32)
        if resume is not None and (resumed := resume(state)) is not None:
            state, history = resumed
        while history.shape[1] < self.config.steps:
            state, losses = self.run_chunk(state, args)
            history = np.concatenate([history, losses], axis=1)
            if on_chunk is not None and history.shape[1] < self.config.steps:
                on_chunk(state, history)
        return state, history, self.final_terms(averaged_image(state, self.config.ema_decay), args)

    def final_terms(self, pixels: jax.Array, args: ObjectiveArgs) -> list[dict[str, float]]:
        """The loss terms of each image of a batch (b, h, w, 3), with their "total"."""
        terms = {k: np.asarray(v) for k, v in self.programs().terms(pixels, args).items()}
        return [{k: float(v[i]) for k, v in terms.items()} | {"total": float(sum(v[i] for v in terms.values()))}
                for i in range(len(pixels))]

    def memory_needed(self, shape: tuple[int, int], batch: int) -> int:
        """Bytes of device memory one device needs for a batch of `batch` images of `shape` (from XLA)."""
        rows = self.padded(batch)
        contents = jax.ShapeDtypeStruct((rows, *shape, 3), jnp.float32)
        target = self.shared.targets.style[self.objective.style_layers[0]]
        masks = jax.ShapeDtypeStruct((rows, target.shape[0], *shape), jnp.float32) if target.ndim == 3 else None
        args = jax.eval_shape(lambda shared, contents, masks: dataclasses.replace(self, shared=shared).batch_args(
            contents, None, None, masks), self.shared, contents, masks)
        programs = self.programs()
        # The run's own programs, on its mesh (XLA reports a sharded program's memory per device), the state
        # placed as `init` places it: the run then loads them from the compilation cache instead of compiling.
        init = programs.init.lower(contents, args).compile()
        state = jax.tree.map(lambda s, placed: jax.ShapeDtypeStruct(s.shape, s.dtype, sharding=placed,
                                                                    weak_type=s.weak_type),
                             jax.eval_shape(programs.init, contents, args), init.output_shardings)
        return memory.compiled_bytes(programs.run.lower(state, jnp.int32(1), jnp.float32(0), args).compile())
