import jax
import numpy as np
import pytest
from sample_images import smooth_image, stripes

import stylejax
from stylejax.io.images import resize
from stylejax.objective import color, targets
from stylejax.solve import problem

SMALL = dict(size=48, steps=5, optimizer="adam", chunk_steps=5)


@pytest.fixture(scope="module")
def images():
    return smooth_image(60, 40), stripes(50, 50)


@pytest.mark.slow
def test_stylize_returns_what_the_api_promises(images):
    content, style = images
    result = stylejax.stylize(content, style, stylejax.StyleConfig(**SMALL))
    assert result.image.shape == (48, 32, 3) and result.image.dtype == np.float32  # content's aspect ratio
    assert 0 <= result.image.min() and result.image.max() <= 1
    assert result.loss_history.shape == (5,) and result.loss_history.dtype == np.float32
    assert result.evaluations == 5
    assert set(result.losses) == {"content", "style", "tv", "total"}
    assert result.losses["total"] < result.loss_history[0]


def test_overrides_and_paths_are_accepted(images, tmp_path):
    content, style = images
    stylejax.save_image(content, tmp_path / "c.png")
    stylejax.save_image(style, tmp_path / "s.png")
    result = stylejax.stylize(tmp_path / "c.png", str(tmp_path / "s.png"), **SMALL)
    assert result.image.shape == (48, 32, 3)
    with pytest.raises(stylejax.StyleJaxError, match="unknown StyleConfig field"):
        stylejax.stylize(content, style, stepz=3)


@pytest.mark.slow
def test_a_second_call_with_the_same_shapes_does_not_recompile(images, compiles):
    content, style = images
    stylejax.stylize(content, style, **SMALL)
    with compiles() as compiled:
        stylejax.stylize(content, style, **SMALL | {"steps": 3, "style_weight": 5.0})  # weights are arguments
    assert compiled == []


@pytest.mark.slow
def test_a_custom_optax_optimizer_is_compiled_once(images, compiles):
    import optax

    content, style = images
    optimizer = optax.adabelief(0.02)
    first = stylejax.stylize(content, style, **SMALL | {"optimizer": optimizer})
    with compiles() as compiled:
        stylejax.stylize(content, style, **SMALL | {"optimizer": optimizer})
    assert compiled == []
    assert first.losses["total"] < first.loss_history[0]


@pytest.mark.slow
def test_style_loss_falls_more_than_tenfold(images):
    content, style = images
    result = stylejax.stylize(content, style, size=48, steps=40, optimizer="adam", chunk_steps=40)
    config = stylejax.StyleConfig(size=48)
    vgg = stylejax.load_vgg()
    objective, args, content48 = targets.prepare(vgg, np.asarray(resize(content, (48, 32))),
                                                [style], config)
    initial = float(jax.jit(objective.terms)(content48, args)["style"])
    assert result.losses["style"] < initial / 10


def test_style_blend_interpolates_between_styles(images):
    content, style = images
    other = smooth_image(50, 50, seed=3)
    vgg = stylejax.load_vgg()
    cfg = stylejax.StyleConfig(size=48)
    _, only_first, _ = targets.prepare(vgg, content[:48, :32], [style], cfg)
    _, only_second, _ = targets.prepare(vgg, content[:48, :32], [other], cfg)
    _, blended, _ = targets.prepare(vgg, content[:48, :32], [style, other], cfg.replace(style_blend=(3, 1)))
    for layer, g in blended.targets.style.items():
        want = 0.75 * only_first.targets.style[layer] + 0.25 * only_second.targets.style[layer]
        np.testing.assert_allclose(g, want, rtol=1e-4, atol=1e-6)
    with pytest.raises(stylejax.StyleJaxError, match="one per style"):
        stylejax.stylize(content, [style, other], **SMALL, style_blend=(1, 2, 3))


def test_style_scale_resizes_the_style_image(images, vgg16):
    content, style = images
    cfg = stylejax.StyleConfig(size=48)
    _, normal, _ = targets.prepare(vgg16, content[:48, :32], [style], cfg)
    _, scaled, _ = targets.prepare(vgg16, content[:48, :32], [style], cfg.replace(style_scale=2.0))
    assert not np.allclose(normal.targets.style["relu1_1"], scaled.targets.style["relu1_1"])


def test_initialisation_choices(images):
    content, style = images
    config = stylejax.StyleConfig(**SMALL)
    resized = resize(content, (48, 32))
    np.testing.assert_array_equal(problem.initial_image(config, resized), resized)
    a = problem.initial_image(config.replace(init="noise", seed=1), resized)
    b = problem.initial_image(config.replace(init="noise", seed=1), resized)
    c = problem.initial_image(config.replace(init="noise", seed=2), resized)
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)
    given = problem.initial_image(config, resized, init_image=style)
    assert given.shape == resized.shape and not np.allclose(given, resized)


def test_original_colors_keep_the_content_chroma(images):
    content, style = images
    resized = np.asarray(resize(content, (48, 32)))
    want = np.asarray(color.rgb_to_yiq(resized))[..., 1:]

    def chroma_error(**options):
        result = stylejax.stylize(content, style, **SMALL, **options)
        return np.abs(np.asarray(color.rgb_to_yiq(result.image))[..., 1:] - want).mean()

    kept, free = chroma_error(original_colors=True), chroma_error()
    assert kept < 0.005 < free  # only gamut clipping moves the kept chroma


def test_divergence_is_reported_with_the_setting_to_lower(images):
    content, style = images
    with pytest.raises(stylejax.StyleJaxError, match="diverged.*`style_weight`"):
        stylejax.stylize(content, style, **SMALL | {"style_weight": 1e38})


@pytest.mark.parametrize("bad, message", [
    (dict(steps=0), "steps must be a positive"),
    (dict(style_weight=-1.0), "style_weight must be a finite number >= 0"),
    (dict(size=8), "size must be"),
    (dict(style_layers=("relu9_9",)), "unknown layer 'relu9_9'"),
    (dict(style_layer_weights=(1.0,)), "one per layer"),
    (dict(optimizer="newton"), "unknown optimizer"),
])
def test_bad_settings_are_clear(images, bad, message):
    content, style = images
    with pytest.raises(stylejax.StyleJaxError, match=message):
        stylejax.stylize(content, style, **SMALL | bad)


def test_a_tiny_content_image_is_refused(images):
    with pytest.raises(stylejax.StyleJaxError, match="too small"):
        stylejax.stylize(np.zeros((200, 4, 3), np.float32), images[1], **SMALL)
