"""The feed-forward style network (Johnson, Alahi & Fei-Fei 2016) with the fixes the field adopted.

Reflection padding before every convolution (zero padding leaves border artefacts), instance
normalisation (Ulyanov et al. 2016), nearest-neighbour upsampling then a convolution (transposed
convolutions leave checkerboards), 9x9 convolutions at both ends and five residual blocks at a quarter
of the resolution. Each normalisation is conditional (Dumoulin et al. 2017): a scale and shift per
style, blended by per-image style weights, so one network holds several styles. Pure: no file access.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import nnx

from stylejax.errors import StyleJaxError
from stylejax.nn import conv_rewrites, padding

WIDTHS = (32, 16)  # the first layer's channels; 32 is Johnson's network, 16 a quarter of the arithmetic
RESIDUAL_BLOCKS = 5
DOWNSAMPLING = 4  # two stride-2 convolutions: inputs are padded to a multiple of this
# The shortest image side the network is given (not VGG's `config.MIN_SIDE`): it halves the side twice
# and reflects 4 px at the ends of its 9x9 convolutions.
NETWORK_MIN_SIDE = 8


class ConditionalInstanceNorm(nnx.Module):
    """Instance normalisation with a (scale, shift) row per style; a style mix blends the rows.

    Args:
      channels: the normalised channels.
      num_styles: rows of the scale and shift tables.
    """

    def __init__(self, channels: int, num_styles: int):
        self.scale = nnx.Param(jnp.ones((num_styles, channels), jnp.float32))
        self.shift = nnx.Param(jnp.zeros((num_styles, channels), jnp.float32))

    def __call__(self, x: jax.Array, style: jax.Array, extent: jax.Array | None = None) -> jax.Array:
        """x: (b, h, w, c); style: (b, num_styles) weights -> (b, h, w, c) normalised per image and channel.

        `extent`: (b, 2) each image's (h, w) within a padded batch; statistics are taken over it alone.
        """
        if extent is None:
            mean = jnp.mean(x, axis=(1, 2), keepdims=True)
            var = jnp.var(x, axis=(1, 2), keepdims=True)
        else:
            # Selects, not products with a 0/1 mask: XLA:CPU fuses them into the sums (2x faster measured).
            inside = _inside(x.shape, extent)
            count = (extent[:, 0] * extent[:, 1]).astype(x.dtype)[:, None, None, None]
            mean = jnp.sum(jnp.where(inside, x, 0), axis=(1, 2), keepdims=True) / count
            var = jnp.sum(jnp.where(inside, jnp.square(x - mean), 0), axis=(1, 2), keepdims=True) / count
        scale = (style @ self.scale[...])[:, None, None, :]  # weights not normalised, as magenta's blend
        shift = (style @ self.shift[...])[:, None, None, :]
        return (x - mean) * jax.lax.rsqrt(var + 1e-5) * scale + shift


class ReflectConv(nnx.Module):
    """Reflection padding by k // 2, then a k x k convolution (stride 1 or 2)."""

    def __init__(self, c_in: int, c_out: int, kernel: int, stride: int, rngs: nnx.Rngs, *, bias: bool = True):
        self.pad = kernel // 2
        self.stride = stride
        self.conv = nnx.Conv(c_in, c_out, (kernel, kernel), strides=stride, padding="VALID", use_bias=bias,
                             rngs=rngs)

    def __call__(self, x: jax.Array, extent: jax.Array | None = None, *, rewrite: bool = True) -> jax.Array:
        """x: (b, h, w, c_in) -> (b, h', w', c_out); `extent` (b, 2): each image's (h, w) within a padded
        batch, at which x is reflected (`padding.pad_within`), so the image's pixels see what they would alone.
        `rewrite`: the convolution in `conv_rewrites.conv`'s exact forms (False: XLA's own)."""
        x = padding.pad_within(x, self.pad, extent)
        if not rewrite:
            return self.conv(x)
        y = conv_rewrites.conv(x, self.conv.kernel[...], self.stride)
        return y if self.conv.bias is None else y + self.conv.bias[...][None, None, None, :]


