"""Fair optimizer comparisons on real style-transfer problems.

Every optimizer runs the same compiled objective from the same start, one compiled step at a time so
that each step's wall time can be read without compilation (compile time is measured apart, ahead of
time). After each timed step the loss terms of the current image are evaluated, untimed and
uncounted. Loss evaluations count every value-and-gradient the optimizer asked for, line searches
included. `stylejax.report` writes the results out.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np
import optax

from stylejax.config import OPTIMIZERS, StyleConfig
from stylejax.errors import StyleJaxError
from stylejax.io import demo_images, images
from stylejax.io.images import as_image, working_shape
from stylejax.nn.weights import load_vgg
from stylejax.objective.targets import prepare, terms_of
from stylejax.optim.loop import init_state_jit, run_steps_jit
from stylejax.optim.optimizers import make_optimizer
from stylejax.solve.problem import initial_image


@dataclasses.dataclass(frozen=True)
class Problem:
    """A content image, its style image(s) and the output size."""

    name: str
    content: np.ndarray
    styles: tuple[np.ndarray, ...]
    size: int


@dataclasses.dataclass(frozen=True)
class OptimizerSpec:
    """An optimizer by name: one of stylejax's, or any optax optimizer with keyword hyperparameters."""

    name: str
    kwargs: tuple[tuple[str, float | int | bool | str], ...] = ()

    @property
    def label(self) -> str:
        return self.name + (":" + ",".join(f"{k}={v}" for k, v in self.kwargs) if self.kwargs else "")

    def build(self) -> optax.GradientTransformationExtraArgs:
        kwargs = dict(self.kwargs)
        if self.name in OPTIMIZERS:
            unknown = set(kwargs) - {"learning_rate"}
            if unknown:
                raise StyleJaxError(f"{self.name} takes only learning_rate, not {', '.join(sorted(unknown))}")
            return make_optimizer(self.name, kwargs.get("learning_rate"))
        factory = getattr(optax, self.name, None)
        if not callable(factory) or self.name.startswith("_"):
            raise StyleJaxError(f"unknown optimizer {self.name!r}: use {', '.join(OPTIMIZERS)} or an optax "
                                "optimizer name such as adabelief:learning_rate=0.05")
        try:
            transform = factory(**kwargs)
        except TypeError as e:
            raise StyleJaxError(f"optax.{self.name}: {e}") from None
        if not isinstance(transform, optax.GradientTransformation):
            raise StyleJaxError(f"optax.{self.name} is not an optimizer")
        return optax.with_extra_args_support(transform)


def parse_optimizer(text: str) -> OptimizerSpec:
    """'adam', 'lbfgs', 'adabelief:learning_rate=0.05,b1=0.8' -> OptimizerSpec."""
    name, _, params = text.strip().partition(":")
    kwargs = []
    for pair in filter(None, params.split(",")):
        key, sep, value = pair.partition("=")
        if not sep:
            raise StyleJaxError(f"optimizer option {pair!r} in {text!r} needs the form name=value")
        kwargs.append((key.strip(), _value(value.strip())))
    return OptimizerSpec(name.strip(), tuple(kwargs))


def _value(text: str) -> float | int | bool | str:
    if text.lower() in ("true", "false"):
        return text.lower() == "true"
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def with_learning_rates(specs: Sequence[OptimizerSpec], rates: Sequence[float]) -> list[OptimizerSpec]:
    """A learning-rate sweep: each spec once per rate (lbfgs, which line-searches, once as it is)."""
    swept = []
    for spec in specs:
        if spec.name == "lbfgs" or not rates:
            swept.append(spec)
            continue
        others = tuple((k, v) for k, v in spec.kwargs if k != "learning_rate")
        swept += [OptimizerSpec(spec.name, (("learning_rate", rate), *others)) for rate in rates]
    return swept


def default_problems(size: int) -> list[Problem]:
    """The demo photo with each style stylejax draws itself."""
    content = demo_images.astronaut()
    return [Problem(f"astronaut+{name}", content, (draw(size, size),), size)
            for name, draw in demo_images.STYLES.items()]


def problem_from_paths(content: str, styles: Sequence[str], size: int) -> Problem:
    from pathlib import Path

    name = Path(content).stem + "+" + "+".join(Path(s).stem for s in styles)
    return Problem(name, as_image(content, "content image"), tuple(as_image(s, "style image") for s in styles), size)


@dataclasses.dataclass(frozen=True)
class Budget:
    """Stop at whichever limit is given: steps, timed seconds, or loss evaluations."""

    steps: int | None = None
    seconds: float | None = None
    evaluations: int | None = None

    def __post_init__(self):
        if sum(v is not None for v in (self.steps, self.seconds, self.evaluations)) != 1:
            raise StyleJaxError("give exactly one budget: `steps`, `seconds` or `evaluations`")
        for v in (self.steps, self.seconds, self.evaluations):
            if v is not None and not v > 0:
                raise StyleJaxError(f"the budget must be positive, got {v}")

    def spent(self, steps: int, seconds: float, evaluations: int) -> bool:
        return ((self.steps is not None and steps >= self.steps)
                or (self.seconds is not None and seconds >= self.seconds)
                or (self.evaluations is not None and evaluations >= self.evaluations))


