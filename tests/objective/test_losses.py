import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from stylejax.objective import color, losses

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


def einsum_gram(f):
    """The plain einsum Gram that `losses.gram` (custom gradient) must match."""
    return jnp.einsum("...hwc,...hwd->...cd", f, f, preferred_element_type=jnp.float32) / (f.shape[-3] * f.shape[-2])


def value_and_grad_of_gram(gram_fn, f, r, vmap=False):
    """Value and gradient of a nonlinear scalar of the Gram (r: weights shaped like it), optionally vmapped."""
    fn = jax.value_and_grad(lambda f, r: jnp.sum(jnp.sin(gram_fn(f)) * r))
    return jax.vmap(fn)(f, r) if vmap else fn(f, r)


@pytest.mark.parametrize("shape", [(5, 7, 4), (2, 5, 7, 4), (2, 3, 4, 6, 5)])
@pytest.mark.parametrize("vmap", [False, True])
def test_gram_value_and_gradient_match_the_einsum(shape, vmap):
    rng = np.random.default_rng(0)
    f = jnp.asarray(rng.normal(size=shape), jnp.float32)
    r = jnp.asarray(rng.normal(size=(*shape[:-3], shape[-1], shape[-1])), jnp.float32)  # not symmetric
    if vmap:
        f, r = jnp.stack([f, 2 * f]), jnp.stack([r, -r])
    np.testing.assert_allclose(losses.gram(f), einsum_gram(f), rtol=1e-5, atol=1e-7)
    ours = value_and_grad_of_gram(losses.gram, f, r, vmap)
    theirs = value_and_grad_of_gram(einsum_gram, f, r, vmap)
    for a, b in zip(ours, theirs, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_gram_keeps_dtypes():
    f = jnp.asarray(np.random.default_rng(0).random((4, 5, 3)), jnp.bfloat16)
    assert losses.gram(f).dtype == jnp.float32
    ours = jax.grad(lambda f: jnp.sum(losses.gram(f)))(f)
    theirs = jax.grad(lambda f: jnp.sum(einsum_gram(f)))(f)
    assert ours.dtype == theirs.dtype == jnp.bfloat16
    np.testing.assert_allclose(ours.astype(np.float32), theirs.astype(np.float32), rtol=2e-2)


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
