"""AdaIN and WCT: the style's statistics come out, alpha blends, jit and vmap change nothing, the two square
roots agree."""

from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stylejax.autoencoder.transforms import (
    EPS,
    adain,
    by_regions,
    eigh_roots,
    moments,
    newton_schulz_roots,
    regularised,
    wct,
)
from stylejax.errors import StyleJaxError

SQRTS = ("eigh", "newton_schulz")
# Compiled once per shape: op by op, the eigendecomposition and the iteration dispatch hundreds of small ops.
wct_jit = jax.jit(wct, static_argnames=("sqrt", "eps", "iterations"))
adain_jit = jax.jit(adain)
# A small regulariser, and the Newton-Schulz iterations it needs (log(1e7) / log(2.25) + 5): the output's
# covariance is then the style's to float tolerance (the default EPS damps weak content directions on purpose).
EXACT = {"eps": 1e-7, "iterations": 25}


def features(h, w, c, seed, shift=0.0):
    """(h, w, c) non-negative features with correlated channels and a full-rank covariance, as ReLU outputs."""
    rng = np.random.default_rng(seed)
    mixing = rng.normal(size=(c, c)) + 2 * np.eye(c)
    return jnp.asarray(np.maximum(rng.normal(size=(h, w, c)) @ mixing + 3 + shift, 0), jnp.float32)


def stats64(f):
    x = np.asarray(f, np.float64).reshape(-1, f.shape[-1])
    mean = x.mean(0)
    return mean, (x - mean).T @ (x - mean) / len(x)


@pytest.mark.parametrize("sqrt", SQRTS)
def test_wct_gives_the_style_mean_and_covariance(sqrt):
    content, style = features(12, 12, 8, 0), features(9, 11, 8, 1, shift=2.0)
    mean, cov = stats64(wct_jit(content, style, sqrt=sqrt, **EXACT))
    s_mean, s_cov = stats64(style)
    c_cov = stats64(content)[1]
    scale = np.abs(s_cov).max()
    assert np.abs(cov - c_cov).max() > 0.1 * scale  # the test can tell
    np.testing.assert_allclose(mean, s_mean, atol=1e-5 * np.abs(s_mean).max())
    np.testing.assert_allclose(cov, s_cov, atol=1e-4 * scale)
    # At the default EPS the weakest content direction (variance 0.15, the strongest 21) is damped by
    # EPS |C|_F / 0.15 ~ 2%, and no direction exceeds the style's.
    _, damped = stats64(wct_jit(content, style, sqrt=sqrt))
    assert 1e-3 * scale < np.abs(damped - s_cov).max() < 0.05 * scale
    assert np.linalg.eigvalsh(damped - s_cov).max() < EPS * np.linalg.norm(s_cov)


