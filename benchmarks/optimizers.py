"""stylejax's optimizers next to PyTorch's (torch.optim.Adam, torch.optim.LBFGS) on one objective.

Runs `stylejax.benchmark` with the PyTorch reference added, and writes the same report as
`stylejax bench` (results.json, results.csv, loss.png, summary.md, images/).

    python benchmarks/optimizers.py [--size 256] [--steps 100] [--repeats 3] [-o bench-256]
"""

from __future__ import annotations

import argparse
import sys

from torch_reference import runners

from stylejax import StyleConfig
from stylejax.bench.optimizers import Budget, benchmark, default_problems
from stylejax.bench.report import write_report
from stylejax.cli.bench import parse_optimizer_list


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--optimizers", default="adam,lbfgs,lbfgs-fixed,sgd")
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("-o", "--output", default="bench-results")
    args = parser.parse_args()
    config = StyleConfig(size=args.size)
    problems = default_problems(args.size)
    budget = Budget(steps=args.steps)
    runs = benchmark(problems, parse_optimizer_list(args.optimizers), budget, config=config,
                     repeats=args.repeats, references=runners(config),
                     progress=lambda line: print(line, file=sys.stderr))
    print(write_report(runs, problems, budget, args.repeats, args.output))


if __name__ == "__main__":
    main()
