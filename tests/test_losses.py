import jax.numpy as jnp
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from stylejax import color, losses

features = arrays(np.float32, st.tuples(st.integers(1, 6), st.integers(1, 6), st.integers(1, 8)),
                  elements=st.floats(0, 10, width=32))


@settings(max_examples=40, deadline=None)
@given(features)
def test_gram_is_symmetric_positive_semidefinite(f):
    g = np.asarray(losses.gram(jnp.asarray(f)), np.float64)
    np.testing.assert_allclose(g, g.T, rtol=1e-5, atol=1e-5)
    assert np.linalg.eigvalsh(g).min() >= -1e-3 * max(1.0, np.abs(g).max())


def test_gram_does_not_depend_on_image_size():
    f = np.random.default_rng(0).random((5, 7, 4), np.float32)
    tiled = np.tile(f, (3, 2, 1))
    np.testing.assert_allclose(losses.gram(tiled), losses.gram(f), rtol=1e-5)


def test_gram_batches_over_leading_axes():
    f = np.random.default_rng(0).random((2, 5, 7, 4), np.float32)
    np.testing.assert_allclose(losses.gram(f)[1], losses.gram(f[1]), rtol=1e-6)


def test_content_and_style_losses_vanish_at_their_targets_only():
    rng = np.random.default_rng(0)
    feats = {"a": jnp.asarray(rng.random((1, 4, 4, 3), np.float32))}
    other = {"a": feats["a"] * 1.5}
    w = {"a": jnp.float32(2.0)}
    assert float(losses.content_loss(feats, feats, w)) == 0
    assert float(losses.content_loss(other, feats, w)) > 0
    grams = {"a": losses.gram(feats["a"][0])}
    assert float(losses.style_loss(feats, grams, w)) < 1e-10
    assert float(losses.style_loss(other, grams, w)) > 0
    # The style loss ignores where things are: a spatial shuffle keeps it at zero.
    shuffled = {"a": feats["a"][:, ::-1, ::-1]}
    assert float(losses.style_loss(shuffled, grams, w)) < 1e-10


def test_layer_weights_scale_each_term():
    rng = np.random.default_rng(0)
    feats = {"a": jnp.asarray(rng.random((1, 4, 4, 3), np.float32))}
    targets = {"a": feats["a"] * 0}
    one = losses.content_loss(feats, targets, {"a": jnp.float32(1)})
    three = losses.content_loss(feats, targets, {"a": jnp.float32(3)})
    np.testing.assert_allclose(three, 3 * one, rtol=1e-6)


def test_total_variation_is_zero_for_flat_images_and_grows_with_noise():
    flat = jnp.full((8, 8, 3), 0.3)
    assert float(losses.total_variation(flat)) == 0
    noisy = flat + jnp.asarray(np.random.default_rng(0).normal(0, 0.1, (8, 8, 3)), jnp.float32)
    noisier = flat + jnp.asarray(np.random.default_rng(0).normal(0, 0.2, (8, 8, 3)), jnp.float32)
    assert 0 < float(losses.total_variation(noisy)) < float(losses.total_variation(noisier))


@settings(max_examples=25, deadline=None)
@given(arrays(np.float32, (4, 4, 3), elements=st.floats(0, 1, width=32)))
def test_yiq_round_trip(image):
    np.testing.assert_allclose(color.yiq_to_rgb(color.rgb_to_yiq(image)), image, atol=1e-5)


def test_keep_colors_takes_luminance_from_result_and_chroma_from_content():
    rng = np.random.default_rng(0)
    content = jnp.asarray(rng.uniform(0.3, 0.7, (6, 6, 3)), jnp.float32)
    stylized = jnp.asarray(rng.uniform(0.3, 0.7, (6, 6, 3)), jnp.float32)
    kept = color.keep_colors(stylized, content)
    np.testing.assert_allclose(color.rgb_to_yiq(kept)[..., 0], color.rgb_to_yiq(stylized)[..., 0], atol=1e-5)
    np.testing.assert_allclose(color.rgb_to_yiq(kept)[..., 1:], color.rgb_to_yiq(content)[..., 1:], atol=1e-5)