def test_adain_gives_the_style_mean_and_standard_deviation():
    content, style = features(12, 12, 8, 0), features(9, 11, 8, 1, shift=2.0)
    out = np.asarray(adain_jit(content, style), np.float64)
    s = np.asarray(style, np.float64)
    assert np.abs(np.asarray(content).std((0, 1)) - s.std((0, 1))).max() > 0.1
    np.testing.assert_allclose(out.mean((0, 1)), s.mean((0, 1)), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(out.std((0, 1)), s.std((0, 1)), rtol=1e-4)


@pytest.mark.parametrize("transform", [adain, wct, partial(wct, sqrt="newton_schulz")])
def test_alpha_zero_returns_the_content_and_alpha_blends(transform):
    content, style = features(6, 7, 5, 0), features(5, 5, 5, 1)
    transform = jax.jit(transform)
    np.testing.assert_array_equal(transform(content, style, 0.0), content)
    half = transform(content, style, 0.5)
    np.testing.assert_allclose(half, 0.5 * (content + transform(content, style, 1.0)), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("transform", [adain, wct, partial(wct, sqrt="newton_schulz")])
def test_the_same_under_jit_and_vmap_as_alone(transform):
    contents = jnp.stack([features(6, 7, 5, s) for s in range(3)])
    styles = jnp.stack([features(5, 8, 5, 10 + s, shift=s) for s in range(3)])
    alphas = jnp.array([1.0, 0.3, 0.7])
    alone = jnp.stack([transform(c, s, a) for c, s, a in zip(contents, styles, alphas, strict=True)])
    assert float(jnp.abs(alone - contents).max()) > 0.1
    np.testing.assert_allclose(jax.jit(transform)(contents[0], styles[0], alphas[0]), alone[0], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(jax.jit(jax.vmap(transform))(contents, styles, alphas), alone, rtol=1e-5, atol=1e-5)


def test_newton_schulz_roots_agree_with_eigh():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, 16)) @ rng.normal(size=(16, 16))
    # An ill-conditioned covariance: two directions a thousand times weaker than the rest.
    x[:, :2] *= 1e-3
    a = regularised(jnp.asarray(x.T @ x / 40, jnp.float32), jnp.zeros(16))
    root, inverse = newton_schulz_roots(a)
    e_root, e_inverse = eigh_roots(a)
    np.testing.assert_allclose(root, e_root, atol=1e-4 * np.abs(e_root).max())
    np.testing.assert_allclose(inverse, e_inverse, atol=1e-3 * np.abs(e_inverse).max())
    np.testing.assert_allclose(root @ root, a, atol=1e-4 * np.abs(a).max())
    np.testing.assert_allclose(inverse @ a @ inverse, np.eye(16), atol=2e-3)


def test_newton_schulz_transfer_agrees_with_eigh_where_channels_outnumber_positions():
    # 4x4 positions for 24 channels: a singular covariance, as relu5_1 of a small image.
    content, style = features(4, 4, 24, 0), features(5, 3, 24, 1)
    eigh, ns = wct_jit(content, style), wct_jit(content, style, sqrt="newton_schulz")
    assert np.isfinite(np.asarray(ns)).all()
    np.testing.assert_allclose(ns, eigh, atol=1e-3 * float(jnp.abs(eigh).max()))


def test_regions_take_their_own_style():
    content = features(8, 10, 6, 0)
    styles = [features(7, 7, 6, 1, shift=-2.0), features(6, 9, 6, 2, shift=4.0)]
    left = jnp.zeros((8, 10)).at[:, :5].set(1.0)
    masks = jnp.stack([left, 1.0 - left])
    out = jax.jit(partial(by_regions, wct, **EXACT))(content, styles, masks)
    for region, style in ((out[:, :5], styles[0]), (out[:, 5:], styles[1])):
        mean, cov = stats64(region)
        s_mean, s_cov = stats64(style)
        np.testing.assert_allclose(mean, s_mean, atol=1e-4 * np.abs(s_mean).max())
        np.testing.assert_allclose(cov, s_cov, atol=1e-4 * np.abs(s_cov).max())
    # A mask's statistics equal those of the region cut out.
    np.testing.assert_allclose(moments(content, left)[1], moments(content[:, :5])[1], rtol=1e-5)
    with pytest.raises(StyleJaxError, match="one mask per style"):
        by_regions(wct, content, styles[:1], masks)


def test_dtypes_and_bad_shapes():
    content, style = features(6, 6, 4, 0), features(5, 5, 4, 1)
    out = wct_jit(content.astype(jnp.bfloat16), style.astype(jnp.bfloat16))
    assert out.dtype == jnp.bfloat16
    np.testing.assert_allclose(np.asarray(out, np.float32), wct_jit(content, style), rtol=0.02, atol=0.1)
    with pytest.raises(StyleJaxError, match="same c"):
        wct(content, features(5, 5, 3, 1))
    with pytest.raises(StyleJaxError, match="jax.vmap"):
        adain(content[None], style[None])
    with pytest.raises(StyleJaxError, match="`sqrt`"):
        wct(content, style, sqrt="svd")


any_features = st.tuples(st.sampled_from([(1, 1), (2, 3), (6, 6)]), st.integers(0, 2**32 - 1),
                         st.sampled_from([0.0, 1e-3, 1.0, 10.0]))


def draw(spec):
    """Features of a drawn shape (one position, a few, more positions than channels), seed and spread:
    spread 0 gives constant features, 1e-3 nearly constant ones."""
    (h, w), seed, spread = spec
    rng = np.random.default_rng(seed)
    return jnp.asarray(np.maximum(3 + spread * rng.normal(size=(h, w, 4)), 0), jnp.float32)


@settings(max_examples=25, deadline=None)
@given(any_features, any_features)
def test_any_content_gets_the_style_mean_and_no_more_than_its_covariance(content, style):
    """Whatever the content (constant, one position, rank-deficient), the output is finite, its mean is the
    style's, and its covariance is at most the style's regularised one: whitening leaves at most unit
    variance in every direction."""
    content, style = draw(content), draw(style)
    s_mean, s_cov = stats64(style)
    bound = np.asarray(regularised(jnp.asarray(s_cov, jnp.float32), jnp.asarray(s_mean, jnp.float32)), np.float64)
    spread = np.sqrt(np.trace(bound))
    for sqrt in SQRTS:
        out = wct_jit(content, style, sqrt=sqrt)
        assert np.isfinite(np.asarray(out)).all()
        mean, cov = stats64(out)
        np.testing.assert_allclose(mean, s_mean, atol=1e-3 * spread + 1e-5 * np.abs(s_mean).max())
        assert np.linalg.eigvalsh(cov - bound).max() <= 1e-4 * np.trace(bound) + 1e-6 * np.abs(s_mean).max() ** 2
