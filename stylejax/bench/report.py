"""Writing benchmark results: results.json, results.csv, loss plots, a Markdown summary, images.

results.json (schema "stylejax.bench/1"):
    {"schema", "created", "machine": {"platform", "device", "jax"}, "budget": {"steps"|"seconds"|"evaluations"},
     "repeats", "problems": [{"name", "size"}],
     "runs": [{"problem", "optimizer", "compile_seconds", "repeat_seconds": [..],
               "median_seconds", "spread_seconds" (max - min over repeats), "final_loss", "steps", "evaluations",
               "best_final_loss" (of the problem), "seconds_to_2x", "seconds_to_1.1x",
               "evaluations_to_2x", "evaluations_to_1.1x" (null when never reached),
               "image": "images/<problem>__<optimizer>.png",
               "trace": [{"step", "seconds", "evaluations", "loss", "content", "style", "tv"}]}]}
results.csv: one row per run and step, the trace columns with `problem` and `optimizer` first.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import platform
import re
import time
from collections.abc import Sequence
from pathlib import Path

import jax
import numpy as np

from stylejax.bench.optimizers import Budget, Problem, Run
from stylejax.errors import StyleJaxError
from stylejax.io import images, sheets

SCHEMA = "stylejax.bench/1"
TRACE_COLUMNS = ("step", "seconds", "evaluations", "loss", "content", "style", "tv")
THRESHOLDS = {"2x": 2.0, "1.1x": 1.1}


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._=-]+", "_", text)


def summarise(runs: Sequence[Run]) -> list[dict]:
    """Per-run summary rows (the JSON 'runs' entries without traces)."""
    best = {}
    for run in runs:
        best[run.problem] = min(best.get(run.problem, np.inf), run.final_loss)
    rows = []
    for run in runs:
        row = {"problem": run.problem, "optimizer": run.optimizer, "compile_seconds": run.compile_seconds,
               "repeat_seconds": run.repeat_seconds, "median_seconds": float(np.median(run.repeat_seconds)),
               "spread_seconds": float(np.ptp(run.repeat_seconds)), "final_loss": run.final_loss,
               "steps": run.trace[-1]["step"], "evaluations": run.trace[-1]["evaluations"],
               "best_final_loss": best[run.problem],
               "image": f"images/{_slug(run.problem)}__{_slug(run.optimizer)}.png"}
        for name, factor in THRESHOLDS.items():
            row[f"seconds_to_{name}"] = run.first_reaching(factor * best[run.problem], "seconds")
            row[f"evaluations_to_{name}"] = run.first_reaching(factor * best[run.problem], "evaluations")
        rows.append(row)
    return rows


def write_report(runs: Sequence[Run], problems: Sequence[Problem], budget: Budget, repeats: int,
                 outdir: str | Path) -> Path:
    """Writes every output into `outdir` (created). Returns the summary's path."""
    outdir = Path(outdir)
    (outdir / "images").mkdir(parents=True, exist_ok=True)
    rows = summarise(runs)
    document = {
        "schema": SCHEMA, "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": {"platform": platform.platform(), "processor": platform.processor() or platform.machine(),
                    "device": jax.devices()[0].device_kind, "jax": jax.__version__},
        "budget": {k: v for k, v in dataclasses.asdict(budget).items() if v is not None},
        "repeats": repeats,
        "problems": [{"name": p.name, "size": p.size} for p in problems],
        "runs": [row | {"trace": run.trace} for row, run in zip(rows, runs, strict=True)],
    }
    (outdir / "results.json").write_text(json.dumps(document, indent=1) + "\n")
    with open(outdir / "results.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(("problem", "optimizer", *TRACE_COLUMNS))
        for run in runs:
            for step in run.trace:
                writer.writerow((run.problem, run.optimizer, *(step[c] for c in TRACE_COLUMNS)))
    for run, row in zip(runs, rows, strict=True):
        images.save_image(run.image, outdir / row["image"])
    _plot(runs, problems, outdir)
    _sheets(runs, problems, outdir)
    summary = outdir / "summary.md"
    summary.write_text(markdown(rows, document))
    return summary


def markdown(rows: Sequence[dict], document: dict) -> str:
    """The summary table, one section per problem."""
    def fmt(value, spec):
        return "—" if value is None else format(value, spec)

    budget = ", ".join(f"{v} {k}" for k, v in document["budget"].items())
    lines = [f"# Optimizer benchmark\n\n{document['machine']['processor']} ({document['machine']['device']}), "
             f"jax {document['machine']['jax']}; budget {budget}; {document['repeats']} repeat(s). Times exclude "
             "compilation; 'to 2x' is the first time the loss fell to twice the best final loss of any optimizer "
             "on that problem ('—': never).\n"]
    for problem in dict.fromkeys(r["problem"] for r in rows):
        lines += [f"\n## {problem}\n",
                  "| optimizer | final loss | steps | evaluations | median s (spread) | "
                  "s to 2x | s to 1.1x | evals to 2x | evals to 1.1x | compile s |",
                  "|---|---|---|---|---|---|---|---|---|---|"]
        for r in (r for r in rows if r["problem"] == problem):
            lines.append(
                f"| {r['optimizer']} | {r['final_loss']:.4g} | {r['steps']} | {r['evaluations']} | "
                f"{r['median_seconds']:.2f} ({r['spread_seconds']:.2f}) | {fmt(r['seconds_to_2x'], '.2f')} | "
                f"{fmt(r['seconds_to_1.1x'], '.2f')} | {fmt(r['evaluations_to_2x'], 'd')} | "
                f"{fmt(r['evaluations_to_1.1x'], 'd')} | {r['compile_seconds']:.1f} |")
        lines.append(f"\n![{problem}](images/{_slug(problem)}__sheet.png)\n")
    lines.append("\n![loss against time and evaluations](loss.png)\n")
    return "\n".join(lines)


def _plot(runs: Sequence[Run], problems: Sequence[Problem], outdir: Path) -> None:
    try:
        import matplotlib
    except ImportError:
        raise StyleJaxError("plotting needs matplotlib: pip install 'stylejax[bench]'") from None

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(len(problems), 2, figsize=(11, 3.6 * len(problems)), squeeze=False)
    for row, problem in enumerate(problems):
        for col, key in enumerate(("seconds", "evaluations")):
            ax = axes[row][col]
            for run in (r for r in runs if r.problem == problem.name):
                ax.plot([s[key] for s in run.trace], [s["loss"] for s in run.trace], label=run.optimizer)
            ax.set_yscale("log")
            ax.set_xlabel("wall time, s (compilation excluded)" if key == "seconds" else "loss evaluations")
            ax.set_ylabel("total loss")
            ax.set_title(f"{problem.name}, {problem.size} px")
            ax.grid(True, which="both", alpha=0.3)
        axes[row][0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(outdir / "loss.png", dpi=100)
    plt.close(fig)


def _sheets(runs: Sequence[Run], problems: Sequence[Problem], outdir: Path) -> None:
    for problem in problems:
        panels = {"content": problem.content, "style": problem.styles[0]}
        panels |= {run.optimizer: run.image for run in runs if run.problem == problem.name}
        images.save_image(sheets.contact_sheet(panels, height=min(problem.size, 256)),
                          outdir / "images" / f"{_slug(problem.name)}__sheet.png")
