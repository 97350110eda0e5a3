"""Batches through a schedule: many same-bucket images coarse to fine, and `stylize_batch`.

Each scale has its own `BatchSolver` (the style image is sized relative to the scale, so its Gram
targets differ); every solver shares the objective and, for one bucket, one compiled program per scale.
A batch's images move through the scales together: each scale starts from the previous one's results
upsampled, with Adam's moments carried over (L-BFGS restarts).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Sequence
from typing import Protocol

import numpy as np
from jax.sharding import Mesh

from . import images, schedule
from . import masks as masks_io
from .batch import BatchSolver, bucket_shape
from .config import StyleConfig
from .engine import ImageLike, as_image, finish, style_list, working_shape
from .errors import StyleJaxError
from .objective import LossWeights
from .optimize import RunState, averaged_image
from .schedule import Scale


class Checkpoints(Protocol):
    """Where a batch's progress is saved and found again (bulk jobs use orbax)."""

    def latest(self) -> int | None:
        """The index of the scale the newest checkpoint is in, or None."""

    def restore(self, scale: Scale, fresh: RunState) -> tuple[RunState, dict[str, np.ndarray]]:
        """The checkpointed state (shaped like `fresh`) and the progress saved with it."""

    def save(self, scale: Scale, state: RunState, progress: dict[str, np.ndarray]) -> None:
        """Saves a state within `scale` with the progress so far: {"losses": (rows, steps over every scale
        so far), "earlier_evaluations": (rows,) evaluations of the scales before}."""


@dataclasses.dataclass(frozen=True)
class BatchOutcome:
    """A batch's end: rows past the batch's images are padding.

    Attributes:
      images: (rows, h, w, 3) the outputs at the final bucket shape (the moving average, if any).
      loss_history: (rows, total steps) every scale's losses in turn.
      evaluations: (rows,) loss evaluations over all scales.
      losses: per row, {"content", "style", "tv", "total"} of the output at the final scale.
    """

    images: np.ndarray
    loss_history: np.ndarray
    evaluations: np.ndarray
    losses: list[dict[str, float]]


class ScheduledSolver:
    """Optimises batches of same-bucket images through every scale of `config`'s schedule."""

    def __init__(self, style: ImageLike | Sequence[ImageLike], config: StyleConfig, mesh: Mesh | None = None,
                 vmap_size: int | str | None = "auto", style_masks: Sequence[np.ndarray | None] | None = None):
        """`style_masks` (one per style, None for a whole painting) keeps one style target per style, for
        content images with region masks (`solve(..., masks=...)`); None blends the styles."""
        self.check(config)
        self.config = config
        self.styles = style_list(style)
        self.style_masks = style_masks
        self.scales = schedule.plan_scales(config)
        self.mesh, self.vmap_size = mesh, vmap_size
        self._solvers: dict[int, BatchSolver] = {}

    @staticmethod
    def check(config: StyleConfig) -> None:
        """Raises StyleJaxError for what batches do not do: tiles (they are `stylize`'s way past memory) and
        colour transfer (it gives each content image style targets of its own; batches share them)."""
        if config.color_transfer != "none":
            raise StyleJaxError("--color-transfer recolours the style for one content image: use `stylejax stylize` "
                                "(batches and videos share one set of style targets)")
        if config.tile is not None:
            raise StyleJaxError("tiles are for `stylejax stylize`; batches optimise whole images: lower --size, "
                                "--batch-size or --vmap-size, or use --remat on")

    def solver(self, scale: Scale) -> BatchSolver:
        """The scale's solver (style targets at that scale), made once."""
        if scale.index not in self._solvers:
            self._solvers[scale.index] = BatchSolver.create(self.styles, schedule.at_scale(self.config, scale),
                                                            self.mesh, self.vmap_size, style_masks=self.style_masks)
        return self._solvers[scale.index]

    @property
    def final(self) -> BatchSolver:
        """The last scale's solver: its padding and memory are the batch's."""
        return self.solver(self.scales[-1])

    def solve(self, contents: Sequence[np.ndarray], shape: tuple[int, int], *,
              masks: Sequence[np.ndarray] | None = None, weights: Sequence[LossWeights] | None = None,
              checkpoints: Checkpoints | None = None,
              on_chunk: Callable[[int, int], None] | None = None) -> BatchOutcome:
        """Optimises `contents` (any size, all in the bucket `shape` at full size) through every scale.

        `masks` gives each content its region masks (r, h, w), `weights` its loss weights (see
        `BatchSolver.solve`). `checkpoints` saves progress after every chunk and resumes from the
        latest; `on_chunk` is called after every chunk but a scale's last with (steps done over the
        schedule, steps in all).
        """
        start = checkpoints.latest() if checkpoints is not None else None
        image, state = None, None
        progress = {"losses": np.zeros((0, 0), np.float32), "evaluations": np.zeros(0, np.int64)}
        for scale in self.scales:
            if start is not None and scale.index < start:
                continue  # finished before an interruption: the checkpoint holds what came of it
            solver = self.solver(scale)
            scale_shape = bucket_shape(shape, scale.size)
            pixels = [images.resize(c, scale_shape) for c in contents]
            scale_masks = None if masks is None else [images.resize_mask(m, scale_shape)[..., 0] for m in masks]
            starts = None if image is None else list(schedule.upsample(image, scale_shape))[:len(contents)]
            earlier = dict(progress)

            offset = sum(earlier_scale.steps for earlier_scale in self.scales[:scale.index])

            def resume(fresh, scale=scale, earlier=earlier, offset=offset):
                state, saved = checkpoints.restore(scale, fresh)
                earlier.update(losses=saved["losses"][:, :offset], evaluations=saved["earlier_evaluations"])
                return state, saved["losses"][:, offset:]

            def chunk_done(state, history, scale=scale, earlier=earlier, offset=offset):
                if checkpoints is not None:
                    losses = np.concatenate([_rows(earlier["losses"], state), history], axis=1)
                    checkpoints.save(scale, state, {"losses": losses,
                                                    "earlier_evaluations": _rows(earlier["evaluations"], state)})
                if on_chunk is not None:
                    on_chunk(offset + history.shape[1], schedule.total_steps(self.config))

            state, history, terms = solver.solve(
                pixels, init_images=starts, masks=scale_masks, weights=weights, previous=state,
                resume=resume if scale.index == start else None,
                on_chunk=chunk_done if checkpoints is not None or on_chunk is not None else None)
            image = averaged_image(state, self.config.ema_decay)
            progress = {"losses": np.concatenate([_rows(earlier["losses"], state), history], axis=1),
                        "evaluations": _rows(earlier["evaluations"], state) + np.asarray(state.evaluations)}
        return BatchOutcome(np.asarray(image), progress["losses"], progress["evaluations"], terms)


