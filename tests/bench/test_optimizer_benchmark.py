"""The optimizer benchmark: accounting, budgets, report files that agree, and a like-for-like PyTorch reference."""

import csv
import json
import sys
from pathlib import Path

import numpy as np
import pytest
from sample_images import smooth_image, stripes

import stylejax
from stylejax import cli
from stylejax.bench.optimizers import Budget, OptimizerSpec, Problem, benchmark, parse_optimizer, with_learning_rates
from stylejax.bench.report import SCHEMA, write_report
from stylejax.cli import bench

sys.path.insert(0, str(Path(__file__).parents[2] / "benchmarks"))
import torch_reference  # noqa: E402  (benchmarks/ is not a package)

# One xdist worker runs this module: its module-scoped fixture (a Ray cluster, a benchmark run) is costly.
pytestmark = pytest.mark.xdist_group("bench-report")

PROBLEM = Problem("smooth+stripes", smooth_image(48, 64), (stripes(48, 48),), 48)


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    outdir = tmp_path_factory.mktemp("bench")
    specs = [parse_optimizer("adam"), parse_optimizer("lbfgs"), parse_optimizer("adabelief:learning_rate=0.05")]
    runs = benchmark([PROBLEM], specs, Budget(steps=4), repeats=2)
    write_report(runs, [PROBLEM], Budget(steps=4), 2, outdir)
    return runs, outdir


def test_optimizer_names_and_sweeps_parse():
    assert parse_optimizer("adabelief:learning_rate=0.05,b1=0.8") == OptimizerSpec(
        "adabelief", (("learning_rate", 0.05), ("b1", 0.8)))
    assert [s.label for s in bench.parse_optimizer_list("adam,adabelief:learning_rate=0.05,b1=0.8,lbfgs")] == [
        "adam", "adabelief:learning_rate=0.05,b1=0.8", "lbfgs"]
    swept = with_learning_rates([parse_optimizer("adam"), parse_optimizer("lbfgs")], [0.01, 0.1])
    assert [s.label for s in swept] == ["adam:learning_rate=0.01", "adam:learning_rate=0.1", "lbfgs"]
    with pytest.raises(stylejax.StyleJaxError, match="unknown optimizer 'nadamz'"):
        parse_optimizer("nadamz").build()
    with pytest.raises(stylejax.StyleJaxError, match="optax.adamw"):
        parse_optimizer("adamw:nonsense=1").build()


def test_budgets_are_validated():
    with pytest.raises(stylejax.StyleJaxError, match="exactly one budget"):
        Budget(steps=3, seconds=1.0)
    with pytest.raises(stylejax.StyleJaxError, match="positive"):
        Budget(steps=0)


@pytest.mark.slow
def test_accounting(report):
    runs, _ = report
    by_name = {r.optimizer: r for r in runs}
    for run in runs:
        steps = [row["step"] for row in run.trace]
        assert steps == list(range(5))  # step 0 is the start, then 4 steps
        seconds = [row["seconds"] for row in run.trace]
        assert all(b > a for a, b in zip(seconds[1:], seconds[2:], strict=False))
        assert len(run.repeat_seconds) == 2
        assert run.final_loss < run.trace[0]["loss"]
        for row in run.trace:
            assert row["loss"] == pytest.approx(row["content"] + row["style"] + row["tv"], rel=1e-6)
    assert by_name["adam"].trace[-1]["evaluations"] == 4
    lbfgs = by_name["lbfgs"].trace
    assert lbfgs[-1]["evaluations"] > lbfgs[-1]["step"]  # the line search's evaluations are counted
    assert runs[0].trace[0]["loss"] == pytest.approx(runs[1].trace[0]["loss"], rel=1e-6)  # same start


@pytest.mark.slow
def test_an_evaluation_budget_stops_lbfgs_by_evaluations():
    runs = benchmark([PROBLEM], [parse_optimizer("lbfgs")], Budget(evaluations=6), repeats=1)
    trace = runs[0].trace
    assert trace[-1]["evaluations"] >= 6 and trace[-2]["evaluations"] < 6


@pytest.mark.slow
def test_report_files_agree_with_each_other(report):
    runs, outdir = report
    document = json.loads((outdir / "results.json").read_text())
    assert document["schema"] == SCHEMA and document["budget"] == {"steps": 4} and document["repeats"] == 2
    assert [r["optimizer"] for r in document["runs"]] == ["adam", "lbfgs", "adabelief:learning_rate=0.05"]
    rows = list(csv.DictReader(open(outdir / "results.csv")))
    assert len(rows) == sum(len(r["trace"]) for r in document["runs"])
    for run in document["runs"]:
        csv_rows = [r for r in rows if r["optimizer"] == run["optimizer"]]
        assert float(csv_rows[-1]["loss"]) == pytest.approx(run["final_loss"])
        assert int(csv_rows[-1]["evaluations"]) == run["evaluations"]
        assert run["median_seconds"] == pytest.approx(float(np.median(run["repeat_seconds"])))
        assert (outdir / run["image"]).is_file()
        best = run["best_final_loss"]
        assert best == min(r["final_loss"] for r in document["runs"])
        if run["seconds_to_1.1x"] is not None:
            assert run["seconds_to_2x"] <= run["seconds_to_1.1x"]
            first = next(s for s in run["trace"] if s["loss"] <= 1.1 * best)
            assert first["seconds"] == run["seconds_to_1.1x"]
    best_run = min(document["runs"], key=lambda r: r["final_loss"])
    assert best_run["seconds_to_1.1x"] is not None  # the best run reaches its own final loss
    summary = (outdir / "summary.md").read_text()
    for run in document["runs"]:
        assert f"| {run['optimizer']} | {run['final_loss']:.4g} | 4 | {run['evaluations']} |" in summary
    assert (outdir / "loss.png").stat().st_size > 10_000


def test_pytorch_reference_starts_from_the_same_loss():
    config = stylejax.StyleConfig(size=48)
    trace, _, _ = torch_reference.traced_run(PROBLEM, Budget(steps=1), "adam", config)
    ours = benchmark([PROBLEM], [parse_optimizer("adam")], Budget(steps=1), repeats=1)[0].trace
    for term in ("loss", "content", "style", "tv"):
        assert trace[0][term] == pytest.approx(ours[0][term], rel=1e-4), term
    lbfgs, _, _ = torch_reference.traced_run(PROBLEM, Budget(steps=2), "lbfgs", config)
    assert lbfgs[-1]["loss"] < lbfgs[0]["loss"] and lbfgs[-1]["evaluations"] >= 2


@pytest.mark.slow
def test_bench_command_writes_every_output(tmp_path, capsys):
    out = tmp_path / "bench"
    code = cli.main(["bench", "--optimizers", "adam,sgd", "--size", "40", "--steps", "2", "--repeats", "1",
                     "-o", str(out)])
    assert code == 0, capsys.readouterr().err
    for name in ("results.json", "results.csv", "loss.png", "summary.md"):
        assert (out / name).is_file()
    assert len(list((out / "images").glob("*__sheet.png"))) == 2  # the two built-in problems
    code = cli.main(["bench", "--steps", "2", "-o", str(out)])
    assert code == 2 and "--overwrite" in capsys.readouterr().err
    code = cli.main(["bench", "--optimizers", "adam,nope", "--steps", "2", "-o", str(tmp_path / "x")])
    assert code == 2 and "unknown optimizer 'nope'" in capsys.readouterr().err
    code = cli.main(["bench", "--repeats", "0", "-o", str(tmp_path / "y")])  # no budget: 100 steps
    assert code == 2 and "repeats must be positive" in capsys.readouterr().err