class ConvNorm(nnx.Module):
    """ReflectConv, conditional instance norm, then ReLU (unless `relu=False`: the residual's second half)."""

    def __init__(self, c_in: int, c_out: int, kernel: int, stride: int, num_styles: int, rngs: nnx.Rngs,
                 *, upsample: bool = False, relu: bool = True):
        # No bias: the norm subtracts the mean, so a bias would get no gradient (and Adam would amplify noise).
        self.conv = ReflectConv(c_in, c_out, kernel, stride, rngs, bias=False)
        self.norm = ConditionalInstanceNorm(c_out, num_styles)
        self.upsample = upsample
        self.relu = relu

    def __call__(self, x: jax.Array, style: jax.Array, extent: jax.Array | None = None, *,
                 rewrite: bool = True) -> jax.Array:
        """x: (b, h, w, c_in) -> (b, h', w', c_out); `extent` (b, 2): see `ReflectConv`, before upsampling.
        `rewrite`: the convolution in `conv_rewrites`' exact forms (False: XLA's own)."""
        if self.upsample and rewrite:  # the same function as the branch below, 4 small phases at once
            y = conv_rewrites.upsampled_conv(x, self.conv.conv.kernel[...], extent)
            extent = None if extent is None else 2 * extent
        else:
            if self.upsample:  # nearest-neighbour x2 then a convolution: no checkerboard
                x = jnp.repeat(jnp.repeat(x, 2, axis=1), 2, axis=2)
                extent = None if extent is None else 2 * extent
            y = self.conv(x, extent, rewrite=rewrite)
        out = None if extent is None else extent // self.conv.stride
        y = self.norm(y, style, out)
        return jax.nn.relu(y) if self.relu else y


class ResidualBlock(nnx.Module):
    """Two 3x3 ConvNorms (ReLU between) and an identity shortcut."""

    def __init__(self, channels: int, num_styles: int, rngs: nnx.Rngs):
        self.first = ConvNorm(channels, channels, 3, 1, num_styles, rngs)
        self.second = ConvNorm(channels, channels, 3, 1, num_styles, rngs, relu=False)

    def __call__(self, x: jax.Array, style: jax.Array, extent: jax.Array | None = None, *,
                 rewrite: bool = True) -> jax.Array:
        y = self.first(x, style, extent, rewrite=rewrite)
        return x + self.second(y, style, extent, rewrite=rewrite)


