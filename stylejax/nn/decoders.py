"""Decoders that turn VGG features at one level (`relu1_1` ... `relu5_1`) back into pixels.

Each is the encoder's mirror image, as in WCT (Li et al. 2017) and AdaIN (Huang & Belongie 2017): the
VGG's convolutions up to the level in reverse order with their channels swapped, each 2x2 pooling replaced
by a nearest-neighbour x2 upsampling, every convolution 3x3 after reflection padding and followed by a ReLU
but the last (to 3 channels, no activation: pixels in about [0, 1], clipped by whoever shows them). No
norm layers: the features' statistics are what a transform sets, and a norm would undo them. `width`
scales the hidden channels relative to VGG's (1.0 as the papers, 0.5 a quarter of the arithmetic); the
first convolution always reads the VGG's own channels. Pure: no file access.

Parameters (`parameter_count`) and GFLOP per 256x256 output (`flops`, a multiply-add counted as two) of
the VGG16 mirror, counted:

| level | parameters, width 1.0 | width 0.5 | GFLOP at 256 px, width 1.0 | width 0.5 |
|---|---|---|---|---|
| relu1_1 | 1,731 | 1,731 | 0.23 | 0.23 |
| relu2_1 | 112,451 | 47,011 | 7.5 | 2.5 |
| relu3_1 | 555,075 | 213,027 | 14.7 | 4.3 |
| relu4_1 | 2,915,139 | 1,024,419 | 26.8 | 7.4 |
| relu5_1 | 9,994,563 | 3,089,571 | 37.7 | 9.8 |

The VGG19 mirror to relu4_1 is AdaIN's decoder: 3,505,219 parameters, 31.6 GFLOP at 256 px.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
from flax import nnx

from stylejax.errors import StyleJaxError
from stylejax.nn import conv_rewrites
from stylejax.nn.vgg import BLOCKS, CHANNELS

LEVELS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")


class DecoderLayer(NamedTuple):
    """One convolution of a decoder: channels in and out, an x2 upsampling before it, a ReLU after it, and
    `stride`, the pixels of the output image per position of its output (1 at the last layer)."""

    c_in: int
    c_out: int
    upsample: bool
    relu: bool
    stride: int


def level_block(level: str) -> int:
    """The VGG block a level ends in: "relu4_1" -> 4; raises StyleJaxError for a name that is not a level."""
    if level not in LEVELS:
        raise StyleJaxError(f"`level` {level!r} has no decoder: use one of {', '.join(LEVELS)}")
    return int(level[4])


def decoder_plan(level: str, arch: str = "vgg16", width: float = 1.0) -> tuple[DecoderLayer, ...]:
    """The layers of the decoder for `level`: the encoder's convolutions up to it, mirrored.

    Args:
      level: one of LEVELS.
      arch: the encoder's architecture, "vgg16" or "vgg19".
      width: hidden channels relative to VGG's, > 0 (each rounded, at least 1).

    Returns:
      The layers from the features (VGG's channels at `level`) to the 3-channel image.

    Raises:
      StyleJaxError: an unknown level or architecture, or a width that is not positive.
    """
    block = level_block(level)
    if arch not in BLOCKS:
        raise StyleJaxError(f"`arch` {arch!r} is unknown: use one of {', '.join(BLOCKS)}")
    if not (isinstance(width, int | float) and width > 0):
        raise StyleJaxError(f"`width` must be a positive number (1.0: VGG's channels, 0.5: half), got {width!r}")
    # The encoder to `level`: (c_in, c_out, a pooling after it) per convolution, block by block.
    encoder = []
    c_in = 3
    for b, count in enumerate(BLOCKS[arch][:block]):
        for i in range(count if b + 1 < block else 1):
            encoder.append((c_in, CHANNELS[b], b + 1 < block and i == count - 1))
            c_in = CHANNELS[b]
    layers = []
    stride = 2 ** (block - 1)
    for index, (enc_in, enc_out, pooled) in enumerate(reversed(encoder)):
        first, last = index == 0, index == len(encoder) - 1
        stride //= 2 if pooled else 1
        layers.append(DecoderLayer(c_in=enc_out if first else _scaled(enc_out, width),
                                   c_out=3 if last else _scaled(enc_in, width),
                                   upsample=pooled, relu=not last, stride=stride))
    return tuple(layers)


def _scaled(channels: int, width: float) -> int:
    return max(1, round(channels * width))


def parameter_count(plan: tuple[DecoderLayer, ...]) -> int:
    """Weights and biases of a decoder's 3x3 convolutions."""
    return sum(9 * layer.c_in * layer.c_out + layer.c_out for layer in plan)


def flops(plan: tuple[DecoderLayer, ...], height: int, width: int) -> int:
    """FLOPs of one forward pass to an image of height x width px (multiply-add = 2; biases and ReLUs left
    out: under 0.1%)."""
    return sum(2 * 9 * layer.c_in * layer.c_out * (height // layer.stride) * (width // layer.stride)
               for layer in plan)


class Decoder(nnx.Module):
    """VGG features at one level -> pixels: the mirror image of the encoder (see the module's docstring).

    Args:
      level: the features it reads, one of LEVELS.
      arch: the encoder's architecture, "vgg16" (stylejax's shipped weights) or "vgg19".
      width: hidden channels relative to VGG's, > 0.
      rngs: initialises the weights: He-normal kernels for the ReLUs, zero biases, and a zero last kernel
        with bias 0.5, so that a new decoder paints uniform grey. VGG features are far from unit scale
        (mean square 18-29 at relu4_1 of two photos): with a He-normal last kernel the first outputs were
        about +-10, and after 40 Adam steps at 64 px (relu4_1, width 0.5) the pixel error was twice and the
        feature error four times the grey start's.
    """

    def __init__(self, level: str = "relu4_1", *, arch: str = "vgg16", width: float = 1.0,
                 rngs: nnx.Rngs | None = None):
        rngs = rngs if rngs is not None else nnx.Rngs(0)
        self.level = level
        self.arch = arch
        self.width = width
        self.plan = decoder_plan(level, arch, width)
        init = jax.nn.initializers.he_normal()
        self.convs = nnx.List([nnx.Conv(layer.c_in, layer.c_out, (3, 3), padding="VALID", kernel_init=init,
                                        rngs=rngs) for layer in self.plan])
        last = self.convs[-1]
        last.kernel.set_value(jnp.zeros_like(last.kernel[...]))
        last.bias.set_value(jnp.full_like(last.bias[...], 0.5))

    @property
    def scale(self) -> int:
        """Output pixels per feature position along a side: 2 ** (block - 1)."""
        return 2 ** (level_block(self.level) - 1)

    def __call__(self, features: jax.Array, *, rewrite: bool = True) -> jax.Array:
        """features: (b, h, w, c) VGG activations at `level` -> (b, h * scale, w * scale, 3) pixels, about
        [0, 1] (not clipped: training sees the true error). Any h, w >= 2 (reflection padding needs 2).

        `rewrite`: each upsampling and the convolution after it in the exact sub-pixel form
        (`conv_rewrites.upsampled_conv`, faster on XLA:CPU); False: XLA's own (symbolic sizes, exports)."""
        x = features
        for layer, conv in zip(self.plan, self.convs, strict=True):
            if layer.upsample and rewrite:
                x = conv_rewrites.upsampled_conv(x, conv.kernel[...]) + conv.bias[...].reshape(1, 1, 1, -1)
            else:
                if layer.upsample:
                    x = upsample(x)
                x = jnp.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)), mode="reflect")
                # `conv_rewrites.conv`: the last layer, to pixels, as one matrix product and tap sums (9-20x
                # faster at 512 px than XLA's VALID convolution), the others in XLA's faster padded form.
                if rewrite:
                    x = conv_rewrites.conv(x, conv.kernel[...]) + conv.bias[...].reshape(1, 1, 1, -1)
                else:
                    x = conv(x)
            if layer.relu:
                x = jax.nn.relu(x)
        return x


def upsample(x: jax.Array) -> jax.Array:
    """Nearest-neighbour x2: (b, h, w, c) -> (b, 2h, 2w, c).

    Reflecting the result by 1 px equals edge-padding x first, so upsample + reflect + 3x3 convolution has
    the exact sub-pixel form (four 2x2 convolutions on the small image, docs/network.md).
    """
    return jnp.repeat(jnp.repeat(x, 2, axis=1), 2, axis=2)
