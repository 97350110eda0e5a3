"""Each convolution rewrite is the plain layer's function: forward, and gradient in the input and the kernel."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from stylejax.nn import conv_rewrites

DIMENSIONS = ("NHWC", "HWIO", "NHWC")


def plain_conv(x, kernel):
    return jax.lax.conv_general_dilated(x, kernel, (1, 1), "VALID", dimension_numbers=DIMENSIONS)


def plain_upsampled_conv(x, kernel):
    """The network's plain layer: nearest x2, reflection padding by 1, a 3x3 convolution."""
    x = jnp.repeat(jnp.repeat(x, 2, axis=1), 2, axis=2)
    return plain_conv(jnp.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)), mode="reflect"), kernel)


def random(shape, seed):
    return jnp.asarray(np.random.default_rng(seed).normal(size=shape), jnp.float32)


def assert_same_function(rewrite, plain, x, kernel, mask=None):
    """Values and the gradient of a nonlinear loss (in x and kernel) agree to float rounding, relative to
    each array's largest entry; `mask` (broadcastable to the output) restricts both to the pixels that count."""
    mask = 1.0 if mask is None else mask

    def loss(f):
        return lambda x, kernel: jnp.sum(jnp.sin(f(x, kernel)) * mask)

    got, want = jax.jit(rewrite)(x, kernel), jax.jit(plain)(x, kernel)
    np.testing.assert_allclose(got * mask, want * mask, atol=1e-5 * float(jnp.abs(want).max()))
    got = jax.jit(jax.grad(loss(rewrite), argnums=(0, 1)))(x, kernel)
    want = jax.jit(jax.grad(loss(plain), argnums=(0, 1)))(x, kernel)
    for g, w in zip(got, want, strict=True):
        np.testing.assert_allclose(g, w, atol=1e-5 * float(jnp.abs(w).max()))


@pytest.mark.parametrize("shape", [(1, 1), (3, 2), (5, 7), (8, 6)])
def test_upsampled_conv_is_nearest_x2_reflection_padding_and_a_3x3(shape):
    x, kernel = random((2, *shape, 5), 0), random((3, 3, 5, 6), 1)
    assert conv_rewrites.upsampled_conv(x, kernel).shape == (2, 2 * shape[0], 2 * shape[1], 6)
    assert_same_function(conv_rewrites.upsampled_conv, plain_upsampled_conv, x, kernel)


def test_upsampled_conv_with_extents_gives_each_image_of_a_padded_batch_as_alone():
    extents = [(7, 9), (5, 4), (1, 2)]
    x, kernel = random((3, 7, 9, 4), 2), random((3, 3, 4, 3), 3)

    def each_alone(x, kernel):  # each image cropped to its extent, through the plain layer, zeros past it
        return jnp.concatenate([jnp.pad(plain_upsampled_conv(x[i:i + 1, :h, :w], kernel),
                                        ((0, 0), (0, 14 - 2 * h), (0, 18 - 2 * w), (0, 0)))
                                for i, (h, w) in enumerate(extents)])

    inside = np.zeros((3, 14, 18, 1), np.float32)
    for i, (h, w) in enumerate(extents):
        inside[i, :2 * h, :2 * w] = 1
    extent = jnp.asarray(extents)
    assert_same_function(lambda x, k: conv_rewrites.upsampled_conv(x, k, extent), each_alone, x, kernel, inside)
    # Without its extents the padding past each image reaches its pixels: the test can fail.
    assert float(jnp.abs((conv_rewrites.upsampled_conv(x, kernel) - each_alone(x, kernel)) * inside).max()) > 0.1


@pytest.mark.parametrize(("channels", "shape", "k"), [((3, 8), (12, 12), 9), ((3, 8), (13, 18), 9),
                                                      ((8, 3), (12, 12), 9), ((8, 3), (17, 10), 9),
                                                      ((32, 3), (13, 11), 9),
                                                      ((4, 5), (9, 11), 3), ((16, 3), (9, 13), 3)])
def test_conv_is_a_valid_convolution_for_the_network_end_shapes_and_any_size(channels, shape, k):
    # 3 -> 8 and 8 -> 3 at 9x9 take the blocked forms (odd sizes included: the blocks overhang the image),
    # 32 -> 3 XLA's padded form forward and the blocks' gradient;
    # a 3x3 to pixels (a decoder's last layer) the tap sums; other 3x3s XLA's padded form.
    x, kernel = random((2, *shape, channels[0]), 4), random((k, k, *channels), 5)
    assert conv_rewrites.conv(x, kernel).shape == (2, shape[0] - k + 1, shape[1] - k + 1, channels[1])
    assert_same_function(conv_rewrites.conv, plain_conv, x, kernel)


@pytest.mark.parametrize(("shape", "k", "stride"), [((9, 11), 3, 1), ((10, 10), 3, 2), ((11, 14), 3, 2),
                                                    ((12, 7), 2, 1), ((13, 13), 9, 1), ((19, 12), 9, 2)])
def test_valid_conv_is_xla_valid_convolution_at_any_size_and_stride(shape, k, stride):
    # Padded by the stride in front and cropped: the residual blocks', the strided layers' and the
    # sub-pixel phases' form (odd sizes: the last window of a strided row may not fit).
    x, kernel = random((2, *shape, 6), 6), random((k, k, 6, 5), 7)

    def valid(x, kernel):
        return jax.lax.conv_general_dilated(x, kernel, (stride, stride), "VALID", dimension_numbers=DIMENSIONS)

    assert conv_rewrites.valid_conv(x, kernel, stride).shape == valid(x, kernel).shape
    assert_same_function(lambda a, b: conv_rewrites.conv(a, b, stride), valid, x, kernel)