def _rows(array: np.ndarray, state: RunState) -> np.ndarray:
    """Progress of earlier scales for the batch's rows (none yet: zeros of the right row count)."""
    rows = state.image.shape[0]
    if len(array) == rows:
        return array
    return np.zeros((rows, *array.shape[1:]), array.dtype)


def finish_image(image: np.ndarray, content: np.ndarray, config: StyleConfig) -> np.ndarray:
    """Undo the bucketing: the optimised image resized to the content's own aspect ratio, colours applied."""
    shape = images.fit_size(content.shape[:2], config.size)
    return finish(images.resize(np.asarray(image), shape), content, config)


@dataclasses.dataclass(frozen=True)
class BatchResult:
    """What `stylize_batch` returns, one entry per content image, in input order.

    Attributes:
      images: (h_i, w_i, 3) float32 in [0, 1], each with its content image's aspect ratio.
      loss_histories: (n, total steps) float32, every scale's in turn.
      evaluations: (n,) int: loss evaluations per image.
      losses: per image, {"content", "style", "tv", "total"} of the final image.
      seconds: wall time, compilation included.
    """

    images: list[np.ndarray]
    loss_histories: np.ndarray
    evaluations: np.ndarray
    losses: list[dict[str, float]]
    seconds: float


def stylize_batch(contents: Sequence[ImageLike], style: ImageLike | Sequence[ImageLike],
                  config: StyleConfig | None = None, *, masks: Sequence[Sequence[ImageLike]] | None = None,
                  style_masks: Sequence[ImageLike | None] | None = None, batch_size: int = 8,
                  mesh: Mesh | None = None, vmap_size: int | str | None = "auto",
                  callback: Callable[[int], None] | None = None, **overrides) -> BatchResult:
    """Stylizes many content images, each independently, in parallel over this process's devices.

    Images are resized to `config.size` and grouped by `bucket_shape`; each group runs in batches of
    `batch_size` (padded to a multiple of the device count; the padding is discarded), coarse to fine
    through `config`'s schedule. Outputs keep each content image's aspect ratio. Per image, the result
    matches `stylize` with the same config when the image's shape is a bucket shape at every scale.

    Args:
      contents: paths or (h, w, 3) arrays.
      style: a path or array, or a sequence of them.
      config: settings; `**overrides` change its fields.
      masks: per content image, one region mask per style (see `stylejax.stylize`); None blends the styles.
      style_masks: with `masks`, per style the part of the painting to take from (None: all of it).
      batch_size: images per compiled batch, across all devices.
      mesh: a 1-D ("data",) mesh; default: all local devices.
      vmap_size: images per device optimised in lockstep with vmap, the rest of a device's share in
        sequence within the same program; None: all of them. "auto": `default_vmap_size` (1 on CPU,
        None on GPU/TPU). Smaller needs less device memory.
      callback: called with the number of images finished so far, after each batch.

    Returns:
      A BatchResult in input order.
    """
    config = (config or StyleConfig()).replace(**overrides)
    if batch_size <= 0:
        raise StyleJaxError(f"batch_size must be positive, got {batch_size}")
    start = time.perf_counter()
    content_images = [as_image(c, f"content image {i}") for i, c in enumerate(contents)]
    styles = style_list(style)
    regions = None
    if masks is not None:
        if len(masks) != len(content_images):
            raise StyleJaxError(f"masks for {len(masks)} images but {len(content_images)} content images: "
                                "give each content image its masks")
        regions = [masks_io.region_masks(m, len(styles), image.shape[:2])
                   for m, image in zip(masks, content_images, strict=True)]
        style_masks = masks_io.style_masks(style_masks, len(styles))
    elif style_masks is not None:
        raise StyleJaxError("style masks pick which part of each painting a region takes: give the regions' masks too")
    solver = ScheduledSolver(styles, config, mesh, vmap_size, style_masks=style_masks)
    buckets: dict[tuple[int, int], list[int]] = {}
    for i, image in enumerate(content_images):
        for scale in solver.scales:
            working_shape(image.shape[:2], scale.size, f"content image {i}")
        buckets.setdefault(bucket_shape(image.shape[:2], config.size), []).append(i)

    results: dict[int, tuple] = {}
    for shape, members in buckets.items():
        for first in range(0, len(members), batch_size):
            batch = members[first:first + batch_size]
            outcome = solver.solve([content_images[i] for i in batch], shape,
                                   masks=None if regions is None else [regions[i] for i in batch])
            for row, i in enumerate(batch):  # rows past the batch are padding
                results[i] = (finish_image(outcome.images[row], content_images[i], config),
                              outcome.loss_history[row], int(outcome.evaluations[row]), outcome.losses[row])
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
