"""The decoders: the encoder's mirror image at each level and width, their counts, shapes and padding."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from stylejax.errors import StyleJaxError
from stylejax.nn.decoders import LEVELS, Decoder, decoder_plan, flops, parameter_count, upsample
from stylejax.nn.vgg import VGG


def params_of(module):
    return sum(int(np.prod(p.shape)) for p in jax.tree.leaves(nnx.state(module, nnx.Param)))


@pytest.mark.parametrize("arch", ["vgg16", "vgg19"])
@pytest.mark.parametrize("width", [1.0, 0.5])
def test_each_level_mirrors_the_encoder(arch, width):
    vgg = nnx.eval_shape(lambda: VGG(arch))
    encoder = [(conv.in_features, conv.out_features) for conv in vgg.convs]
    for block, level in enumerate(LEVELS, start=1):
        plan = decoder_plan(level, arch, width)
        decoder = nnx.eval_shape(lambda level=level: Decoder(level, arch=arch, width=width))
        # One convolution per encoder convolution up to `level`, one upsampling per pooling on the way.
        convs = sum(n for n in ({"vgg16": (2, 2, 3, 3, 3), "vgg19": (2, 2, 4, 4, 4)}[arch][: block - 1])) + 1
        assert len(plan) == convs and sum(layer.upsample for layer in plan) == block - 1
        assert plan[0].c_in == encoder[convs - 1][1] and plan[-1].c_out == 3 and not plan[-1].relu
        if width == 1.0:  # channels swapped, in reverse order
            assert [(layer.c_out, layer.c_in) for layer in plan] == encoder[:convs][::-1]
        assert parameter_count(plan) == params_of(decoder)


def test_counts_match_the_published_decoders():
    # AdaIN's decoder (VGG19 mirror to relu4_1), as counted from naoto0804/pytorch-AdaIN's net.decoder.
    assert parameter_count(decoder_plan("relu4_1", "vgg19")) == 3_505_219
    plan = decoder_plan("relu2_1")
    h, w = 64, 48
    assert flops(plan, h, w) == 2 * 9 * (128 * 64 * (h // 2) * (w // 2) + 64 * 64 * h * w + 64 * 3 * h * w)
    # Width 0.5 quarters the hidden layers' arithmetic.
    assert 0.25 < flops(decoder_plan("relu4_1", width=0.5), 256, 256) / flops(decoder_plan("relu4_1"), 256, 256) < 0.3


# Each new layer shape compiles its initialiser: two levels keep the test short.
@pytest.mark.parametrize("level,size", [("relu1_1", (5, 7)), ("relu3_1", (3, 4))])
def test_output_is_the_features_size_times_the_scale(level, size):
    decoder = Decoder(level, width=0.25, rngs=nnx.Rngs(1))
    c = decoder.plan[0].c_in
    features = jnp.asarray(np.random.default_rng(0).random((2, *size, c)), jnp.float32)
    out = nnx.jit(lambda d, f: d(f))(decoder, features)
    assert out.shape == (2, size[0] * decoder.scale, size[1] * decoder.scale, 3)
    np.testing.assert_array_equal(out, 0.5)  # a new decoder paints grey
    decoder.convs[-1].kernel.set_value(jnp.ones_like(decoder.convs[-1].kernel[...]))
    out = nnx.jit(lambda d, f: d(f))(decoder, features)
    assert np.isfinite(np.asarray(out)).all() and float(jnp.std(out)) > 0


def test_reflecting_an_upsampled_image_is_upsampling_an_edge_padded_one():
    x = jnp.asarray(np.random.default_rng(0).random((1, 3, 5, 2)), jnp.float32)
    reflected = jnp.pad(upsample(x), ((0, 0), (1, 1), (1, 1), (0, 0)), mode="reflect")
    edged = upsample(jnp.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)), mode="edge"))[:, 1:-1, 1:-1]
    np.testing.assert_array_equal(reflected, edged)


def test_bad_settings_are_refused():
    with pytest.raises(StyleJaxError, match="relu4_1"):
        decoder_plan("relu4_2")
    with pytest.raises(StyleJaxError, match="`width`"):
        decoder_plan("relu4_1", width=0)
    with pytest.raises(StyleJaxError, match="`arch`"):
        decoder_plan("relu4_1", "resnet")


def test_the_sub_pixel_form_is_the_plain_decoder():
    decoder = Decoder("relu3_1", width=0.25, rngs=nnx.Rngs(1))
    for conv in decoder.convs:  # random weights everywhere: a fresh decoder's last layer is zero
        conv.kernel.set_value(jax.random.normal(jax.random.key(len(conv.kernel[...].shape)), conv.kernel[...].shape)
                              * 0.1)
    features = jax.random.uniform(jax.random.key(0), (2, 5, 7, 256))
    fast, plain = decoder(features), decoder(features, rewrite=False)
    assert fast.shape == plain.shape == (2, 20, 28, 3)
    np.testing.assert_allclose(fast, plain, rtol=1e-4, atol=1e-4 * float(jnp.abs(plain).max()))
