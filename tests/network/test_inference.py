"""Bucketed inference: padded images come out as alone, one program per bucket, batches and sizes that fit."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from style_networks import random_network

import stylejax
from stylejax.network.function import StyleNetworkFunction
from stylejax.network.inference import BucketedNetwork
from stylejax.runtime import memory
from stylejax.runtime.buckets import apply_bucket


@pytest.fixture(scope="module")
def net():
    from flax import nnx

    return StyleNetworkFunction(*nnx.split(random_network(8, 1, seed=1)), {"num_styles": 1})


class Counting:
    """A network that counts how often it is traced: once per compiled program."""

    def __init__(self, net):
        self.net, self.traces = net, 0

    def __call__(self, *args, **kwargs):
        self.traces += 1
        return self.net(*args, **kwargs)


@pytest.mark.slow
def test_images_of_five_shapes_in_three_buckets_compile_three_programs_and_match_the_network(net):
    shapes = [(40, 52), (37, 45), (44, 64), (33, 47), (20, 24)]
    rng = np.random.default_rng(0)
    inputs = [rng.uniform(size=(*shape, 3)).astype(np.float32) for shape in shapes]
    counting = Counting(net)
    network = BucketedNetwork(counting, jnp.ones((1,)), batch_size=2, log=lambda line: None)
    outputs = network(inputs)
    assert {apply_bucket(s) for s in shapes} == {(48, 64), (48, 48), (32, 32)}
    assert counting.traces == 3  # one program per bucket, not per shape; the 3-image bucket pads its last batch
    network(inputs[:2])
    assert counting.traces == 3  # nothing recompiled
    assert [out.shape for out in outputs] == [image.shape for image in inputs]
    for i in (0, 1, 4):  # one image of each bucket, each padded in it (a compilation per shape to compare)
        image, out = inputs[i], outputs[i]
        alone = np.asarray(jax.jit(net)(jnp.asarray(image)[None], jnp.ones((1,)))[0])
        np.testing.assert_allclose(out, alone, atol=1e-4)  # float rounding: see test_style_network's measure


@pytest.mark.slow
def test_a_batch_that_does_not_fit_is_lowered_and_a_size_too_large_refused(net, monkeypatch):
    network = BucketedNetwork(net, jnp.ones((1,)), batch_size=4, log=lambda line: None)
    one, four = network.need((48, 64), 1), network.need((48, 64), 4)
    assert one < four
    lines = []
    monkeypatch.setattr(memory, "available_bytes", lambda: (one + four) // 2)
    lowered = BucketedNetwork(net, jnp.ones((1,)), batch_size=4, log=lines.append)
    fit = lowered.fit((48, 64), 4)
    assert 1 <= fit.rows < 4 and fit.cap is None and lowered.need((48, 64), fit.rows) <= (one + four) // 2
    assert any("batches of" in line for line in lines)
    monkeypatch.setattr(memory, "available_bytes", lambda: one // 2)
    sized = BucketedNetwork(net, jnp.ones((1,)), size=64, batch_size=4, log=lines.append)
    with pytest.raises(stylejax.StyleJaxError, match=r"`size` 64 \(64x48\) needs .* use a smaller `size`"):
        sized.check({(48, 64): 1})


@pytest.mark.slow
def test_an_input_s_own_size_that_does_not_fit_is_shrunk_with_a_note(net, monkeypatch):
    network = BucketedNetwork(net, jnp.ones((1,)), batch_size=1, log=lambda line: None)
    limit = network.need((48, 64), 1) - 1  # the 48x64 bucket does not fit, a smaller one does
    monkeypatch.setattr(memory, "available_bytes", lambda: limit)
    lines = []
    capped = BucketedNetwork(net, jnp.ones((1,)), batch_size=1, log=lines.append)
    [out] = capped([np.full((48, 64, 3), 0.5, np.float32)])
    assert max(out.shape[:2]) < 64 and out.shape[2] == 3
    assert sum("shrunk to" in line for line in lines) == 1
