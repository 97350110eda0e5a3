"""Will a size fit in memory? What to do when it does not: remat, tiles, or one clear refusal.

Checked before the long work starts, against what one device can use (`memory.available_bytes`): a
cheap lower bound first, so an absurd size is refused without compiling anything, then XLA's memory
analysis of the compiled step program. Remat (recomputing VGG activations in the backward pass) is
tried before tiling because it keeps the whole-image objective; tiles are the way past any memory.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from stylejax.config import MIN_TILE, StyleConfig
from stylejax.errors import StyleJaxError
from stylejax.runtime import memory
from stylejax.runtime.memory import describe

if TYPE_CHECKING:  # the solver is built on this module's checks
    from stylejax.solve.batch import BatchSolver

# Tile sides `tile="auto"` tries, largest first: bigger tiles see more of the picture at once.
AUTO_TILES = (1024, 768, 512, 384, 256, 192, MIN_TILE)

# The whole-scale arrays a tiled run still holds in RAM: content, image, blend sums and copies, f32 RGB.
IMAGE_BYTES_PER_PIXEL = 8 * 3 * 4

# measure(shape, remat) -> bytes one optimisation of an image of that (h, w) needs.
Measure = Callable[[tuple[int, int], bool], int]

_F32 = 4
_RELU1_1_CHANNELS = 64  # the widest activation at full resolution: every VGG starts with 64 channels


@dataclasses.dataclass(frozen=True)
class Fit:
    """How a run fits: with remat or not, in tiles of `tile` px or whole; `need` of `limit` bytes."""

    remat: bool
    tile: int | None
    need: int | None
    limit: int | None


def lower_bound_bytes(shape: tuple[int, int]) -> int:
    """Bytes one optimisation step of an (h, w) image needs at least; nothing is compiled.

    The pixels (3 f32 channels), the relu1_1 activations (64 f32 channels) and their gradient must all
    exist at once in any step, remat or not, so this refuses absurd sizes before XLA is asked to
    compile them. Plain Python ints: a 100000 px side cannot overflow.

    Args:
      shape: (h, w) of the image optimised.
    """
    h, w = (int(side) for side in shape)
    pixels = h * w
    return pixels * _F32 * (3 + 2 * _RELU1_1_CHANNELS)


def _remat_choices(remat: bool | None) -> tuple[bool, ...]:
    return (False, True) if remat is None else (remat,)


def _first_fit(measure: Measure, shape: tuple[int, int], remat: bool | None, limit: int
               ) -> tuple[bool, int, bool]:
    """(remat, need, measured) for the first remat choice that fits, else the last one tried.

    Not measured: the cheap lower bound alone already exceeds the limit, and nothing was compiled.
    """
    need = lower_bound_bytes(shape)
    choice = bool(remat)
    if need > limit:
        return choice, need, False
    for choice in _remat_choices(remat):
        need = measure(shape, choice)
        if need <= limit:
            break
    return choice, need, True


def tile_shape(shape: tuple[int, int], tile: int) -> tuple[int, int]:
    """The (h, w) of every tile of an image of `shape`: `tile` square, or the whole side where it is shorter."""
    return min(tile, shape[0]), min(tile, shape[1])


def fit(measure: Measure, shape: tuple[int, int], config: StyleConfig, *,
        log: Callable[[str], None] | None = None) -> Fit:
    """How an image of `shape` (its largest scale) is optimised within memory.

    Raises:
      StyleJaxError: when neither remat nor tiles (as the config allows them) make it fit; the message
        says what it needs, what is available, and which option to use.
    """
    say = log or (lambda line: None)
    limit = memory.available_bytes()
    side = f"{shape[1]}x{shape[0]}"
    if limit is None:  # nothing to check against: run as configured
        return Fit(bool(config.remat), config.tile if isinstance(config.tile, int) else None, None, None)
    whole, host = shape[0] * shape[1] * IMAGE_BYTES_PER_PIXEL, memory.host_available_bytes()
    if host is not None and whole > host:  # tiles cannot help: the picture itself does not fit in RAM
        raise StyleJaxError(f"`size` {config.size} ({side}) is too large: its images alone need "
                            f"{memory.describe(whole)} of RAM but {memory.describe(host)} is available: "
                            "use a smaller `size`")
    if isinstance(config.tile, int) and max(shape) > config.tile:
        return _fit_tiles(measure, shape, config.tile, config, limit, say, explicit=True)
    remat, need, measured = _first_fit(measure, shape, config.remat, limit)
    if need <= limit:
        say(f"{side} needs {memory.describe(need)} of {memory.describe(limit)} available"
            + (" (with remat)" if remat else ""))
        return Fit(remat, None, need, limit)
    if config.tile == "auto":
        for tile in AUTO_TILES:
            if tile < max(shape):
                tiled = _fit_tiles(measure, shape, tile, config, limit, say, explicit=False)
                if tiled is not None:
                    return tiled
    what = "at least " if not measured else "with remat " if remat else ""
    options = ("`tile` 'auto' or a smaller `size`" if config.remat is None or remat or not measured
               else "`remat`, `tile` 'auto', or a smaller `size`")
    if config.tile == "auto":
        options = f"a smaller `size` (even {MIN_TILE} px tiles do not fit)"
    raise StyleJaxError(f"`size` {config.size} ({side}) needs {what}{memory.describe(need)} but "
                        f"{memory.describe(limit)} is available: use {options}")


def _fit_tiles(measure: Measure, shape: tuple[int, int], tile: int, config: StyleConfig, limit: int,
               say: Callable[[str], None], *, explicit: bool) -> Fit | None:
    piece = tile_shape(shape, tile)
    remat, need, _ = _first_fit(measure, piece, config.remat, limit)
    if need <= limit:
        say(f"{shape[1]}x{shape[0]} runs in {tile} px tiles: each needs {memory.describe(need)} of "
            f"{memory.describe(limit)} available" + (" (with remat)" if remat else ""))
        return Fit(remat, tile, need, limit)
    if explicit:
        raise StyleJaxError(f"a {tile} px tile needs {memory.describe(need)} but {memory.describe(limit)} is "
                            "available: use a smaller `tile`, or `tile` 'auto'")
    return None


def check_memory(solver: BatchSolver, shapes: Sequence[tuple[int, int]], batch_size: int,
                 log: Callable[[str], None]) -> None:
    """Says what a batch needs per device and refuses a batch size that cannot fit."""
    limit = memory.available_bytes()
    for shape in sorted(set(shapes)):
        need = solver.memory_needed(shape, batch_size)
        log(f"a batch of {batch_size} at {shape[1]}x{shape[0]} needs {describe(need)} per device"
            + (f" (of {describe(limit)})" if limit else ""))
        if limit and need > limit:
            fits = _largest_batch(solver, shape, batch_size, need, limit)
            advice = (f"use `batch_size` {fits} or less, or a smaller `size`" if fits
                      else "even one image per device does not fit: use a smaller `size`")
            raise StyleJaxError(f"`batch_size` {batch_size} at {shape[1]}x{shape[0]} needs {describe(need)} "
                                f"per device but {describe(limit)} is available: {advice}")


def _largest_batch(solver: BatchSolver, shape: tuple[int, int], batch_size: int, need: int, limit: int) -> int:
    """The largest batch size whose memory fits, from a line through the smallest batch's need and `need`.

    Memory grows about linearly with a device's rows (states, and activations of each lockstep group) on
    top of a fixed part (weights, one group's activations when groups run in sequence).
    """
    smallest = solver.padded(1)
    rows, smallest_rows = solver.padded(batch_size) // solver.devices, smallest // solver.devices
    smallest_need = solver.memory_needed(shape, smallest)
    if smallest_need > limit:
        return 0
    per_row = max(1, -(-(need - smallest_need) // max(1, rows - smallest_rows)))  # rounded up: err on fitting
    headroom = limit // 20  # the line is close, not exact (XLA pads and aligns buffers)
    fitting_rows = smallest_rows + max(0, limit - headroom - smallest_need) // per_row
    if solver.vmap_size and fitting_rows > solver.vmap_size:  # whole lockstep groups, or padding adds rows
        fitting_rows -= fitting_rows % solver.vmap_size
    return max(smallest, min(batch_size - 1, fitting_rows * solver.devices))
