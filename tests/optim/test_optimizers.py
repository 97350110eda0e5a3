import jax.numpy as jnp
import numpy as np
import optax
import pytest
from sample_images import smooth_image, stripes

import stylejax
from stylejax.config import StyleConfig
from stylejax.objective import targets
from stylejax.optim import loop, optimizers

STEPS = 6


@pytest.fixture(scope="module")
def problem(vgg16):
    config = StyleConfig(size=48)
    objective, args, content = targets.prepare(vgg16, smooth_image(48, 48), [stripes(48, 48)], config)
    return objective, args, content


def run(problem, optimizer, steps=STEPS, length=STEPS):
    """`steps` steps from the content image, in one call of a `length`-step program."""
    objective, args, content = problem
    state = loop.init_state_jit(objective, optimizer, content, args)
    state, losses = loop.run_steps_jit(objective, optimizer, state, jnp.int32(steps), args, length)
    return state, np.asarray(losses)


@pytest.mark.slow
@pytest.mark.parametrize("name", optimizers.OPTIMIZERS)
def test_every_optimizer_lowers_the_loss_and_keeps_pixels_in_range(problem, name):
    state, losses = run(problem, optimizers.make_optimizer(name))
    assert losses.shape == (STEPS,) and np.all(np.isfinite(losses))
    final = float(problem[0](state.image, problem[1]))
    assert final < 0.7 * losses[0], (name, losses, final)
    assert 0.0 <= float(state.image.min()) and float(state.image.max()) <= 1.0
    assert int(state.step) == STEPS


def test_first_order_methods_use_one_evaluation_per_step(problem):
    state, _ = run(problem, optimizers.make_optimizer("adam"))
    assert int(state.evaluations) == STEPS


def test_line_search_evaluations_are_counted(problem):
    state, _ = run(problem, optimizers.make_optimizer("lbfgs"))
    assert int(state.evaluations) > STEPS + 1  # the priming evaluation plus at least one per step, often more


def test_backtracking_counts_its_trials_and_takes_the_full_step_when_it_can(problem):
    from optax import tree_utils as otu

    state, losses = run(problem, optimizers.make_optimizer("lbfgs-backtrack"))
    assert int(state.evaluations) >= STEPS + 1  # the priming evaluation plus at least one per step
    assert not bool(otu.tree_get(state.opt_state, "failed"))
    assert np.all(np.diff(losses) < 0)  # Armijo: every accepted step lowers the loss


def test_steps_past_remaining_are_skipped_not_taken(problem):
    state, losses = run(problem, optimizers.make_optimizer("adam"), steps=4, length=STEPS)
    assert int(state.step) == 4 and int(state.evaluations) == 4
    assert np.all(np.isfinite(losses[:4])) and np.all(np.isnan(losses[4:]))


def test_any_optax_transformation_works(problem):
    state, losses = run(problem, optax.with_extra_args_support(optax.adabelief(0.02)))
    assert float(problem[0](state.image, problem[1])) < losses[0]


def test_second_run_with_same_shapes_does_not_recompile(problem):
    optimizer = optimizers.make_optimizer("adam")
    run(problem, optimizer)
    before = loop.run_steps_jit._cache_size()
    run(problem, optimizer, steps=3)  # a different step count is an argument, not a new program
    run(problem, optimizers.make_optimizer("adam"))  # equal settings give the cached optimizer
    assert loop.run_steps_jit._cache_size() == before


def test_unknown_optimizer_and_misplaced_learning_rate_are_clear():
    with pytest.raises(stylejax.StyleJaxError, match="unknown optimizer 'adamw'"):
        optimizers.make_optimizer("adamw")
    with pytest.raises(stylejax.StyleJaxError, match="line search"):
        optimizers.make_optimizer("lbfgs", 0.5)
