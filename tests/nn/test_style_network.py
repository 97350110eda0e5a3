"""The style network: its size, any input shape, conditional instance norm's style rows and mixes, and its
convolution rewrites (the same outputs and gradients as XLA's own convolutions)."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx
from style_networks import random_network

from stylejax.errors import StyleJaxError
from stylejax.nn.style_network import StyleNetwork, check_style_mix, one_hot_styles


def count(network):
    return sum(x.size for x in jax.tree.leaves(nnx.state(network, nnx.Param)))


def shapes_only(width, num_styles):
    return nnx.eval_shape(lambda: StyleNetwork(width, num_styles))  # no weights drawn: fast


@functools.partial(jax.jit, static_argnums=0)
def _forward(graphdef, params, images, weights):
    return nnx.merge(graphdef, params)(images, weights)


def forward(net, images, weights):
    """net(images, weights), compiled: an eager NNX forward costs tens of seconds, a compiled one milliseconds."""
    return _forward(*nnx.split(net), images, weights)


def test_parameter_counts_match_johnson_and_dumoulin():
    assert count(shapes_only(32, 1)) == 1_679_235 - 1_600  # the PyTorch example's, less biases a norm cancels
    assert count(shapes_only(32, 3)) - count(shapes_only(32, 1)) == 2 * 3_200
    assert count(shapes_only(16, 1)) < count(shapes_only(32, 1)) / 3.5


@pytest.mark.parametrize("shape", [(33, 50), (64, 36), (7, 9)])
def test_any_input_size_gives_the_same_size(shape):
    net = random_network(8, 1, seed=1)
    images = jnp.asarray(np.random.default_rng(0).uniform(size=(2, *shape, 3)), jnp.float32)
    out = forward(net, images, jnp.ones(1))
    assert out.shape == images.shape


@pytest.mark.slow
def test_each_style_row_and_a_mix_differ_and_a_one_hot_mix_is_that_style():
    net = random_network(8, 2, seed=2)
    # random_network's style rows differ, as training makes them.
    image = jnp.asarray(np.random.default_rng(1).uniform(size=(1, 32, 32, 3)), jnp.float32)
    first = forward(net, image, one_hot_styles(jnp.array([0]), 2)[0])
    second = forward(net, image, jnp.array([0.0, 1.0]))
    mix = forward(net, image, jnp.array([0.5, 0.5]))
    assert float(jnp.abs(first - second).mean()) > 1e-3
    assert float(jnp.abs(mix - first).mean()) > 1e-4 and float(jnp.abs(mix - second).mean()) > 1e-4
    np.testing.assert_allclose(forward(net, image, jnp.array([1.0, 0.0])), first, atol=1e-6)


@pytest.mark.parametrize("rewrite", [True, False])
def test_padding_is_reflection_not_zeros(rewrite):
    """The first 9x9 layer's edge pixels are those of a convolution of the reflection-padded image."""
    layer = random_network(8, 1, seed=3).down[0].conv
    x = jnp.asarray(np.random.default_rng(2).uniform(size=(1, 20, 24, 3)), jnp.float32)
    out = jax.jit(lambda x: layer(x, rewrite=rewrite))(x)
    pads = ((0, 0), (4, 4), (4, 4), (0, 0))
    reflected, zeros = layer.conv(jnp.pad(x, pads, mode="reflect")), layer.conv(jnp.pad(x, pads))
    edge = np.ones(out.shape[1:3], bool)
    edge[4:-4, 4:-4] = False
    np.testing.assert_allclose(out[0][edge], reflected[0][edge], atol=1e-5)
    assert float(jnp.abs(out[0][edge] - zeros[0][edge]).mean()) > 1e-2


def test_style_mix_checks():
    assert check_style_mix([0.5, 0.5, 0], 3).shape == (3,)
    with pytest.raises(StyleJaxError, match="one weight per style"):
        check_style_mix([1.0, 0.0], 3)
    with pytest.raises(StyleJaxError, match=">= 0"):
        check_style_mix([1.0, -0.5], 2)
    with pytest.raises(StyleJaxError, match="multiple of 4"):
        StyleNetwork(30)


@functools.partial(jax.jit, static_argnums=0)
def _forward_sized(graphdef, params, images, weights, sizes):
    return nnx.merge(graphdef, params)(images, weights, sizes)


