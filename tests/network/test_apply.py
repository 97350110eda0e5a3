"""`stylejax apply` (and its job): file to file, folder to folder with a broken file, bad input in one line."""

import json

import numpy as np
import pytest
from sample_images import smooth_image
from style_networks import random_network

import stylejax
from stylejax.cli.app import main
from stylejax.network.model_dir import save_model

# One worker for the ONNX tests: jax2onnx takes ~9 s to import in each process that converts.
pytestmark = pytest.mark.xdist_group("onnx")


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    """Read only: the module's tests share it."""
    folder = tmp_path_factory.mktemp("model")
    save_model(folder, random_network(8, 2, seed=1), {"styles": [{"name": "a.png"}, {"name": "b.png"}]})
    return folder


def test_a_file_to_a_file_keeps_the_aspect_ratio(model, tmp_path):
    stylejax.save_image(smooth_image(30, 50), tmp_path / "in.png")
    assert main(["apply", str(model), str(tmp_path / "in.png"), "-o", str(tmp_path / "out.png"), "--size", "40",
                 "--network-style-mix", "0.5,0.5"]) == 0
    assert stylejax.load_image(tmp_path / "out.png").shape == (24, 40, 3)


def test_a_folder_with_a_broken_file_exits_1_and_the_rest_are_done(model, photos, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["apply", str(model), str(photos), "-o", str(out), "--size", "32", "--network-style", "1"]) == 1
    records = [json.loads(line) for line in (out / "manifest.jsonl").read_text().splitlines()]
    done = sorted(r["input"] for r in records if r["status"] == "done")
    assert len(done) == 5 and "nested/coffee.png" in done
    assert [r["input"] for r in records if r["status"] == "failed"] == ["broken.png"]
    assert not (out / "broken.png").exists()
    assert main(["apply", str(model), str(photos), "-o", str(out), "--size", "32"]) == 1  # resumed: all skipped
    assert "0 done, 5 already there, 1 failed" in capsys.readouterr().err


