"""Shape buckets: images of similar shapes run at one shape, so they share one compiled program.

Two policies: an optimisation resizes each image to its bucket (`bucket_shape`: the long side exact, the
short side rounded); a style network pads each image up to its bucket (`apply_bucket`) and crops its
output back, so every image comes out as it would alone.
"""

from __future__ import annotations

from stylejax.config import MIN_SIDE
from stylejax.io import images

BUCKET = 16  # the short side is rounded to a multiple of this, so similar aspect ratios share a program


def bucket_shape(shape: tuple[int, int], size: int) -> tuple[int, int]:
    """The (h, w) an image of `shape` is optimised at: longest side `size`, short side rounded to BUCKET."""
    h, w = images.fit_size(shape, size)

    def rounded(side: int) -> int:  # halves round up (Python's round() would send 40 to 32, not 48)
        return max(MIN_SIDE, (side + BUCKET // 2) // BUCKET * BUCKET)

    return (h, rounded(w)) if h >= w else (rounded(h), w)


def apply_bucket(shape: tuple[int, int]) -> tuple[int, int]:
    """The (h, w) an image of `shape` is padded to: each side rounded up to a multiple of BUCKET, or of
    1/16 to 1/32 of it on long sides (a power of two), so padding stays under 1/16 of a side and images
    of similar shapes share a compiled program."""

    def rounded(side: int) -> int:
        step = max(BUCKET, 2 ** (int(side).bit_length() - 5))
        return -(-int(side) // step) * step

    return rounded(shape[0]), rounded(shape[1])


def planned_bucket(shape: tuple[int, int], size: int | None) -> tuple[int, int]:
    """The bucket an input of `shape` is planned in at output long side `size` (None: its own size), before
    any shrinking for memory: `apply_bucket` of its output's shape."""
    return apply_bucket(shape if size is None else images.fit_size(shape, size))
