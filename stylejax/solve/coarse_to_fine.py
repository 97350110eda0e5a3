"""The one coarse-to-fine driver: a batch of same-shape images through every scale of a config.

Each scale has its own `BatchSolver` (the style image is sized relative to the scale, so its Gram
targets differ); every solver shares the objective and, for one shape, one compiled program per scale.
A batch's images move through the scales together: each scale starts from the previous one's results
upsampled, with Adam's moments carried over (L-BFGS restarts). `stylize` is a batch of one on one
device, at the content's own shape, tiled at the scales larger than its tile; `stylize_batch`, bulk
jobs, sweeps and a video's first frames are batches at bucket shapes.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import NamedTuple, Protocol

import jax
import numpy as np
from jax.sharding import Mesh

from stylejax.config import StyleConfig
from stylejax.errors import StyleJaxError
from stylejax.io import images
from stylejax.io.images import ImageLike, style_list
from stylejax.objective.gatys import LossWeights
from stylejax.optim.loop import RunState, averaged_image
from stylejax.runtime.buckets import bucket_shape
from stylejax.solve import scales, tiles
from stylejax.solve.batch import BatchSolver
from stylejax.solve.problem import initial_image
from stylejax.solve.scales import Scale

# on_chunk(steps done over every scale, the outputs so far (rows, h, w, 3), (rows, steps done) losses)
ChunkCallback = Callable[[int, jax.Array, np.ndarray], None]


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
      images: (rows, h, w, 3) the outputs at the final scale's shape (the moving average, if any).
      loss_history: (rows, total steps) every scale's losses in turn.
      evaluations: (rows,) loss evaluations over all scales.
      losses: per row, {"content", "style", "tv", "total"} of the output at the final scale.
      state: the final scale's optimizer state (None where that scale was tiled): where a video's next
        frame can continue from.
    """

    images: np.ndarray
    loss_history: np.ndarray
    evaluations: np.ndarray
    losses: list[dict[str, float]]
    state: RunState | None = None


class CoarseToFineSolver:
    """Optimises batches of same-shape images through every scale of `config`'s scales."""

    def __init__(self, style: ImageLike | Sequence[ImageLike], config: StyleConfig, mesh: Mesh | None = None,
                 vmap_size: int | str | None = "auto", style_masks: Sequence[np.ndarray | None] | None = None,
                 tile: int | None = None):
        """`style_masks` (one per style, None for a whole painting) keeps one style target per style, for
        content images with region masks (`solve(..., masks=...)`); None blends the styles. A scale whose
        longest side is over `tile` px is optimised in tiles (`tiles.stylize_tiles`): one image at a time."""
        self.config = config
        self.styles = style_list(style)
        self.style_masks = style_masks
        self.scales = scales.plan_scales(config)
        self.mesh, self.vmap_size, self.tile = mesh, vmap_size, tile
        self._solvers: dict[int, BatchSolver] = {}

    @staticmethod
    def check_batchable(config: StyleConfig) -> None:
        """Raises StyleJaxError for what batches do not do: tiles (they are `stylize`'s way past memory) and
        colour transfer (it gives each content image style targets of its own; batches share them)."""
        if config.color_transfer != "none":
            raise StyleJaxError("`color_transfer` recolours the style for one content image: use `stylize` "
                                "(batches and videos share one set of style targets)")
        if config.tile is not None:
            raise StyleJaxError("tiles are for `stylize`; batches optimise whole images: lower `size`, "
                                "`batch_size` or `vmap_size`, or turn on `remat`")

    def solver(self, scale: Scale) -> BatchSolver:
        """The scale's solver (style targets at that scale), made once."""
        if scale.index not in self._solvers:
            self._solvers[scale.index] = BatchSolver.create(self.styles, scales.at_scale(self.config, scale),
                                                            self.mesh, self.vmap_size, style_masks=self.style_masks)
        return self._solvers[scale.index]

    @property
    def final(self) -> BatchSolver:
        """The last scale's solver: its padding and memory are the batch's."""
        return self.solver(self.scales[-1])

    def bucket_shapes(self, shape: tuple[int, int]) -> list[tuple[int, int]]:
        """The shape of each scale for images in the bucket `shape` (their shape at full size)."""
        return [bucket_shape(shape, scale.size) for scale in self.scales]

    def solve(self, contents: Sequence[np.ndarray], shapes: Sequence[tuple[int, int]], *,
              masks: Sequence[np.ndarray] | None = None, weights: Sequence[LossWeights] | None = None,
              init_images: Sequence[ImageLike] | None = None, checkpoints: Checkpoints | None = None,
              on_chunk: ChunkCallback | None = None, on_scale: Callable[[Scale], None] | None = None
              ) -> BatchOutcome:
        """Optimises `contents` (any size) through every scale, scale i at `shapes[i]` (h, w).

        `masks` gives each content its region masks (r, h, w), `weights` its loss weights (see
        `BatchSolver.solve`), `init_images` where each starts (default: `config.init`). `checkpoints`
        saves progress after every chunk and resumes from the latest; `on_chunk` is called after every
        chunk (see `ChunkCallback`), `on_scale` with each `Scale` as the batch reaches it.
        """
        if len(shapes) != len(self.scales):
            raise ValueError(f"{len(shapes)} shapes for {len(self.scales)} scales")
        start = checkpoints.latest() if checkpoints is not None else None
        image, state = None, None
        progress = _Progress(np.zeros((0, 0), np.float32), np.zeros(0, np.int64))
        terms: list[dict[str, float]] = []
        for scale, shape in zip(self.scales, shapes, strict=True):
            if start is not None and scale.index < start:
                continue  # finished before an interruption: the checkpoint holds what came of it
            if on_scale is not None:
                on_scale(scale)
            pixels = [images.resize(c, shape) for c in contents]
            if image is not None:
                starts = list(scales.upsample(image, shape))[:len(contents)]
            elif init_images is not None:
                starts = [initial_image(self.config, p, i) for p, i in zip(pixels, init_images, strict=True)]
            else:
                starts = None
            offset = sum(earlier_scale.steps for earlier_scale in self.scales[:scale.index])
            if self.tile is not None and max(shape) > self.tile:
                image, history, evaluations, terms = self._tiled(scale, pixels, starts)
                state = None  # tiles keep no whole-image optimizer state to carry
            else:
                run = _ScaleRun(scale, progress, offset, self.config.ema_decay, checkpoints, on_chunk)
                state, history, terms = self._whole(run, pixels, starts, previous=state, masks=masks,
                                                    weights=weights, resume=scale.index == start)
                evaluations = np.asarray(state.evaluations)
                image = averaged_image(state, self.config.ema_decay)
                progress = run.earlier  # a resumed scale's: the checkpoint's
            progress = progress.then(history, evaluations)
            if on_chunk is not None:
                on_chunk(offset + scale.steps, image, progress.losses)
        return BatchOutcome(np.asarray(image), progress.losses, progress.evaluations, terms, state)

    def _whole(self, run: _ScaleRun, pixels: list[jax.Array], starts: list[jax.Array] | None, *,
               previous: RunState | None, masks: Sequence[np.ndarray] | None,
               weights: Sequence[LossWeights] | None, resume: bool
               ) -> tuple[RunState, np.ndarray, list[dict[str, float]]]:
        """One scale of whole images through the scale's `BatchSolver`: (state, history, terms); `resume`
        continues from `run`'s checkpoint."""
        shape = pixels[0].shape[:2]
        scale_masks = None if masks is None else [images.resize_mask(m, shape)[..., 0] for m in masks]
        return self.solver(run.scale).solve(
            pixels, init_images=starts, masks=scale_masks, weights=weights, previous=previous,
            resume=run.resume if resume else None,
            on_chunk=run.chunk_done if run.checkpoints is not None or run.on_chunk is not None else None)

    def _tiled(self, scale, pixels, starts):
        """One scale of one image in tiles: (image (1, h, w, 3), history (1, steps), evaluations (1,), terms)."""
        if len(pixels) != 1:
            raise StyleJaxError("tiles optimise one image at a time: give one content image")
        content = pixels[0]
        start = starts[0] if starts is not None else initial_image(self.config, content)
        tiled = tiles.stylize_tiles(content, start, self.styles, scales.at_scale(self.config, scale), self.tile)
        terms = dict(tiled.losses)
        return (tiled.image[None], tiled.loss_history[None], np.array([tiled.evaluations]), [terms])