@dataclasses.dataclass
class Run:
    """One optimizer on one problem. `trace` has a row per step, step 0 being the start."""

    problem: str
    optimizer: str
    trace: list[dict[str, float]]  # step, seconds (cumulative, timed), evaluations (cumulative), loss, terms
    compile_seconds: float
    repeat_seconds: list[float]  # total timed seconds of each repeat
    image: np.ndarray

    @property
    def final_loss(self) -> float:
        return self.trace[-1]["loss"]

    def first_reaching(self, threshold: float, key: str) -> float | None:
        """The `key` ("seconds" or "evaluations") at which the loss first fell to `threshold`."""
        return next((row[key] for row in self.trace if row["loss"] <= threshold), None)


StepRunner = Callable[[Problem, Budget], tuple[list[dict[str, float]], float, np.ndarray]]


def run_optimizer(problem: Problem, spec: OptimizerSpec, budget: Budget, config: StyleConfig,
                  max_steps: int = 100_000) -> tuple[list[dict[str, float]], float, np.ndarray]:
    """One timed run. Returns (trace, compile seconds, final image)."""
    config = config.replace(size=problem.size)  # the style image is sized relative to this problem
    vgg = load_vgg(config.model, pooling=config.pooling)
    shape = working_shape(problem.content.shape[:2], problem.size, "content image")
    objective, args, content = prepare(vgg, images.resize(problem.content, shape), list(problem.styles), config)
    optimizer = spec.build()
    start_image = initial_image(config, content)
    one = jnp.int32(1)

    compile_start = time.perf_counter()
    state = init_state_jit(objective, optimizer, start_image, args)
    step = run_steps_jit.lower(objective, optimizer, state, one, args, 1).compile()
    jax.block_until_ready(state)
    compile_seconds = time.perf_counter() - compile_start
    terms_of(objective, state.image, args)  # compiled here, not inside the timed loop

    # Start again so the priming evaluation (L-BFGS) is timed like every other one.
    start = time.perf_counter()
    state = jax.block_until_ready(init_state_jit(objective, optimizer, start_image, args))
    seconds = time.perf_counter() - start
    trace = [_row(0, seconds, int(state.evaluations), terms_of(objective, state.image, args))]
    while not budget.spent(len(trace) - 1, seconds, int(state.evaluations)) and len(trace) <= max_steps:
        start = time.perf_counter()
        state, _ = step(state, one, args)
        jax.block_until_ready(state)
        seconds += time.perf_counter() - start
        trace.append(_row(len(trace), seconds, int(state.evaluations), terms_of(objective, state.image, args)))
        if not math.isfinite(trace[-1]["loss"]):
            raise StyleJaxError(f"{spec.label} diverged on {problem.name} at step {len(trace) - 1}: "
                                "lower its learning rate")
    return trace, compile_seconds, np.asarray(state.image)


def _row(step: int, seconds: float, evaluations: int, terms: dict[str, jax.Array]) -> dict[str, float]:
    terms = {k: float(v) for k, v in terms.items()}
    return {"step": step, "seconds": seconds, "evaluations": evaluations, "loss": sum(terms.values())} | terms


def benchmark(problems: Sequence[Problem], optimizers: Sequence[OptimizerSpec], budget: Budget, *,
              config: StyleConfig | None = None, repeats: int = 3,
              references: dict[str, StepRunner] | None = None,
              progress: Callable[[str], None] | None = None) -> list[Run]:
    """Runs every optimizer on every problem `repeats` times; the trace is the first repeat's.

    Args:
      problems: what to optimise.
      optimizers: stylejax or optax optimizers.
      budget: when each run stops.
      config: loss weights, layers and initialisation (its size and optimizer fields are ignored).
      repeats: runs per pair, for the median and spread of wall time (losses are deterministic).
      references: other implementations by label, e.g. PyTorch's optimizers (see benchmarks/).
      progress: called with a line as each run finishes.

    Returns:
      One Run per (problem, optimizer), in order.
    """
    if repeats <= 0:
        raise StyleJaxError(f"repeats must be positive, got {repeats}")
    config = config or StyleConfig()
    runners: dict[str, StepRunner] = {
        spec.label: (lambda problem, budget, spec=spec: run_optimizer(problem, spec, budget, config))
        for spec in optimizers
    }
    runners |= references or {}
    runs = []
    for problem in problems:
        for label, runner in runners.items():
            results = [runner(problem, budget) for _ in range(repeats)]
            trace, compile_seconds, image = results[0]
            runs.append(Run(problem.name, label, trace, compile_seconds, [r[0][-1]["seconds"] for r in results],
                            image))
            if progress:
                progress(f"{problem.name} {label}: loss {trace[0]['loss']:.4g} -> {trace[-1]['loss']:.4g} in "
                         f"{len(trace) - 1} steps, {trace[-1]['evaluations']} evaluations, "
                         f"{np.median(runs[-1].repeat_seconds):.2f} s")
    return runs
