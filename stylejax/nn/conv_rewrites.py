"""Exact rewrites of the style network's convolutions into forms XLA:CPU runs faster.

Each public function is the same function as the plain layer it replaces (to float rounding), forward and
gradient: only the order of the arithmetic changes. XLA:CPU runs VALID convolutions (the network pads by
reflection itself) several times slower than padded ones of the same shape, and convolutions that reduce
channels, and 9x9 ones with 3 channels on a side, at a fraction of the speed it runs wide, square ones at
(docs/network.md); the forms below turn them into shapes and paddings it runs well. A layer's values and its gradient
may come from two different forms (`_paired`), each the faster one measured for its job
(benchmarks/network_layers.py). Kernels are HWIO, images NHWC, shapes concrete (exported networks,
whose sizes are symbolic, keep the plain layers: the network called with `rewrite=False`).
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np

from stylejax.nn import padding

_DIMENSIONS = ("NHWC", "HWIO", "NHWC")
_PIXEL_CHANNELS = 4  # a small kernel to at most this many channels runs as tap sums
_EXACT = jax.lax.Precision.HIGHEST  # kernel rearrangements: sums of taps, never rounded to bf16 or tf32

# Nearest x2 then a 3x3 convolution: output row 2a+p reads upsampled rows 2a+p-1..2a+p+1, which are small
# rows (a-1, a, a) for p = 0 and (a, a, a+1) for p = 1: two taps each, the 3x3 kernel's rows summed so.
# _PHASE_TAPS[p, t, r]: kernel row r goes into tap t of phase p.
_PHASE_TAPS = np.array([[[1, 0, 0], [0, 1, 1]], [[1, 1, 0], [0, 0, 1]]], np.float32)


def conv(x: jax.Array, kernel: jax.Array, stride: int = 1) -> jax.Array:
    """A VALID convolution, in the fastest exact form measured for its shape.

    9x9 kernels run on pixel blocks (space to depth: 4x4 blocks from few channels to many, the network's
    first layer, 3 -> width; 2x2 blocks the other way, its last, width -> 3, whose values come from XLA's
    padded form from 32 channels, where that was faster); a decoder's last 3x3 layer, to
    pixels, as one matrix product and a sum of shifted taps; every other shape, and every strided one, as
    XLA's convolution in its padded form (`valid_conv`). Measured at 512x384: a 3x3 convolution from 32 (64)
    channels to 3 took 166 (323) ms as XLA's VALID one, 19 (15) ms as tap sums.

    Args:
      x: (b, h, w, c), already padded.
      kernel: (k, k, c, c_out).
      stride: both sides' stride.

    Returns:
      (b, (h - k) // stride + 1, (w - k) // stride + 1, c_out).
    """
    k, _, c_in, c_out = kernel.shape
    if stride != 1:
        return valid_conv(x, kernel, stride)
    if k < 5:
        return _to_pixels(x, kernel) if c_out <= _PIXEL_CHANNELS < c_in else valid_conv(x, kernel)
    if c_in < c_out:
        return _widening(x, kernel)
    return _narrowing(x, kernel) if c_in < _WIDE_NARROWING else _wide_narrowing(x, kernel)


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
    x = padding.pad_within(x, 1, extent, mode="edge")
    phases = jnp.einsum("ptr,qus,rsio->tuipqo", _PHASE_TAPS, _PHASE_TAPS, kernel, precision=_EXACT)
    z = _phase_conv(x, phases.reshape(2, 2, c, 4 * c_out)).reshape(b, h + 1, w + 1, 2, 2, c_out)
    # Phase (p, q) of output pixel (2a+p, 2b+q) is z[a+p, b+q, p, q]: interleave the four.
    rows = [jnp.stack([z[:, p:p + h, q:q + w, p, q] for q in (0, 1)], axis=3) for p in (0, 1)]
    return jnp.stack(rows, axis=2).reshape(b, 2 * h, 2 * w, c_out)


def valid_conv(x: jax.Array, kernel: jax.Array, stride: int = 1) -> jax.Array:
    """A VALID convolution (`x` already padded), computed as a padded one with its first output row and
    column cropped: XLA:CPU runs convolutions that pad 2-20x faster than VALID ones of the same shape
    (measured 2026-12-05: a 3x3 128->128 at 4x64x64 66 -> 194 GFLOP/s, a 9x9 32->3 5 -> 106). Padding by
    `stride` in front shifts every window by one output, so the outputs after the first row and column are
    the VALID ones, the same sums of the same products.

    Args:
      x: (b, h, w, c).
      kernel: (k, k, c, c_out).
      stride: both sides' stride.

    Returns:
      (b, (h - k) // stride + 1, (w - k) // stride + 1, c_out).
    """
    in_front = ((stride, 0), (stride, 0))
    y = jax.lax.conv_general_dilated(x, kernel, (stride, stride), in_front, dimension_numbers=_DIMENSIONS)
    return y[:, 1:, 1:]


def _patch_product(x: jax.Array, kernel: jax.Array) -> jax.Array:
    """A stride-1 VALID convolution as (pixels, k² c) patches times the (k² c, c_out) kernel."""
    b, h, w, c = x.shape
    k, c_out = kernel.shape[0], kernel.shape[-1]
    out_h, out_w = h - k + 1, w - k + 1
    patches = jnp.concatenate([x[:, i:i + out_h, j:j + out_w] for i in range(k) for j in range(k)], axis=-1)
    return jnp.dot(patches.reshape(-1, k * k * c), kernel.reshape(k * k * c, c_out)).reshape(b, out_h, out_w, c_out)


def _blocked(x: jax.Array, kernel: jax.Array, block: int) -> jax.Array:
    """A stride-1 VALID convolution computed on block x block pixel blocks (space to depth): a k x k kernel
    from c to c_out channels becomes a ceil((k + block - 1) / block)-square one from block² c to block² c_out
    (its zero taps cost (ceil(...) block / k)² the multiply-adds: 1.8x for 9x9 in blocks of 4)."""
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
    # Block kernel tap a, input offset u, output offset r reads kernel row block * a + u - r.
    select = np.zeros((taps, block, block, k), np.float32)
    for a in range(taps):
        for u in range(block):
            for r in range(block):
                if 0 <= block * a + u - r < k:
                    select[a, u, r, block * a + u - r] = 1
    blocked = jnp.einsum("auri,bvtj,ijco->abuvcrto", select, select, kernel, precision=_EXACT)
    y = valid_conv(x, blocked.reshape(taps, taps, block * block * c, block * block * c_out))
    y = y.reshape(b, blocks_h, blocks_w, block, block, c_out).transpose(0, 1, 3, 2, 4, 5)
    return y.reshape(b, blocks_h * block, blocks_w * block, c_out)[:, :out_h, :out_w]


def _tap_sums(x: jax.Array, kernel: jax.Array) -> jax.Array:
    """A stride-1 VALID convolution as one (pixels, c) x (c, k² c_out) product, every tap's contribution at
    every pixel, then the sum of the k² shifted contributions (forward only: autodiff's transpose of the
    shifts pads each to the whole product, ~100x slower than the plain layer's gradient)."""
    b, h, w, c = x.shape
    k, c_out = kernel.shape[0], kernel.shape[-1]
    out_h, out_w = h - k + 1, w - k + 1
    taps = jnp.dot(x.reshape(b * h * w, c), kernel.transpose(2, 0, 1, 3).reshape(c, k * k * c_out))
    taps = taps.reshape(b, h, w, k * k, c_out)
    return sum(taps[:, i:i + out_h, j:j + out_w, i * k + j] for i in range(k) for j in range(k))


def _paired(forward: Callable, gradient: Callable) -> Callable:
    """f(x, kernel) with `forward`'s values and `gradient`'s VJP: one function computed two ways (reverse
    mode only, like any `custom_vjp`)."""

    @jax.custom_vjp
    def paired(x: jax.Array, kernel: jax.Array) -> jax.Array:
        return forward(x, kernel)

    def values(x: jax.Array, kernel: jax.Array) -> tuple[jax.Array, tuple[jax.Array, jax.Array]]:
        return forward(x, kernel), (x, kernel)

    def pullback(inputs: tuple[jax.Array, jax.Array], grad: jax.Array) -> tuple[jax.Array, jax.Array]:
        return jax.vjp(gradient, *inputs)[1](grad)

    paired.defvjp(values, pullback)
    return paired


# Forms measured at the network's shapes (512x320 batch 1, 128 and 256 px batch 4; forward and VJP apart).
_widening = _paired(functools.partial(_blocked, block=4), valid_conv)
_narrowing = functools.partial(_blocked, block=2)
# 9x9 32 -> 3 (2026-12-05, 512x320 to 512x512 batch 1, 136 and 264 px batch 4): values 27-41 ms in XLA's
# padded form against 30-58 on 2x2 blocks, gradient 56-310 on blocks against 78-380; from 16 channels the
# blocks won both (forward 20 against 60-95 ms).
_WIDE_NARROWING = 32
_wide_narrowing = _paired(valid_conv, _narrowing)
_phase_conv = _paired(valid_conv, _patch_product)
_to_pixels = _paired(_tap_sums, valid_conv)
