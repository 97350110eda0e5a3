"""The network on onnxruntime: equal to the JAX network and to the JAX job's forward pass (odd sizes, several
buckets, batches not filled up), its memory estimate and refusals."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from sample_images import smooth_image
from style_networks import random_network

import stylejax
from stylejax.errors import StyleJaxError
from stylejax.network.function import StyleNetworkFunction
from stylejax.network.inference import OnnxBucketedNetwork, bucketed_network
from stylejax.runtime import memory

# One worker for the ONNX tests: jax2onnx takes ~9 s to import in each process that converts.
pytestmark = pytest.mark.xdist_group("onnx")

pytest.importorskip("onnxruntime")
pytest.importorskip("jax2onnx")

# onnxruntime's plain convolutions against XLA's rewritten ones sum in other orders: 3e-6 to 1.6e-5 measured
# here at 9 to 64 px (2026-12-05, CPU); 8x8 images, whose instance norms average few pixels, 7.9e-5.
TOLERANCE = 1e-4
MIX = (0.3, 0.7)


@pytest.fixture(scope="module")
def net():
    from flax import nnx

    return StyleNetworkFunction(*nnx.split(random_network(8, 2, seed=1)), {"num_styles": 2})


@pytest.fixture(scope="module")
def forward(net):
    """Converted once for the module (a few seconds)."""
    return stylejax.onnx_forward(net, MIX)


class Counting:
    """An OnnxForward that records the batch shapes it runs."""

    def __init__(self, forward):
        self.forward, self.shapes = forward, []

    def __call__(self, images):
        self.shapes.append(images.shape[:3])
        return self.forward(images)

    def need(self, shape, rows):
        return self.forward.need(shape, rows)


def test_a_batch_and_an_image_of_sizes_not_multiples_of_4_equal_the_jax_network(net, forward):
    batch = np.stack([smooth_image(13, 22, seed=i) for i in range(2)])
    jax_net, style = jax.jit(net), net.style_weights(MIX)
    np.testing.assert_allclose(forward(batch), jax_net(jnp.asarray(batch), style), atol=TOLERANCE)
    image = smooth_image(9, 17, seed=3)
    out = forward(image)
    assert out.shape == (9, 17, 3) and out.dtype == np.float32
    np.testing.assert_allclose(out, jax_net(jnp.asarray(image), style), atol=TOLERANCE)


def test_a_job_s_images_in_three_buckets_come_out_as_alone_and_no_batch_is_filled_up(net, forward):
    shapes = [(37, 45), (37, 45), (20, 24), (33, 47), (40, 52)]
    inputs = [smooth_image(*shape, seed=i) for i, shape in enumerate(shapes)]
    onnx = OnnxBucketedNetwork(net, net.style_weights(MIX), batch_size=2, log=lambda line: None)
    onnx.onnx = counting = Counting(forward)  # the module's conversion, not another
    outputs = onnx(inputs)
    together = forward(np.stack(inputs[:2]))  # the two of one size run as one batch of 2
    for i, (image, out) in enumerate(zip(inputs, outputs, strict=True)):
        assert out.shape == image.shape
        # The same computation as the job's (each at its own size, cropped from its bucket, in a batch of the
        # same rows): equal to the bit. A batch of 2 is compared with a batch of 2, not with the image alone,
        # whose kernels onnxruntime may pick otherwise on another CPU.
        np.testing.assert_array_equal(out, together[i] if i < 2 else forward(image))
    # Buckets 48x48 (a batch of two of one size, then one that JAX would repeat to fill its batch of 2), 32x32
    # and 48x64: each image at its own size, those of one size together, none repeated.
    assert sorted(counting.shapes) == [(1, 20, 24), (1, 33, 47), (1, 40, 52), (2, 37, 45)]


def test_a_size_too_large_for_host_memory_is_refused_and_the_estimate_grows_with_the_pixels(net, forward,
                                                                                            monkeypatch):
    assert forward.need((64, 40), 2) == 2 * forward.need((64, 40), 1) == 8 * forward.need((32, 20), 1) > 0
    assert forward.need((29, 17), 1) == forward.need((32, 20), 1)  # run reflected up to multiples of 4
    monkeypatch.setattr(memory, "available_bytes", lambda: 2**40)  # JAX's device: not what onnxruntime uses
    monkeypatch.setattr(memory, "host_available_bytes", lambda: 2**16)
    sized = OnnxBucketedNetwork(net, net.style_weights(MIX), size=64, batch_size=1, log=lambda line: None)
    sized.onnx = forward
    with pytest.raises(StyleJaxError, match=r"`size` 64 \(64x48\) needs .* use a smaller `size`"):
        sized([smooth_image(48, 64)])


def test_an_unknown_runtime_and_an_image_too_small_for_the_export_are_refused(net, forward):
    with pytest.raises(StyleJaxError, match="`runtime` must be one of jax, onnx, got 'tf'"):
        bucketed_network(net, net.style_weights(0), runtime="tf")
    with pytest.raises(StyleJaxError, match="at least 5 px"):
        forward(smooth_image(4, 9))