@pytest.mark.parametrize("flags, message", [
    (["--network-style-mix", "0.5,0.5,0"], "one weight per style"),
    (["--network-style-mix", "1,-1"], ">= 0"),
    (["--network-style", "2"], "does not exist"),
    (["--network-style", "0", "--network-style-mix", "1,0"], "give one"),
    (["--style", "1"], "unrecognized arguments"),  # --style means style images; a network's is --network-style
    (["--size", "4"], "--size must be at least 8 px"),
])
def test_bad_style_choices_are_one_line_exit_2_nothing_written(model, tmp_path, capsys, flags, message):
    stylejax.save_image(smooth_image(32, 32), tmp_path / "in.png")
    assert main(["apply", str(model), str(tmp_path / "in.png"), "-o", str(tmp_path / "out.png"), *flags]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1
    assert not (tmp_path / "out.png").exists()


def test_a_bad_batch_size_is_one_line_exit_2_nothing_written(model, tmp_path, capsys):
    (tmp_path / "in").mkdir()
    stylejax.save_image(smooth_image(32, 32), tmp_path / "in" / "a.png")
    assert main(["apply", str(model), str(tmp_path / "in"), "-o", str(tmp_path / "out"), "--batch-size", "0"]) == 2
    err = capsys.readouterr().err.strip()
    assert "--batch-size must be a positive whole number" in err and len(err.splitlines()) == 1
    assert not (tmp_path / "out").exists()


@pytest.mark.slow
@pytest.mark.parametrize("single", [True, False])
def test_a_size_too_large_for_memory_is_one_line_exit_2_nothing_written(model, photos, tmp_path, capsys,
                                                                        monkeypatch, single):
    from stylejax.runtime import memory

    monkeypatch.setattr(memory, "available_bytes", lambda: 2**16)  # 64 KiB: no 64 px image fits
    source, out = (photos / "nested" / "coffee.png", tmp_path / "out.png") if single else (photos, tmp_path / "out")
    assert main(["apply", str(model), str(source), "-o", str(out), "--size", "64"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--size 64" in err[0] and "use a smaller --size" in err[0], err
    assert not out.exists()


def test_not_a_model_and_output_equal_to_input_are_exit_2(model, tmp_path, capsys):
    stylejax.save_image(smooth_image(32, 32), tmp_path / "in.png")
    assert main(["apply", str(tmp_path), str(tmp_path / "in.png"), "-o", str(tmp_path / "o.png")]) == 2
    assert main(["apply", str(model), str(tmp_path / "in.png"), "-o", str(tmp_path / "in.png")]) == 2
    assert np.allclose(stylejax.load_image(tmp_path / "in.png"), smooth_image(32, 32), atol=1 / 255)
    assert len(capsys.readouterr().err.strip().splitlines()) == 2


def onnx_installed():
    import importlib.util

    return all(importlib.util.find_spec(name) for name in ("onnxruntime", "jax2onnx"))


def max_difference(a, b):
    return np.abs(stylejax.load_image(a) - stylejax.load_image(b)).max()


@pytest.mark.skipif(not onnx_installed(), reason="needs pip install 'stylejax[onnx]'")
def test_runtime_onnx_writes_what_runtime_jax_writes_for_a_job_of_two_shapes_and_a_file(model, tmp_path):
    source = tmp_path / "photos"
    source.mkdir()
    for i, shape in enumerate([(27, 45), (29, 43)]):  # odd sides; one bucket (32x48), one JAX program
        stylejax.save_image(smooth_image(*shape, seed=i), source / f"p{i}.png")
    (source / "broken.png").write_text("not an image")
    outcomes = {}
    for runtime in ("jax", "onnx"):
        out = tmp_path / runtime
        assert main(["apply", str(model), str(source), "-o", str(out), "--batch-size", "2", "--runtime", runtime,
                     "--network-style-mix", "0.3,0.7"]) == 1
        outcomes[runtime] = sorted((r["input"], r["status"]) for r in map(json.loads, (out / "manifest.jsonl")
                                                                           .read_text().splitlines()))
    assert outcomes["onnx"] == outcomes["jax"] and ("broken.png", "failed") in outcomes["onnx"]
    # A file alone comes out as in a job (docs/network.md), so the JAX job's output is its reference too.
    assert main(["apply", str(model), str(source / "p1.png"), "-o", str(tmp_path / "p1.png"), "--runtime", "onnx",
                 "--network-style-mix", "0.3,0.7"]) == 0
    # 8-bit files: the runtimes' float outputs differ by ~1e-5 (tests/network/test_onnx_forward.py), which can
    # move a pixel across a rounding step: one level at most.
    for onnx, jax in [(tmp_path / "onnx" / "p0.png", tmp_path / "jax" / "p0.png"),
                      (tmp_path / "onnx" / "p1.png", tmp_path / "jax" / "p1.png"),
                      (tmp_path / "p1.png", tmp_path / "jax" / "p1.png")]:
        assert stylejax.load_image(onnx).shape == stylejax.load_image(jax).shape
        assert max_difference(onnx, jax) <= 1 / 255 + 1e-6


@pytest.mark.parametrize("single", [True, False])
def test_runtime_onnx_without_onnxruntime_is_one_line_exit_2_nothing_written(model, tmp_path, capsys, monkeypatch,
                                                                             single):
    import importlib.util

    find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *args: None if name == "onnxruntime"
                        else find_spec(name, *args))
    (tmp_path / "in").mkdir()
    stylejax.save_image(smooth_image(32, 32), tmp_path / "in" / "a.png")
    source, out = (tmp_path / "in" / "a.png", tmp_path / "out.png") if single else (tmp_path / "in", tmp_path / "out")
    assert main(["apply", str(model), str(source), "-o", str(out), "--runtime", "onnx"]) == 2
    err = capsys.readouterr().err.strip()
    assert "--runtime onnx needs onnxruntime: pip install 'stylejax[onnx]'" in err and len(err.splitlines()) == 1
    assert not out.exists()


@pytest.mark.skipif(not onnx_installed(), reason="needs pip install 'stylejax[onnx]'")
@pytest.mark.parametrize("flags, message", [
    (["--runtime", "tf"], "argument --runtime: invalid choice: 'tf'"),
    (["--runtime", "onnx"], "4x4: the ONNX network takes sides of at least 5 px: use --runtime jax"),
])
def test_a_bad_runtime_or_an_image_too_small_for_onnx_is_one_line_exit_2_nothing_written(model, tmp_path, capsys,
                                                                                         flags, message):
    stylejax.save_image(smooth_image(4, 4), tmp_path / "in.png")
    assert main(["apply", str(model), str(tmp_path / "in.png"), "-o", str(tmp_path / "out.png"), *flags]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1, err
    assert not (tmp_path / "out.png").exists()


@pytest.mark.skipif(not onnx_installed(), reason="needs pip install 'stylejax[onnx]'")
def test_the_onnx_work_runs_on_a_fleet_worker_from_its_settings_alone(model, tmp_path):
    from stylejax.jobs.apply import ApplyWork
    from stylejax.jobs.fleet_workers import FleetWorker
    from stylejax.jobs.inputs import collect_inputs

    (tmp_path / "in").mkdir()
    stylejax.save_image(smooth_image(30, 50), tmp_path / "in" / "a.png")
    out = tmp_path / "out"
    work = ApplyWork(str(model), [0.0, 1.0], out, size=40, runtime="onnx")
    worker = FleetWorker(work)  # what a Ray actor holds: the work loads and converts the network itself
    lines, refusal = worker.check_memory({work.bucket((30, 50)): 1}, 8)
    assert refusal is None and len(lines) == 1
    out.mkdir()
    records, error = worker.run(work.bucket((30, 50)), collect_inputs(tmp_path / "in", out))
    assert error is None and [r["status"] for r in records] == ["done"]
    assert stylejax.load_image(out / "a.png").shape == (24, 40, 3)
