"""`sweep`: one content image at a grid of style and content weights, as one batch, to choose by eye.

Loss weights are arguments of the compiled programs, never constants, so every cell of the grid is
a row of one batch: each scale compiles once for the whole grid, and the cells run
side by side (in lockstep on an accelerator, across devices). `sweep_sheet` lays the results out
as a labelled contact sheet, a row per content weight and a column per style weight.
"""

from __future__ import annotations

import dataclasses
import itertools
import time
from collections.abc import Callable, Sequence

import numpy as np
from jax.sharding import Mesh

from stylejax.config import StyleConfig
from stylejax.errors import StyleJaxError
from stylejax.io.images import ImageLike, as_image, working_shape
from stylejax.io.sheets import contact_sheet
from stylejax.objective.targets import loss_weights
from stylejax.runtime.buckets import bucket_shape
from stylejax.solve import scales
from stylejax.solve.coarse_to_fine import CoarseToFineSolver
from stylejax.solve.problem import finish_image
from stylejax.solve.sizing import check_memory


@dataclasses.dataclass(frozen=True)
class SweepResult:
    """What `sweep` returns: cell i is (content_weights[i // columns], style_weights[i % columns]).

    Attributes:
      images: (h, w, 3) float32 in [0, 1] per cell, row by row.
      cells: (content weight, style weight) per cell, in the same order.
      style_weights, content_weights: the grid's axes (columns, rows).
      losses: per cell, {"content", "style", "tv", "total"} of its image (each with its own weights).
      seconds: wall time, compilation included.
    """

    images: list[np.ndarray]
    cells: list[tuple[float, float]]
    style_weights: tuple[float, ...]
    content_weights: tuple[float, ...]
    losses: list[dict[str, float]]
    seconds: float


def sweep(content: ImageLike, style: ImageLike | Sequence[ImageLike], config: StyleConfig | None = None, *,
          style_weights: Sequence[float], content_weights: Sequence[float] | None = None,
          mesh: Mesh | None = None, vmap_size: int | str | None = "auto",
          on_chunk: Callable[[int, int], None] | None = None, log: Callable[[str], None] | None = None,
          **overrides) -> SweepResult:
    """Stylizes `content` once per (content weight, style weight) pair, all in one batch.

    Args:
      content: a path or (h, w, 3) array.
      style: a path or array, or a sequence of them (blended by `config.style_blend`).
      config: settings other than the two weights; `**overrides` change its fields.
      style_weights: the grid's columns.
      content_weights: the grid's rows (default: the config's content weight alone).
      mesh: as in `stylize_batch`.
      vmap_size: as in `stylize_batch`.
      on_chunk: called with (steps done, steps in all) as the batch advances.
      log: receives the memory check's line.

    Returns:
      A SweepResult, cells row by row.

    Example:
      >>> result = stylejax.sweep("cat.jpg", "starry.jpg", style_weights=[1e2, 1e3, 1e4], size=256)
    """
    config = (config or StyleConfig()).replace(**overrides)
    style_weights = tuple(float(w) for w in style_weights)
    content_weights = tuple(float(w) for w in (content_weights or (config.content_weight,)))
    if not style_weights:
        raise StyleJaxError("give at least one style weight")
    cells = list(itertools.product(content_weights, style_weights))
    configs = [config.replace(content_weight=c, style_weight=s) for c, s in cells]  # validates each weight
    start = time.perf_counter()
    image = as_image(content, "content image")
    solver = CoarseToFineSolver(style, config, mesh, vmap_size)
    for scale in solver.scales:
        working_shape(image.shape[:2], scale.size, "content image")
    shape = bucket_shape(image.shape[:2], config.size)
    check_memory(solver.final, [shape], len(cells), log or (lambda line: None))
    progress = None if on_chunk is None else (lambda done, pixels, history: on_chunk(done, scales.total_steps(config)))
    outcome = solver.solve([image] * len(cells), solver.bucket_shapes(shape),
                           weights=[loss_weights(c) for c in configs], on_chunk=progress)
    return SweepResult(
        images=[finish_image(outcome.images[i], image, config) for i in range(len(cells))],
        cells=cells,
        style_weights=style_weights,
        content_weights=content_weights,
        losses=outcome.losses[:len(cells)],
        seconds=time.perf_counter() - start,
    )


def cell_label(content_weight: float, style_weight: float) -> str:
    """'style 1e+03, content 1': how a cell is named on the sheet and in file names."""
    return f"style {style_weight:g}, content {content_weight:g}"


def sweep_sheet(result: SweepResult, height: int = 256) -> np.ndarray:
    """The grid as one labelled image: a row per content weight, a column per style weight.

    Args:
      result: what `sweep` returned.
      height: the height of each cell in the sheet, in pixels.

    Returns:
      The sheet, (h, w, 3) float32 in [0, 1], each cell labelled with its weights.
    """
    panels = {cell_label(*cell): image for cell, image in zip(result.cells, result.images, strict=True)}
    return contact_sheet(panels, height=height, columns=len(result.style_weights))
