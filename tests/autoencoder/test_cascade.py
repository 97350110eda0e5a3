"""The one-pass cascade: each level's features get the style's statistics, alpha 0 is the autoencoder's
reconstruction, any photo size comes back at its size, blends and regions do what they say, bad shapes are
refused. Tiny random decoders (tests/tiny_decoders.py) and the real VGG; the programs are shared: the
cascade is a static argument and alpha a dynamic one."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx
from sample_images import smooth_image, stripes
from tiny_decoders import tiny_decoder

import stylejax
from stylejax.autoencoder.cascade import Cascade, CascadeWeights, stylized_features, toward_painting_colors
from stylejax.autoencoder.reconstruction import ENCODER_POOLING
from stylejax.autoencoder.transforms import adain_statistics, wct
from stylejax.errors import StyleJaxError
from stylejax.objective import color

WCT_LEVELS = ("relu3_1", "relu1_1")  # two levels, stride 4: a short cascade that still re-encodes
CONTENT = jnp.asarray(smooth_image(48, 64, 0))
STYLES = (jnp.asarray(smooth_image(40, 56, 7)), jnp.asarray(stripes(40, 56)))  # one shape: one program for either


@pytest.fixture(scope="module")
def vgg(weights_cache):
    return stylejax.load_vgg("vgg16", pooling=ENCODER_POOLING)


@pytest.fixture(scope="module")
def make(vgg):
    encoder, encoder_state = nnx.split(vgg)
    decoders = {level: tiny_decoder(level, seed) for seed, level in enumerate(("relu1_1", "relu3_1", "relu4_1"))}

    def cascade(levels=WCT_LEVELS, method="wct", **options):
        split = [nnx.split(decoders[level]) for level in levels]
        return (Cascade(encoder, tuple(g for g, _ in split), levels, method, **options),
                CascadeWeights(encoder_state, tuple(s for _, s in split)))

    return cascade


def features_at(vgg, images):
    return vgg(images, ("relu1_1", "relu2_1", "relu3_1", "relu4_1"))


run = jax.jit(lambda cascade, weights, content, styles, alpha=1.0, blend=None, masks=None:
              cascade(weights, content, styles, alpha, blend, masks), static_argnums=0)


def stats64(f):
    x = np.asarray(f, np.float64).reshape(-1, f.shape[-1])
    mean = x.mean(0)
    return mean, (x - mean).T @ (x - mean) / len(x), x.std(0)


# Compiled: op by op, an eigendecomposition dispatches hundreds of small ops.
wct_small_eps = jax.jit(functools.partial(wct, alpha=1.0, eps=1e-7, iterations=25))


def test_each_level_gives_the_styles_statistics(vgg):
    content, style = features_at(vgg, CONTENT[None]), features_at(vgg, STYLES[0][None])
    blend = jnp.ones(1)
    for level in content:
        c, s = content[level][0], style[level][0]
        s_mean, s_cov, s_std = stats64(s)
        mean, cov, _ = stats64(wct_small_eps(c, s))
        np.testing.assert_allclose(mean, s_mean, atol=1e-4 * np.abs(s_mean).max())
        if c.shape[0] * c.shape[1] > c.shape[2]:  # relu1_1, relu2_1 here: the content's covariance has full rank
            assert np.abs(stats64(c)[1] - s_cov).max() > 0.1 * np.abs(s_cov).max()  # the test can tell
            np.testing.assert_allclose(cov, s_cov, atol=1e-4 * np.abs(s_cov).max())
        # AdaIN: each channel's mean and standard deviation, where the content's channel is not (nearly) constant.
        mean, _, std = stats64(stylized_features("adain", c, [adain_statistics(s)], blend))
        live = stats64(c)[2] > 1e-2 * stats64(c)[2].max()
        np.testing.assert_allclose(mean, s_mean, atol=1e-5 * np.abs(s_mean).max())
        np.testing.assert_allclose(std[live], s_std[live], atol=1e-3 * s_std.max())


def test_adain_blends_the_styles_means_and_standard_deviations(vgg):
    c = features_at(vgg, CONTENT[None])["relu2_1"][0]
    styles = [features_at(vgg, s[None])["relu2_1"][0] for s in STYLES]
    (m0, _, d0), (m1, _, d1) = (stats64(s) for s in styles)
    statistics = [adain_statistics(s) for s in styles]
    mean, _, std = stats64(stylized_features("adain", c, statistics, jnp.array([0.25, 0.75])))
    np.testing.assert_allclose(mean, 0.25 * m0 + 0.75 * m1, atol=1e-4 * np.abs(m1).max())
    np.testing.assert_allclose(std, 0.25 * d0 + 0.75 * d1, atol=1e-3 * d1.max())


@pytest.mark.parametrize(("method", "levels", "painting_colors"),
                         [("wct", WCT_LEVELS, 0.0), ("adain", ("relu4_1",), 0.0), ("adain", ("relu4_1",), 0.7)])
def test_alpha_zero_returns_the_autoencoders_reconstruction(make, vgg, method, levels, painting_colors):
    cascade, weights = make(levels, method=method, painting_colors=painting_colors)
    image = CONTENT
    for level, graphdef, state in zip(levels, cascade.decoders, weights.decoders, strict=True):
        features = vgg(image[None], (level,))[level]
        image = jnp.clip(nnx.merge(graphdef, state)(features)[0], 0.0, 1.0)
    zero, full = run(cascade, weights, CONTENT, STYLES[:1], 0.0), run(cascade, weights, CONTENT, STYLES[:1], 1.0)
    assert zero.shape == CONTENT.shape
    assert float(jnp.abs(full - zero).mean()) > 0.01  # the style changes it
    np.testing.assert_allclose(zero, image, atol=1e-5)


@pytest.mark.parametrize("method", ["wct", "adain"])
def test_style_statistics_computed_once_give_the_same_image(make, method):
    cascade, weights = make(method=method)
    statistics = jax.jit(cascade.style_statistics)(weights, STYLES[:1])
    once = jax.jit(lambda w, c, st: cascade(w, c, STYLES[:1], statistics=st))(weights, CONTENT, statistics)
    # Two programs: whitening magnifies their different rounding to ~2e-5 (as in the masks' test).
    np.testing.assert_allclose(once, run(cascade, weights, CONTENT, STYLES[:1]), atol=1e-4)


def test_any_size_is_padded_by_reflection_and_cropped_back(make):
    cascade, weights = make()
    photo = CONTENT[:45, :61]
    padded = jnp.pad(photo, ((0, 3), (0, 3), (0, 0)), mode="reflect")
    out = run(cascade, weights, photo, STYLES[:1])
    assert out.shape == (45, 61, 3)
    assert 0.0 <= float(out.min()) and float(out.max()) <= 1.0
    np.testing.assert_allclose(out, run(cascade, weights, padded, STYLES[:1])[:45, :61], atol=1e-5)


def test_blend_weights_and_regions(make):
    cascade, weights = make()
    alone = [run(cascade, weights, CONTENT, (s,)) for s in STYLES]
    assert float(jnp.abs(alone[0] - alone[1]).mean()) > 0.01
    np.testing.assert_allclose(run(cascade, weights, CONTENT, STYLES, blend=jnp.array([1.0, 0.0])), alone[0], atol=1e-5)
    np.testing.assert_allclose(run(cascade, weights, CONTENT, STYLES, blend=jnp.array([0.0, 1.0])), alone[1], atol=1e-5)
    # One region covering the photo is no region (to rounding, which whitening amplifies: another program
    # sums in another order); two regions are the same whichever order they are given in.
    np.testing.assert_allclose(run(cascade, weights, CONTENT, STYLES[:1], masks=jnp.ones((1, 48, 64))), alone[0],
                               atol=3e-4)
    left = jnp.zeros((48, 64)).at[:, :32].set(1.0)
    regions = run(cascade, weights, CONTENT, STYLES, masks=jnp.stack([left, 1 - left]))
    swapped = run(cascade, weights, CONTENT, STYLES[::-1], masks=jnp.stack([1 - left, left]))
    np.testing.assert_allclose(regions, swapped, atol=1e-5)
    assert float(jnp.abs(regions - alone[0])[:, :24].mean()) < float(jnp.abs(regions - alone[0])[:, 40:].mean())


def test_original_colors_keep_the_photos_chroma(make):
    cascade, weights = make(original_colors=True)
    plain = run(make()[0], weights, CONTENT, STYLES[1:])
    kept = run(cascade, weights, CONTENT, STYLES[1:])
    np.testing.assert_allclose(kept, color.keep_colors(plain, CONTENT), atol=1e-5)
    assert float(jnp.abs(kept - plain).mean()) > 0.01


def lab_moments(image, weights=None):
    lab = np.asarray(color.rgb_to_lab(image), np.float64).reshape(-1, 3)
    w = np.ones(len(lab)) if weights is None else np.asarray(weights, np.float64).reshape(-1)
    mean = w @ lab / w.sum()
    return mean, ((lab - mean) * w[:, None]).T @ (lab - mean) / w.sum()


# Colours well inside sRGB's gamut, so that moving them clips nothing.
MUTED = (0.3 + 0.4 * CONTENT, 0.25 + 0.5 * STYLES[0] * jnp.array([[[1.0, 0.7, 0.4]]]))


def test_painting_colors_move_the_colour_moments_to_the_paintings():
    image, painting = MUTED
    moved = toward_painting_colors(image, (painting,), 1.0, jnp.ones(1))
    for got, want in zip(lab_moments(moved), lab_moments(painting), strict=True):
        np.testing.assert_allclose(got, want, atol=0.02 * np.abs(want).max())
    assert float(np.abs(lab_moments(image)[0] - lab_moments(painting)[0]).max()) > 5  # they were apart
    # Strength: that part of the way, in sRGB; 0 is the image itself.
    half = toward_painting_colors(image, (painting,), 0.5, jnp.ones(1))
    np.testing.assert_allclose(half, 0.5 * moved + 0.5 * image, atol=1e-5)
    np.testing.assert_allclose(toward_painting_colors(image, (painting,), 0.0, jnp.ones(1)), image, atol=1e-5)
    # Regions: each its own painting's moments, measured within its mask.
    left = jnp.zeros(image.shape[:2]).at[:, :32].set(1.0)
    other = 0.2 + 0.3 * STYLES[0][..., ::-1]
    regions = toward_painting_colors(image, (painting, other), 1.0, jnp.ones(2) / 2, jnp.stack([left, 1 - left]))
    for region, style in ((left, painting), (1 - left, other)):
        for got, want in zip(lab_moments(regions, region), lab_moments(style), strict=True):
            np.testing.assert_allclose(got, want, atol=0.02 * np.abs(want).max())


def test_the_cascade_moves_its_output_toward_the_paintings_colours_by_alpha(make):
    plain, weights = make(("relu4_1",), method="adain")
    coloured = make(("relu4_1",), method="adain", painting_colors=0.7)[0]
    for alpha in (1.0, 0.5):
        np.testing.assert_allclose(run(coloured, weights, CONTENT, STYLES[:1], alpha),
                                   toward_painting_colors(run(plain, weights, CONTENT, STYLES[:1], alpha), STYLES[:1],
                                                          0.7 * alpha, jnp.ones(1)), atol=1e-4)  # two programs


def test_bad_shapes_name_the_parameter(make):
    cascade, weights = make()  # relu3_1: 8 px at least
    with pytest.raises(StyleJaxError, match=r"`style` 2 is 40x7 px: relu3_1 needs a short side of at least 8 px"):
        cascade.check((48, 64, 3), [(40, 56, 3), (7, 40, 3)])
    with pytest.raises(StyleJaxError, match="`content` is 64x6 px"):
        cascade.check((6, 64, 3), [(40, 56, 3)])
    with pytest.raises(StyleJaxError, match="`content` must be one .* jax.vmap"):
        cascade(weights, CONTENT[None], STYLES)
    with pytest.raises(StyleJaxError, match="`masks` have shape"):
        cascade.check((48, 64, 3), [(40, 56, 3)] * 2, (1, 48, 64))
    with pytest.raises(StyleJaxError, match="`masks` have shape"):
        cascade.check((48, 64, 3), [(40, 56, 3)], (1, 32, 64))
    with pytest.raises(StyleJaxError, match="`levels`"):
        Cascade(cascade.encoder, cascade.decoders, WCT_LEVELS[::-1], "wct")
    with pytest.raises(StyleJaxError, match="`method`"):
        Cascade(cascade.encoder, cascade.decoders, WCT_LEVELS, method="linear")
