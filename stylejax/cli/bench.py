"""`stylejax bench`: the flags of an optimizer comparison, and the call into `bench.optimizers`. No logic of its own."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from stylejax.cli.options import add_style_options, config_from_args, parse_floats
from stylejax.errors import StyleJaxError


def add_parser(commands) -> None:
    """Adds the `bench` subcommand to the `stylejax` parser's subcommands."""

    p = commands.add_parser("bench", help="compare optimizers on style-transfer problems")
    p.add_argument("--optimizers", default="adam,lbfgs,lbfgs-fixed,sgd",
                   help="comma-separated: adam, lbfgs, lbfgs-fixed, sgd, or optax names with options, e.g. "
                        "adabelief:learning_rate=0.05,b1=0.8 (%(default)s)")
    p.add_argument("--learning-rates", default=None, help="sweep: run each optimizer at each of these rates")
    budget = p.add_mutually_exclusive_group()
    budget.add_argument("--steps", type=int, default=None, help="steps per run (default budget: 100 steps)")
    budget.add_argument("--seconds", type=float, default=None, help="timed seconds per run")
    budget.add_argument("--evaluations", type=int, default=None, help="loss evaluations per run")
    p.add_argument("--repeats", type=int, default=3, help="runs per pair for median and spread of time (%(default)s)")
    p.add_argument("--content", default=None, help="a content image (default: the built-in problem set)")
    p.add_argument("--style", nargs="+", default=None, help="style image(s) for --content")
    p.add_argument("-o", "--output", default="bench-results", help="output directory (%(default)s)")
    p.add_argument("--overwrite", action="store_true", help="write into a non-empty output directory")
    add_style_options(p, optimisation=False)  # the bench has its own budget and optimizers
    p.set_defaults(size=128, run=run)


def parse_optimizer_list(text: str) -> list:
    """'adam,lbfgs,adabelief:learning_rate=0.05,b1=0.8' -> specs; a bare 'k=v' belongs to the one before."""
    from stylejax.bench.optimizers import parse_optimizer

    groups: list[str] = []
    for token in filter(None, (t.strip() for t in text.split(","))):
        if "=" in token and ":" not in token and groups:
            groups[-1] += "," + token
        else:
            groups.append(token)
    if not groups:
        raise StyleJaxError("--optimizers names no optimizer")
    return [parse_optimizer(group) for group in groups]


def run(args: argparse.Namespace) -> int:
    from stylejax.bench.optimizers import Budget, benchmark, default_problems, problem_from_paths, with_learning_rates
    from stylejax.bench.report import write_report

    if args.steps is None and args.seconds is None and args.evaluations is None:
        args.steps = 100  # the default budget
    budget = Budget(steps=args.steps, seconds=args.seconds, evaluations=args.evaluations)
    specs = with_learning_rates(parse_optimizer_list(args.optimizers),
                                list(parse_floats(args.learning_rates, "--learning-rates") or ()))
    for spec in specs:
        spec.build()  # an unknown name or bad hyperparameter fails now, not after an hour of runs
    out = Path(args.output)
    if out.exists() and any(out.iterdir()) and not args.overwrite:
        raise StyleJaxError(f"{out}: exists and is not empty: pass --overwrite or choose another -o")
    if args.content:
        if not args.style:
            raise StyleJaxError("--content needs --style")
        problems = [problem_from_paths(args.content, args.style, args.size)]
    else:
        problems = default_problems(args.size)
    config = config_from_args(args)
    runs = benchmark(problems, specs, budget, config=config, repeats=args.repeats,
                     progress=lambda line: print(line, file=sys.stderr))
    summary = write_report(runs, problems, budget, args.repeats, out)
    print(summary)
    return 0


