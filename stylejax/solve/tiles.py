"""Tiling beyond memory: a scale too large for one device is optimised as overlapping tiles.

Tiles of one shape are independent problems, so a pass hands them to `BatchSolver` as one batch (in
parallel on an accelerator, split across devices). Every tile pulls towards the whole image's style
targets: the style image is sized relative to the whole scale, not to the tile. Its content targets are
computed on a crop with a margin and then cut to the tile, so features at a tile's border come from the
real picture around it rather than from zero padding. Tiles are blended with weights that fall smoothly
to the tile's inner edges, and each pass shifts the grid by half a stride, so no seam stays in one place.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np

from stylejax.config import StyleConfig
from stylejax.nn.vgg import extract_features
from stylejax.objective.crops import MARGIN, cut
from stylejax.optim.loop import averaged_image
from stylejax.solve.batch import BatchSolver
from stylejax.solve.scales import upsample
from stylejax.solve.sizing import tile_shape

PASSES = 2  # the grid, then the grid shifted by half a stride
OVERLAP = 0.25  # of a tile's side, blended between neighbours
TILES_PER_DEVICE = 2  # tiles per device in one batch call, one after another: their states stay in memory


@dataclasses.dataclass(frozen=True)
class TiledResult:
    """One scale optimised in tiles.

    Attributes:
      image: (h, w, 3) float32 in [0, 1], the blended tiles.
      loss_history: (steps,) float32, the mean loss over tiles at the start of each step, pass after pass.
      evaluations: loss evaluations of the busiest tile, summed over passes (tiles run side by side).
      losses: {"content", "style", "tv", "total"}: each term's mean over the last pass's tiles (the
        whole image's terms would need the whole-image forward pass tiling avoids).
    """

    image: np.ndarray
    loss_history: np.ndarray
    evaluations: int
    losses: dict[str, float]


def starts(length: int, tile: int, overlap: int, shift: float = 0.0) -> list[int]:
    """Where tiles of side `tile` begin along an axis of `length`, covering it with at least `overlap`.

    `shift` in [0, 1) moves the inner tiles by that fraction of a stride; the first and last tiles stay
    at the ends, so the axis stays covered.
    """
    if length <= tile:
        return [0]
    count = math.ceil((length - overlap) / (tile - overlap))
    count = max(count, 2)
    stride = (length - tile) / (count - 1)
    if not shift:
        return [round(i * stride) for i in range(count)]
    inner = [round((i + shift) * stride) for i in range(count - 1)]
    return sorted({0, *inner, length - tile})


def window(start: int, tile: int, total: int, overlap: int) -> np.ndarray:
    """(tile,) blending weights: a raised cosine over `overlap` px at edges inside the image, 1 elsewhere."""
    position = np.arange(tile, dtype=np.float32) + 0.5
    weight = np.ones(tile, np.float32)
    ramp = lambda d: 0.5 - 0.5 * np.cos(np.pi * np.clip(d / overlap, 0.0, 1.0))  # noqa: E731
    if start > 0:
        weight *= ramp(position)
    if start + tile < total:
        weight *= ramp(tile - position)
    return np.maximum(weight, 1e-3)  # never 0: every pixel keeps a defined average


def grid(shape: tuple[int, int], tile: int, shift: float = 0.0) -> list[tuple[int, int]]:
    """Top-left corners of the tiles covering an image of `shape`."""
    overlap = max(16, round(tile * OVERLAP))
    return [(y, x) for y in starts(shape[0], tile, overlap, shift) for x in starts(shape[1], tile, overlap, shift)]


def blend(pieces: Sequence[np.ndarray], corners: Sequence[tuple[int, int]], shape: tuple[int, int],
          tile: int) -> np.ndarray:
    """Tiles (th, tw, 3) at `corners` blended into one (h, w, 3) image with smooth weights."""
    overlap = max(16, round(tile * OVERLAP))
    total = np.zeros((*shape, 3), np.float32)
    weights = np.zeros((*shape, 1), np.float32)
    for piece, (y, x) in zip(pieces, corners, strict=True):
        th, tw = piece.shape[:2]
        w = np.outer(window(y, th, shape[0], overlap), window(x, tw, shape[1], overlap))[..., None]
        total[y:y + th, x:x + tw] += w * piece
        weights[y:y + th, x:x + tw] += w
    return total / weights


def content_targets(solver: BatchSolver, content: np.ndarray, corners: Sequence[tuple[int, int]],
                    size: tuple[int, int]) -> dict[str, jax.Array]:
    """Each tile's content targets {layer: (n, 1, h', w', c)}, from crops with MARGIN px of context.

    The content is mirrored at the image's edges, where there is no more picture to show.
    """
    padded = np.pad(content, ((MARGIN, MARGIN), (MARGIN, MARGIN), (0, 0)), mode="reflect")
    th, tw = size
    crops = jnp.stack([padded[y:y + th + 2 * MARGIN, x:x + tw + 2 * MARGIN] for y, x in corners])
    layers = solver.objective.content_layers
    features = extract_features(solver.objective.graphdef, solver.shared.vgg, crops, layers)
    # The tile alone gives floor(th / stride) positions: cut the same number from the wider map.
    return {name: f[:, None] for name, f in cut(features, (MARGIN, MARGIN), size).items()}


def stylize_tiles(content: jax.Array, start: jax.Array, styles: Sequence[np.ndarray], config: StyleConfig,
                  tile: int) -> TiledResult:
    """Optimises one scale of `config.size` in overlapping tiles of `tile` px, `config.steps` steps in all.

    Args:
      content: (h, w, 3) the content image at this scale.
      start: where the optimisation starts: the previous scale's result or the initial image (any size).
      styles: the style images; their Gram targets are the whole scale's.
      config: the one-scale config (`scales.at_scale`).
      tile: the tile side in px.
    """
    shape = tuple(content.shape[:2])
    content = np.asarray(content, np.float32)
    image = np.asarray(upsample(jnp.asarray(start), shape), np.float32)
    pass_steps = [config.steps // PASSES + (i < config.steps % PASSES) for i in range(PASSES)]
    # Tiles run one after another on a device: the memory check measured one tile's program. The
    # style image at this scale's size is as large as the picture, so it goes through VGG in tiles too.
    solver = BatchSolver.create(styles, config, vmap_size=1, style_tile=tile)
    history, evaluations = [], 0
    for i, steps in enumerate(s for s in pass_steps if s > 0):
        pass_solver = dataclasses.replace(solver, config=config.replace(steps=steps))
        image, losses, tile_evaluations, terms = _tile_pass(pass_solver, content, image,
                                                           grid(shape, tile, shift=0.5 * i), tile)
        history.append(losses)
        evaluations += tile_evaluations
    mean_terms = {k: float(np.mean([t[k] for t in terms])) for k in terms[0]}
    return TiledResult(np.clip(image, 0.0, 1.0), np.concatenate(history).astype(np.float32), evaluations, mean_terms)


def _tile_pass(solver: BatchSolver, content: np.ndarray, image: np.ndarray, corners: list[tuple[int, int]],
               tile: int) -> tuple[np.ndarray, np.ndarray, int, list[dict[str, float]]]:
    """One pass over a grid: every tile optimised from `image`, then blended.

    Returns (blended image, (steps,) mean loss over tiles, evaluations of the busiest tile, tile terms).
    """
    shape = content.shape[:2]
    size = tile_shape(shape, tile)
    pieces, losses, evaluations, terms = [], [], [], []
    batch = solver.devices * TILES_PER_DEVICE
    for first in range(0, len(corners), batch):
        rows = corners[first:first + batch]
        state, history, tile_terms = solver.solve(
            [content[y:y + size[0], x:x + size[1]] for y, x in rows],
            init_images=[image[y:y + size[0], x:x + size[1]] for y, x in rows],
            content_targets=content_targets(solver, content, rows, size))
        pieces += list(np.asarray(averaged_image(state, solver.config.ema_decay))[:len(rows)])
        losses.append(history[:len(rows)])
        evaluations += list(np.asarray(state.evaluations)[:len(rows)])
        terms += tile_terms[:len(rows)]
    return blend(pieces, corners, shape, tile), np.concatenate(losses).mean(axis=0), int(max(evaluations)), terms


def seam_ratio(image: np.ndarray, tile: int) -> float:
    """Mean |gradient| across tile borders over the mean elsewhere: near 1 where no seam shows.

    The borders are the inner edges of the tiles of every pass's grid; across a vertical border the
    gradient is the difference between the pixels either side of it. Each border is compared with
    the lines of its own parity: VGG's 2x2 poolings leave a 2 px pattern in every Gatys result (in a
    whole 2048 px run, lines between pooling cells have 25% more gradient than lines inside them), and
    tile edges, on the pooling grid, would see that pattern as a seam. The worse direction counts.
    """
    overlap = max(16, round(tile * OVERLAP))
    ratios = []
    for axis in (0, 1):
        length = image.shape[axis]
        diffs = np.abs(np.diff(image, axis=axis)).mean(axis=(1 - axis, 2))  # one value per line between pixels
        edges = sorted({edge - 1 for i in range(PASSES) for s in starts(length, tile, overlap, 0.5 * i)
                        for edge in (s, s + tile) if 0 < edge < length})
        if not edges:
            continue
        parity = np.arange(len(diffs)) % 2
        inner = np.ones(len(diffs), bool)
        inner[edges] = False
        elsewhere = np.array([diffs[inner & (parity == p)].mean() if (inner & (parity == p)).any() else 0.0
                              for p in (0, 1)])
        at_edges, expected = diffs[edges].mean(), elsewhere[parity[edges]].mean()
        if expected > 0 or at_edges > 0:  # a flat direction has no seam to see
            ratios.append(float(at_edges / max(expected, 1e-12)))
    return max(ratios, default=1.0)