def test_images_padded_to_one_shape_with_their_sizes_come_out_as_each_alone():
    # Random weights make the network chaotic (outputs span 0..1): plain padding changes each image's
    # instance-norm statistics and its edges, and moved pixels by up to 0.99 when measured (2026-12). With
    # `sizes` every layer reflects and normalises at each image's own edge: what remains is float rounding
    # (measured <= 5.4e-6), so 1e-4 holds with room and fails for any real difference.
    net = random_network(8, 1, seed=1)
    shapes = [(40, 52), (37, 45), (48, 64)]
    rng = np.random.default_rng(0)
    alone = [rng.uniform(size=(*shape, 3)).astype(np.float32) for shape in shapes]
    batch = np.stack([np.pad(a, ((0, 48 - a.shape[0]), (0, 64 - a.shape[1]), (0, 0)), mode="reflect")
                      for a in alone])
    out = _forward_sized(*nnx.split(net), batch, jnp.ones((1,)), jnp.asarray(shapes))
    for image, (h, w), row in zip(alone, shapes, out, strict=True):
        expected = forward(net, image[None], jnp.ones((1,)))[0]
        np.testing.assert_allclose(row[:h, :w], expected, atol=1e-4)
    padded_alone = forward(net, batch[:1], jnp.ones((1,)))[0, :40, :52]  # without sizes: not the same
    assert np.abs(padded_alone - forward(net, alone[0][None], jnp.ones((1,)))[0]).max() > 0.01


@pytest.mark.slow
def test_a_size_not_a_multiple_of_4_is_reflection_padded_then_cropped():
    """Pins the padding to a multiple of 4 and the crop back (written to export with symbolic sizes)."""
    net = random_network(8, 1, seed=1)
    images = jnp.asarray(np.random.default_rng(0).uniform(size=(1, 13, 18, 3)), jnp.float32)
    padded = jnp.pad(images, ((0, 0), (0, 3), (0, 2), (0, 0)), mode="reflect")
    np.testing.assert_array_equal(forward(net, images, jnp.ones(1)), forward(net, padded, jnp.ones(1))[:, :13, :18])


@functools.partial(jax.jit, static_argnums=(0, 5))
def _forward_rewrite(graphdef, params, images, weights, sizes, rewrite):
    return nnx.merge(graphdef, params)(images, weights, sizes, rewrite=rewrite)


@functools.partial(jax.jit, static_argnums=(0, 4))
def _parameter_gradient(graphdef, params, images, weights, rewrite):
    def loss(params):
        return jnp.sum(jnp.square(nnx.merge(graphdef, params)(images, weights, rewrite=rewrite) - 0.5))

    return jax.grad(loss)(params)


def test_the_convolution_rewrites_leave_the_outputs_unchanged():
    # conv_rewrites' forms against XLA's own convolutions, the same weights: float rounding apart, at a size
    # that is not a multiple of 4, and with `sizes` (each image's own edges in a padded batch).
    graphdef, params = nnx.split(random_network(8, 2, seed=3))
    images = jnp.asarray(np.random.default_rng(3).uniform(size=(2, 37, 46, 3)), jnp.float32)
    weights = jnp.array([0.3, 0.7])
    np.testing.assert_allclose(_forward_rewrite(graphdef, params, images, weights, None, True),
                               _forward_rewrite(graphdef, params, images, weights, None, False), atol=1e-5)
    sizes = [(37, 46), (29, 33)]
    rewritten = _forward_rewrite(graphdef, params, images, weights, jnp.asarray(sizes), True)
    plain = _forward_rewrite(graphdef, params, images, weights, jnp.asarray(sizes), False)
    for got, want, (h, w) in zip(rewritten, plain, sizes, strict=True):
        np.testing.assert_allclose(got[:h, :w], want[:h, :w], atol=1e-5)


@pytest.mark.slow
def test_the_convolution_rewrites_leave_the_parameter_gradients_unchanged():
    graphdef, params = nnx.split(random_network(8, 2, seed=3))
    images = jnp.asarray(np.random.default_rng(3).uniform(size=(2, 37, 46, 3)), jnp.float32)
    weights = jnp.array([0.3, 0.7])
    plain = jax.tree.leaves(_parameter_gradient(graphdef, params, images, weights, False))
    rewritten = jax.tree.leaves(_parameter_gradient(graphdef, params, images, weights, True))
    scale = max(float(jnp.abs(g).max()) for g in plain)  # some leaves' gradients are 0 but for rounding
    for got, want in zip(rewritten, plain, strict=True):
        np.testing.assert_allclose(got, want, atol=1e-5 * scale)
