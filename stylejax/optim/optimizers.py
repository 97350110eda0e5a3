"""Optimizers by name: optax's Adam, L-BFGS (three line-search variants) and SGD for pixels in [0, 1]."""

from __future__ import annotations

import functools

import optax

from stylejax.config import OPTIMIZERS, StyleConfig
from stylejax.errors import StyleJaxError
from stylejax.optim.linesearch import scale_by_backtracking
from stylejax.optim.loop import project_pixels


def resolve_optimizer(config: StyleConfig) -> optax.GradientTransformationExtraArgs:
    """The config's optimizer; the same object for the same settings, so programs are reused."""
    if isinstance(config.optimizer, str):
        return make_optimizer(config.optimizer, config.learning_rate)
    return _with_extra_args(config.optimizer)


@functools.lru_cache(maxsize=32)
def _with_extra_args(optimizer: optax.GradientTransformation) -> optax.GradientTransformationExtraArgs:
    return optax.with_extra_args_support(optimizer)


# Step sizes that work for pixels in [0, 1] with the default loss weights.
DEFAULT_LEARNING_RATES = {"adam": 0.02, "lbfgs-fixed": 1.0, "sgd": 0.05}

# For refining an image that starts next to its optimum (a video's later frames start from the previous
# output, warped). Adam moves every pixel by about its learning rate a step whatever the gradient says,
# so it shakes such a start loose at its full rate (benchmarks/video.py). SGD's step follows the gradient
# and L-BFGS's its curvature model, both of which shrink near an optimum: they keep their rate.
REFINING_RATE_FACTORS = {"adam": 0.25}


def refining_learning_rate(config: StyleConfig) -> float | None:
    """The learning rate for refining a start that is already nearly optimal: the config's (or the
    optimizer's default) times its `REFINING_RATE_FACTORS` factor; the config's own where it has none."""
    factor = REFINING_RATE_FACTORS.get(config.optimizer) if isinstance(config.optimizer, str) else None
    if factor is None:
        return config.learning_rate
    rate = config.learning_rate if config.learning_rate is not None else DEFAULT_LEARNING_RATES[config.optimizer]
    return rate * factor


@functools.lru_cache(maxsize=32)
def make_optimizer(name: str, learning_rate: float | None = None) -> optax.GradientTransformationExtraArgs:
    """An optax optimizer by name (cached, so equal settings give the same compiled program).

    adam: Adam. lbfgs: L-BFGS with optax's zoom line search (several loss evaluations per step).
    lbfgs-fixed: L-BFGS with a fixed step and no line search, as Lua/PyTorch neural-style run it.
    lbfgs-backtrack: L-BFGS with a backtracking (Armijo) line search that has no per-image branches,
    so a lockstep batch shares its control flow (`stylejax.optim.linesearch`); usually one evaluation a step.
    sgd: SGD with Nesterov momentum 0.9.

    Args:
      name: "adam", "lbfgs", "lbfgs-fixed", "lbfgs-backtrack" or "sgd".
      learning_rate: the step size; None picks the optimizer's default (0.02 for adam, 1.0 for
        lbfgs-fixed, 0.05 for sgd). The line-searching optimizers take none.

    Returns:
      An optax `GradientTransformationExtraArgs`.

    Raises:
      StyleJaxError: an unknown name, or a learning rate for lbfgs or lbfgs-backtrack.
    """
    if name not in OPTIMIZERS:
        raise StyleJaxError(f"unknown optimizer {name!r}: use one of {', '.join(OPTIMIZERS)}")
    if name in ("lbfgs", "lbfgs-backtrack"):
        if learning_rate is not None:
            raise StyleJaxError(f"{name} chooses its step by line search: drop the learning rate or use lbfgs-fixed")
        if name == "lbfgs":
            return optax.lbfgs()
        return optax.lbfgs(linesearch=scale_by_backtracking(project=project_pixels))
    lr = DEFAULT_LEARNING_RATES[name] if learning_rate is None else learning_rate
    if name == "adam":
        return optax.with_extra_args_support(optax.adam(lr))
    if name == "sgd":
        return optax.with_extra_args_support(optax.sgd(lr, momentum=0.9, nesterov=True))
    return optax.lbfgs(learning_rate=lr, linesearch=None)