class StyleNetwork(nnx.Module):
    """Johnson et al.'s image transformation network with conditional instance norm.

    `c9s1-W, d2W, d4W, R4W x 5, u2W, uW, c9s1-3`, then a sigmoid to pixels in [0, 1]. Width 32:
    1,677,635 parameters with one style (the PyTorch example's 1,679,235 less the 1,600 biases that an
    instance norm cancels); each further style adds 3,200 (a scale and shift row per norm).

    Args:
      width: channels of the first layer, one of WIDTHS (or any positive multiple of 4 for experiments).
      num_styles: styles the network holds.
      rngs: initialises the weights.
    """

    def __init__(self, width: int = 32, num_styles: int = 1, *, rngs: nnx.Rngs | None = None):
        if not isinstance(width, int) or width <= 0 or width % 4:
            raise StyleJaxError(f"width must be a positive multiple of 4 (32 or 16), got {width!r}")
        if not isinstance(num_styles, int) or num_styles < 1:
            raise StyleJaxError(f"a network needs at least one style, got {num_styles!r}")
        rngs = rngs if rngs is not None else nnx.Rngs(0)
        self.width = width
        self.num_styles = num_styles
        w = width
        self.down = nnx.List([ConvNorm(3, w, 9, 1, num_styles, rngs), ConvNorm(w, 2 * w, 3, 2, num_styles, rngs),
                              ConvNorm(2 * w, 4 * w, 3, 2, num_styles, rngs)])
        self.residuals = nnx.List([ResidualBlock(4 * w, num_styles, rngs) for _ in range(RESIDUAL_BLOCKS)])
        self.up = nnx.List([ConvNorm(4 * w, 2 * w, 3, 1, num_styles, rngs, upsample=True),
                            ConvNorm(2 * w, w, 3, 1, num_styles, rngs, upsample=True)])
        self.out = ReflectConv(w, 3, 9, 1, rngs)

    def __call__(self, images: jax.Array, style: jax.Array, sizes: jax.Array | None = None, *,
                 rewrite: bool = True) -> jax.Array:
        """images: (b, h, w, 3) in [0, 1], any h, w >= 2; style: (b, num_styles) or (num_styles,) weights
        (a one-hot row picks one style) -> (b, h, w, 3) stylized, in [0, 1].

        `sizes`: (b, 2) ints, each image's own (h, w) when the batch holds images of several sizes padded to
        one (bottom and right, by reflection): every layer then reflects and normalises at each image's own
        edge, so its pixels come out as they would alone (to float rounding); those past it are meaningless.

        `rewrite`: the convolutions in `conv_rewrites`' exact forms, which XLA:CPU runs several times
        faster (docs/network.md); False runs XLA's own convolutions. The same function to float rounding,
        forward and gradient, with the same parameters.
        """
        b, h, w, _ = images.shape
        style = jnp.broadcast_to(jnp.asarray(style, jnp.float32), (b, self.num_styles))
        # Reflect up to a multiple of 4 so the two halvings and two doublings give the size back.
        # (4 - h % 4) % 4, not -h % 4: equal for ints, and for a symbolic h with "mod(h, 4) == 0" it is 0.
        ph, pw = (DOWNSAMPLING - h % DOWNSAMPLING) % DOWNSAMPLING, (DOWNSAMPLING - w % DOWNSAMPLING) % DOWNSAMPLING
        x = jnp.pad(images, ((0, 0), (0, ph), (0, pw), (0, 0)), mode="reflect") if ph or pw else images
        # Each image's extent as the network sees it alone: padded up to a multiple of 4 too.
        extent = None if sizes is None else -(-jnp.asarray(sizes, jnp.int32) // DOWNSAMPLING) * DOWNSAMPLING
        for layer in self.down:
            x = layer(x, style, extent, rewrite=rewrite)
            extent = None if extent is None else extent // layer.conv.stride
        for block in self.residuals:
            x = block(x, style, extent, rewrite=rewrite)
        for layer in self.up:
            x = layer(x, style, extent, rewrite=rewrite)
            extent = None if extent is None else 2 * extent
        # lax.slice, not [:, :h, :w]: the same crop, but a symbolic h or w makes indexing a gather (ONNX export).
        out = self.out(x, extent, rewrite=rewrite)
        return jax.lax.slice(jax.nn.sigmoid(out), (0, 0, 0, 0), (b, h, w, 3))


def _inside(shape: tuple[int, ...], extent: jax.Array) -> jax.Array:
    """(b, h, w, 1) True where a pixel lies within its image's `extent` (b, 2)."""
    rows = jnp.arange(shape[1])[None, :, None] < extent[:, 0, None, None]
    cols = jnp.arange(shape[2])[None, None, :] < extent[:, 1, None, None]
    return (rows & cols)[..., None]


def one_hot_styles(indices: jax.Array, num_styles: int) -> jax.Array:
    """(b,) style indices -> (b, num_styles) weights picking one style each."""
    return jax.nn.one_hot(indices, num_styles, dtype=jnp.float32)


def check_style_mix(mix: tuple[float, ...] | list[float], num_styles: int) -> jax.Array:
    """A user's style mix as (num_styles,) weights; raises StyleJaxError for a wrong length or negative entries."""
    if len(mix) != num_styles:
        raise StyleJaxError(f"the style mix has {len(mix)} weights but the network holds {num_styles} styles: "
                            "give one weight per style")
    if any(not (v >= 0) for v in mix) or sum(mix) <= 0:
        raise StyleJaxError(f"style mix weights must be >= 0 with a positive sum, got {tuple(mix)}")
    return jnp.asarray(mix, jnp.float32)
