"""The training step: data-parallel over 4 simulated devices equals one device with the same global batch."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax import nnx
from sample_images import smooth_image, stripes

from stylejax.config import StyleConfig
from stylejax.network.step import init_state, train_step
from stylejax.nn.style_network import StyleNetwork
from stylejax.nn.vgg import VGG
from stylejax.objective.targets import prepare_shared
from stylejax.runtime.meshes import local_mesh


def run(vgg, devices, images, style_ids, steps=2):
    config = StyleConfig(size=32, content_layers=("relu2_1",), style_layers=("relu1_1", "relu2_1"),
                         precision="f32")
    objective, args = prepare_shared(vgg, [stripes(32, 32), smooth_image(32, 32, 5)], config,
                                     style_masks=[None, None])
    graphdef, params = nnx.split(StyleNetwork(8, 2, rngs=nnx.Rngs(0)), nnx.Param)
    # Plain SGD: its update is the averaged gradient itself. Adam divides by |g| and turns the float noise
    # of near-zero gradients into full-size steps, which no tolerance separates from a real difference.
    # A rate at which the loss falls: at 1e-3 and above step 2 overshoots (231 -> 374 and up) and amplifies
    # rounding, and a VGG ReLU whose input lies within rounding of 0 (one, at relu1_1) flipping between the
    # runs moved the parameters by 0.5-11% of their move.
    optimizer = optax.sgd(1e-4)
    mesh = local_mesh(devices)
    state = init_state(params, optimizer)
    step = train_step(objective, graphdef, optimizer, mesh)
    losses = []
    for _ in range(steps):
        state, terms = step(state, images, style_ids, args)
        losses.append(float(sum(terms.values())))
    return state, losses


@pytest.mark.slow
def test_four_devices_give_the_parameters_of_one():
    assert len(jax.devices()) == 4
    images = jnp.asarray(np.stack([smooth_image(32, 32, s) for s in range(4)]))
    style_ids = jnp.array([0, 1, 0, 1], jnp.int32)
    vgg = VGG("vgg16", rngs=nnx.Rngs(0))  # drawn once: both runs see the same objective
    one, losses_one = run(vgg, jax.devices()[:1], images, style_ids)
    four, losses_four = run(vgg, jax.devices(), images, style_ids)
    np.testing.assert_allclose(losses_four, losses_one, rtol=1e-5)
    initial = nnx.split(StyleNetwork(8, 2, rngs=nnx.Rngs(0)), nnx.Param)[1]
    moved = max(float(np.abs(np.asarray(b) - np.asarray(c)).max())
                for b, c in zip(jax.tree.leaves(one.params), jax.tree.leaves(initial), strict=True))
    differ = max(float(np.abs(np.asarray(a) - np.asarray(b)).max())
                 for a, b in zip(jax.tree.leaves(four.params), jax.tree.leaves(one.params), strict=True))
    # f32 sums in another order: the difference is a tiny share of how far the step moved the parameters
    # (summed instead of averaged gradients would be 3x the move).
    assert moved > 1e-3
    assert differ < 2e-3 * moved
    assert int(four.step) == 2


def test_the_network_optimizer_steps_the_norms_ten_times_faster():
    """Adam's first step moves each parameter by about its rate: the norms' rows by NORM_RATE_MULTIPLIER x it."""
    from stylejax.network.step import NORM_RATE_MULTIPLIER, network_optimizer

    params = {"norm1": {"scale": jnp.ones(3)}, "conv1": {"kernel": jnp.ones((2, 2))}}
    grads = {"norm1": {"scale": jnp.array([1.0, -2.0, 0.5])}, "conv1": {"kernel": jnp.full((2, 2), -3.0)}}
    optimizer = network_optimizer(1e-3)
    updates, _ = optimizer.update(grads, optimizer.init(params), params)
    np.testing.assert_allclose(updates["norm1"]["scale"], -1e-3 * NORM_RATE_MULTIPLIER * np.sign([1.0, -2.0, 0.5]),
                               rtol=1e-4)
    np.testing.assert_allclose(updates["conv1"]["kernel"], np.full((2, 2), 1e-3), rtol=1e-4)
    assert network_optimizer(1e-3) is optimizer  # one object per rate: the compiled step is cached by it
