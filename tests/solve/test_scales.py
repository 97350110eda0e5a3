"""Coarse to fine: the scales a run takes, state carried between them, iterate averaging, batches."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from sample_images import smooth_image, stripes

import stylejax
from stylejax.optim import loop
from stylejax.solve import scales
from stylejax.solve.stylize import stylize_batch

TWO_SCALES = dict(size=64, min_size=32, scale_factor=2.0, steps=(4, 2), chunk_steps=2)


def sizes(**fields):
    return [scale.size for scale in scales.plan_scales(stylejax.StyleConfig(**fields))]


def test_scales_grow_by_the_factor_from_min_size():
    assert sizes(size=512) == [256, 362, 512]
    assert sizes(size=512, min_size=128) == [128, 181, 256, 362, 512]
    assert sizes(size=512, min_size=512) == [512]  # one scale, as before multi-scale
    assert sizes(size=2048) == [256, 362, 512, 724, 1024, 1448, 2048]
    assert sizes(size=160) == [160]  # under the default first scale (256): a small run has one scale
    assert sizes(size=300) == [300]  # 300 / sqrt(2) is under 256
    assert sizes(size=1000, min_size=200, scale_factor=2.0) == [250, 500, 1000]


def test_steps_per_scale_the_last_repeating():
    plan = scales.plan_scales(stylejax.StyleConfig(size=512, min_size=181, steps=(30, 10)))
    assert [(s.size, s.steps, s.label) for s in plan] == [
        (181, 30, "181 px 1/4"), (256, 10, "256 px 2/4"), (362, 10, "362 px 3/4"), (512, 10, "512 px 4/4")]
    assert scales.total_steps(stylejax.StyleConfig(size=512, min_size=256, steps=7)) == 21


@pytest.mark.parametrize("bad, message", [
    (dict(min_size=600), "min_size must be"),
    (dict(scale_factor=1.0), "scale_factor must be above 1"),
    (dict(ema_decay=1.0), r"ema_decay must be in \[0, 1\)"),
    (dict(steps=(10, 0)), "steps must be a positive"),
    (dict(tile=0), "tile must be"),
    (dict(tile=512), "not smaller than the size"),
    (dict(tile="big"), "tile must be"),
    (dict(remat="yes"), "remat must be"),
])
def test_bad_schedule_settings_are_clear(bad, message):
    with pytest.raises(stylejax.StyleJaxError, match=message):
        stylejax.StyleConfig(size=512, **bad)


def _state(optimizer, shape):
    image = jnp.full((*shape, 3), 0.5)
    loss = lambda x, args: jnp.sum(jnp.square(x - 0.25))  # noqa: E731
    state = loop.init_state(loss, optimizer, image, None)
    state, _ = loop.run_steps(loss, optimizer, state, jnp.int32(3), None, 3)
    return state, loop.init_state(loss, optimizer, jnp.zeros((16, 24, 3)), None)


def test_adam_moments_are_resized_and_its_count_kept():
    previous, fresh = _state(optax.with_extra_args_support(optax.adam(0.1)), (8, 12))
    carried = scales.carry_state(previous, fresh)
    adam = carried.opt_state[0]
    assert int(adam.count) == 3
    assert adam.mu.shape == (16, 24, 3) and adam.nu.shape == (16, 24, 3)
    np.testing.assert_allclose(adam.mu, previous.opt_state[0].mu[0, 0, 0], rtol=1e-5)  # a constant stays constant
    assert float(adam.nu.min()) > 0


def test_lbfgs_restarts_its_history():
    previous, fresh = _state(optax.lbfgs(learning_rate=1.0, linesearch=None), (8, 12))
    carried = scales.carry_state(previous, fresh)
    for a, b in zip(jax.tree.leaves(carried.opt_state), jax.tree.leaves(fresh.opt_state), strict=True):
        np.testing.assert_array_equal(a, b)


def test_the_average_is_the_bias_corrected_moving_average_of_the_iterates():
    optimizer = optax.with_extra_args_support(optax.sgd(0.1))
    loss = lambda x, args: jnp.sum(jnp.square(x - 0.25))  # noqa: E731
    state = loop.init_state(loss, optimizer, jnp.full((2, 2, 3), 0.9), None)
    np.testing.assert_array_equal(loop.averaged_image(state, 0.5), state.image)  # no step yet: the start
    iterates, want, weight = [], 0.0, 0.0
    for _ in range(4):
        state, _ = loop.run_steps(loss, optimizer, state, jnp.int32(1), None, 1, ema_decay=0.5)
        iterates.append(np.asarray(state.image))
        want, weight = 0.5 * want + 0.5 * iterates[-1], 0.5 * weight + 0.5
    np.testing.assert_allclose(loop.averaged_image(state, 0.5), want / weight, rtol=1e-6)
    assert not np.allclose(want / weight, iterates[-1])  # it really averages
    np.testing.assert_allclose(loop.averaged_image(state._replace(average=state.image), 0.0), state.image)


@pytest.fixture(scope="module")
def images():
    return smooth_image(64, 64, seed=1), stripes(48, 48)


@pytest.mark.slow
def test_stylize_runs_every_scale_and_reports_each(images):
    content, style = images
    seen, calls = [], []
    result = stylejax.stylize(content, style, optimizer="adam", ema_decay=0.5, **TWO_SCALES,
                              on_scale=lambda s: seen.append(s.label),
                              callback=lambda step, image, history: calls.append((step, image.shape, len(history))))
    assert seen == ["32 px 1/2", "64 px 2/2"]
    assert result.scales == (32, 64) and [len(h) for h in result.scale_histories] == [4, 2]
    assert result.image.shape == (64, 64, 3) and len(result.loss_history) == 6 and result.evaluations == 6
    assert calls == [(2, (32, 32, 3), 2), (4, (32, 32, 3), 4), (6, (64, 64, 3), 6)]
    assert result.losses["total"] < result.scale_histories[1][0] * 1.05  # the start of the last scale is kept


@pytest.mark.slow
@pytest.mark.parametrize("optimizer", ["adam"])  # L-BFGS batches match stylize in solve/test_batch.py
def test_each_image_of_a_batch_matches_stylize_at_every_scale(images, optimizer):
    content, style = images
    contents = [content, smooth_image(64, 64, seed=2)]
    batch = stylize_batch(contents, style, optimizer=optimizer, ema_decay=0.5, **TWO_SCALES)
    for i in range(2):
        alone = stylejax.stylize(contents[i], style, optimizer=optimizer, ema_decay=0.5, **TWO_SCALES)
        np.testing.assert_allclose(batch.images[i], alone.image, atol=2e-4)
        np.testing.assert_allclose(batch.loss_histories[i], alone.loss_history, rtol=1e-4)
        assert batch.evaluations[i] == alone.evaluations
