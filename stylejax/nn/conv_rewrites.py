"""Exact rewrites of the style network's convolutions into forms XLA:CPU runs faster.

Each function is the same function as the plain layer it replaces (to float rounding), forward and
gradient: only the order of the arithmetic changes. XLA:CPU runs convolutions that reduce channels, and
9x9 ones with 3 channels on a side, at a small fraction of the speed it runs the wide, square ones at
(docs/network.md); these forms turn them into the shapes it runs well. Kernels are HWIO, images NHWC.
Pure functions of arrays with concrete shapes.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

_DIMENSIONS = ("NHWC", "HWIO", "NHWC")
_EXACT = jax.lax.Precision.HIGHEST  # kernel rearrangements: sums of taps, never rounded to bf16 or tf32

# Nearest x2 then a 3x3 convolution: output row 2a+p reads upsampled rows 2a+p-1..2a+p+1, which are small
# rows (a-1, a, a) for p = 0 and (a, a, a+1) for p = 1: two taps each, the 3x3 kernel's rows summed so.
# _PHASE_TAPS[p, t, r]: kernel row r goes into tap t of phase p.
_PHASE_TAPS = np.array([[[1, 0, 0], [0, 1, 1]], [[1, 1, 0], [0, 0, 1]]], np.float32)


def _conv(x: jax.Array, kernel: jax.Array) -> jax.Array:
    return jax.lax.conv_general_dilated(x, kernel, (1, 1), "VALID", dimension_numbers=_DIMENSIONS)


def upsampled_conv(x: jax.Array, kernel: jax.Array, extent: jax.Array | None = None) -> jax.Array:
    """Nearest-neighbour x2, reflection padding by 1, then a 3x3 convolution, as one 2x2 convolution of the
    small image into four phases (Shi et al.'s sub-pixel form): 16 instead of 36 multiply-adds per pixel and
    channel pair, and a widening convolution (c -> 4 c_out) where the plain one reduces channels.

    Reflecting the upsampled image by 1 repeats its edge pixel, which is the small image's edge pixel: so
    the small image is padded by edge replication.

    Args:
      x: (b, h, w, c) the image before upsampling.
      kernel: (3, 3, c, c_out).
      extent: (b, 2) each image's (h, w) in the small image, for a padded batch: past it each image is
        reflected (after upsampling) in the plain layer, which is edge replication here.

    Returns:
      (b, 2h, 2w, c_out): the plain layer's output (within each image's doubled extent, if given).
    """
    b, h, w, c = x.shape
    c_out = kernel.shape[-1]
    if extent is not None:
        x = _replicate_beyond(x, extent)
    x = jnp.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)), mode="edge")
    phases = jnp.einsum("ptr,qus,rsio->tuipqo", _PHASE_TAPS, _PHASE_TAPS, kernel, precision=_EXACT)
    z = _conv(x, phases.reshape(2, 2, c, 4 * c_out)).reshape(b, h + 1, w + 1, 2, 2, c_out)
    # Phase (p, q) of output pixel (2a+p, 2b+q) is z[a+p, b+q, p, q]: interleave the four.
    rows = [jnp.stack([z[:, p:p + h, q:q + w, p, q] for q in (0, 1)], axis=3) for p in (0, 1)]
    return jnp.stack(rows, axis=2).reshape(b, 2 * h, 2 * w, c_out)


def blocked_conv(x: jax.Array, kernel: jax.Array, block: int = 4) -> jax.Array:
    """A stride-1 VALID convolution computed on block x block pixel blocks (space to depth): a k x k kernel
    from c to c_out channels becomes a ceil((k + block - 1) / block)-square one from block² c to block² c_out.

    For 9x9 convolutions with few input channels (3 -> 32): block 4 makes them 3x3, 48 -> 512, a shape
    XLA:CPU runs several times faster, for 1.8x the multiply-adds (the block kernel's zero taps).

    Args:
      x: (b, h, w, c), already padded.
      kernel: (k, k, c, c_out).
      block: the block side.

    Returns:
      (b, h - k + 1, w - k + 1, c_out).
    """
    b, h, w, c = x.shape
    k, c_out = kernel.shape[0], kernel.shape[-1]
    out_h, out_w = h - k + 1, w - k + 1
    taps = -(-(k + block - 1) // block)
    blocks_h, blocks_w = -(-out_h // block), -(-out_w // block)
    # Rows and columns the blocks read; those past the input only reach outputs that are cropped.
    need_h, need_w = (blocks_h + taps - 1) * block, (blocks_w + taps - 1) * block
    x = jnp.pad(x, ((0, 0), (0, max(0, need_h - h)), (0, max(0, need_w - w)), (0, 0)))[:, :need_h, :need_w]
    x = x.reshape(b, need_h // block, block, need_w // block, block, c).transpose(0, 1, 3, 2, 4, 5)
    x = x.reshape(b, need_h // block, need_w // block, block * block * c)
    # Block kernel tap A, input offset u, output offset r reads kernel row block * A + u - r.
    select = np.zeros((taps, block, block, k), np.float32)
    for a in range(taps):
        for u in range(block):
            for r in range(block):
                if 0 <= block * a + u - r < k:
                    select[a, u, r, block * a + u - r] = 1
    blocked = jnp.einsum("auri,bvtj,ijco->abuvcrto", select, select, kernel, precision=_EXACT)
    y = _conv(x, blocked.reshape(taps, taps, block * block * c, block * block * c_out))
    y = y.reshape(b, blocks_h, blocks_w, block, block, c_out).transpose(0, 1, 3, 2, 4, 5)
    return y.reshape(b, blocks_h * block, blocks_w * block, c_out)[:, :out_h, :out_w]


def tap_sum_conv(x: jax.Array, kernel: jax.Array) -> jax.Array:
    """A stride-1 VALID convolution as one matrix product giving every tap's contribution at every pixel,
    then the sum of the k² shifted contributions.

    For convolutions to few channels (9x9, 32 -> 3): the product (pixels, c) x (c, k² c_out) is a shape
    XLA:CPU runs near its matrix speed, and the sum reads each product once, where XLA's convolution
    runs the plain layer at a few GFLOP/s.

    Args:
      x: (b, h, w, c), already padded.
      kernel: (k, k, c, c_out).

    Returns:
      (b, h - k + 1, w - k + 1, c_out).
    """
    b, h, w, c = x.shape
    k, c_out = kernel.shape[0], kernel.shape[-1]
    out_h, out_w = h - k + 1, w - k + 1
    taps = jnp.dot(x.reshape(b * h * w, c), kernel.transpose(2, 0, 1, 3).reshape(c, k * k * c_out))
    taps = taps.reshape(b, h, w, k, k, c_out)
    return sum(taps[:, i:i + out_h, j:j + out_w, i, j] for i in range(k) for j in range(k))


def _replicate_beyond(x: jax.Array, extent: jax.Array) -> jax.Array:
    """x (b, h, w, c) with the rows and columns past each image's `extent` (b, 2) its last row and column."""
    rows = jnp.minimum(jnp.arange(x.shape[1])[None, :], extent[:, 0, None] - 1)
    cols = jnp.minimum(jnp.arange(x.shape[2])[None, :], extent[:, 1, None] - 1)
    x = jnp.take_along_axis(x, rows[:, :, None, None], axis=1)
    return jnp.take_along_axis(x, cols[:, None, :, None], axis=2)
