"""The decoders' reconstruction step: the loss falls, gradients reach every parameter, and the data-parallel
step equals one device's."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax import nnx
from sample_images import smooth_image

import stylejax
from stylejax.autoencoder.reconstruction import (
    ENCODER_POOLING,
    Reconstruction,
    decoder_optimizer,
    decoder_step,
    encoder_weights,
    init_state,
    psnr,
)
from stylejax.nn.decoders import Decoder
from stylejax.runtime.meshes import local_mesh


@pytest.fixture(scope="module")
def encoder(weights_cache):
    return encoder_weights(stylejax.load_vgg("vgg16", pooling=ENCODER_POOLING))


def photos(n, size=32):
    return jnp.asarray(np.stack([smooth_image(size, size, seed) for seed in range(n)]))


def setup(encoder, level, width, seed=0, trained=False):
    decoder = Decoder(level, width=width, rngs=nnx.Rngs(seed))
    if trained:  # a new decoder's last kernel is zero (grey): no gradient reaches the layers before it yet
        last = decoder.convs[-1].kernel
        last.set_value(0.01 * jax.random.normal(jax.random.key(seed), last.shape))
    graphdef, params = nnx.split(decoder, nnx.Param)
    return Reconstruction(encoder[0], graphdef, level), params


@pytest.mark.slow
def test_a_few_steps_reduce_the_reconstruction_loss(encoder):
    objective, params = setup(encoder, "relu2_1", 0.25)
    optimizer = decoder_optimizer(1e-3, 0.0)
    step = decoder_step(objective, optimizer, local_mesh())  # 4 simulated devices, one image each
    images = photos(4)
    state = init_state(params, optimizer)
    first = None
    for _ in range(15):
        state, terms = step(state, images, encoder[1])
        first = first or {n: float(t) for n, t in terms.items()}
    _, last = jax.jit(objective.loss)(state.params, encoder[1], images)
    assert int(state.step) == 15
    for name in ("pixel", "feature"):
        assert float(last[name]) < 0.7 * first[name], (name, first, last)
    outputs, _ = jax.jit(objective.terms)(state.params, encoder[1], images)
    assert outputs.shape == images.shape and float(jnp.min(psnr(outputs, images))) > 0


def test_gradients_reach_every_parameter_through_the_fast_image_gradient(encoder):
    objective, params = setup(encoder, "relu2_1", 0.25, trained=True)
    images = photos(2, 24)
    grads = jax.jit(jax.grad(lambda p: objective.loss(p, encoder[1], images)[1]["feature"]))(params)
    assert all(float(jnp.abs(g).max()) > 0 for g in jax.tree.leaves(grads))
    # The same gradient as plain autodiff through VGG (no precomputed backward kernels).
    vgg = nnx.merge(encoder[0], encoder[1].state)

    def plain(p):
        features = vgg(images, ("relu2_1",))["relu2_1"]
        again = vgg(nnx.merge(objective.decoder, p)(features), ("relu2_1",))["relu2_1"]
        return jnp.mean(jnp.square(again - features))

    for ours, theirs in zip(jax.tree.leaves(grads), jax.tree.leaves(jax.jit(jax.grad(plain))(params)), strict=True):
        np.testing.assert_allclose(ours, theirs, rtol=1e-4, atol=1e-6 * float(jnp.abs(theirs).max()))


@pytest.mark.slow
def test_four_devices_give_the_parameters_of_one(encoder):
    objective, params = setup(encoder, "relu1_1", 1.0)
    optimizer = optax.sgd(0.05)  # SGD: its update is the averaged gradient itself (Adam amplifies rounding)
    images = photos(4, 16)
    results = []
    for devices in (jax.devices()[:1], jax.devices()):
        state, terms = decoder_step(objective, optimizer, local_mesh(devices))(
            init_state(jax.tree.map(jnp.copy, params), optimizer), images, encoder[1])  # the state is donated
        results.append((state, terms))
    (one, terms_one), (four, terms_four) = results
    np.testing.assert_allclose(float(terms_four["pixel"]), float(terms_one["pixel"]), rtol=1e-5)
    start, one, four = ([np.asarray(leaf) for leaf in jax.tree.leaves(p)] for p in (params, one.params, four.params))
    moved = max(float(np.abs(a - b).max()) for a, b in zip(one, start, strict=True))
    differ = max(float(np.abs(a - b).max()) for a, b in zip(four, one, strict=True))
    assert moved > 1e-4 and differ < 1e-3 * moved


def test_sides_are_cut_to_the_levels_stride_and_psnr_is_in_db(encoder):
    objective, params = setup(encoder, "relu2_1", 0.25)
    images = photos(1, 15)
    outputs, terms = jax.jit(objective.terms)(params, encoder[1], images)
    assert outputs.shape == (1, 14, 14, 3) and terms["pixel"].shape == (1,)
    darker = 0.5 * images
    np.testing.assert_allclose(psnr(darker[:, :14, :14] + 0.1, darker), [20.0], rtol=1e-4)