class _Progress(NamedTuple):
    """A batch's progress over the scales done: each row's losses (rows, steps) and evaluations (rows,)."""

    losses: np.ndarray
    evaluations: np.ndarray

    def then(self, history: np.ndarray, evaluations: np.ndarray | None = None) -> _Progress:
        """This progress followed by a scale's (rows, steps) `history` and its (rows,) `evaluations`."""
        rows = len(history)
        earlier = _rows(self.evaluations, rows)
        return _Progress(np.concatenate([_rows(self.losses, rows), history], axis=1),
                         earlier if evaluations is None else earlier + evaluations)


@dataclasses.dataclass
class _ScaleRun:
    """One scale of whole images on its way through `BatchSolver.solve`: the progress of the scales before
    it (`offset` steps), which a resumed scale takes from its checkpoint, and where each chunk is reported."""

    scale: Scale
    earlier: _Progress
    offset: int
    ema_decay: float
    checkpoints: Checkpoints | None
    on_chunk: ChunkCallback | None

    def resume(self, fresh: RunState) -> tuple[RunState, np.ndarray]:
        """The checkpointed state and this scale's history so far; the earlier scales' progress is the
        checkpoint's from now on."""
        state, saved = self.checkpoints.restore(self.scale, fresh)
        self.earlier = _Progress(saved["losses"][:, :self.offset], saved["earlier_evaluations"])
        return state, saved["losses"][:, self.offset:]

    def chunk_done(self, state: RunState, history: np.ndarray) -> None:
        """Saves and reports a chunk: `history` is this scale's (rows, steps so far)."""
        progress = self.earlier.then(history)
        if self.checkpoints is not None:
            self.checkpoints.save(self.scale, state, {"losses": progress.losses,
                                                      "earlier_evaluations": progress.evaluations})
        if self.on_chunk is not None:
            self.on_chunk(self.offset + history.shape[1], averaged_image(state, self.ema_decay), progress.losses)


def _rows(array: np.ndarray, rows: int) -> np.ndarray:
    """Progress of earlier scales for a batch's rows (none yet: zeros of the right row count)."""
    if len(array) == rows:
        return array
    return np.zeros((rows, *array.shape[1:]), array.dtype)
