"""Bulk jobs: broken inputs, kill and resume, checkpoints, two processes, memory refusal."""

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from ports import free_port
from sample_images import add_broken_images, smooth_image, stripes

from stylejax import cli
from stylejax.config import StyleConfig
from stylejax.io import images
from stylejax.jobs import batch, checkpoints, inputs
from stylejax.runtime import memory
from stylejax.solve import sizing

FAST = ["--size", "40", "--steps", "4", "--optimizer", "adam", "--batch-size", "4", "--checkpoint-every", "2"]
SHAPES = [(40, 50), (50, 40), (44, 44)]  # landscape, portrait, square: three buckets


def make_inputs(root: Path, count: int = 18, broken: bool = True) -> Path:
    source = root / "in"
    for i in range(count):
        h, w = SHAPES[i % 3]
        path = source / ("nested" if i % 4 == 0 else "") / f"img{i:02d}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        images.save_image(smooth_image(h + i % 5, w, seed=i), path)
    if broken:
        add_broken_images(source)
    images.save_image(stripes(48, 48), root / "style.png")
    return source


def manifest(outdir: Path) -> list[dict]:
    return [json.loads(line) for line in (outdir / "manifest.jsonl").read_text().splitlines()]


@pytest.mark.slow
def test_a_folder_of_inputs_two_broken(tmp_path, capsys):
    source = make_inputs(tmp_path, count=9)
    out = tmp_path / "out"
    code = cli.main(["batch", str(source), "--style", str(tmp_path / "style.png"), "-o", str(out), *FAST])
    err = capsys.readouterr().err
    assert code == 1  # some inputs failed, the rest completed
    records = manifest(out)
    statuses = Counter(r["status"] for r in records)
    assert statuses == {"done": 9, "failed": 2}
    failed = {r["input"]: r["error"] for r in records if r["status"] == "failed"}
    assert set(failed) == {"notes.png", "truncated.png"}
    assert "not an image" in failed["notes.png"] and "truncated" in failed["truncated.png"]
    assert "failed: notes.png" in err and "failed: truncated.png" in err
    for record in records:
        if record["status"] == "done":
            source_size = Image.open(source / record["input"]).size
            output_size = Image.open(out / record["input"]).size
            want = images.fit_size(source_size[::-1], 40)[::-1]
            assert output_size == want, record["input"]  # nothing cropped: the content's aspect ratio
            assert record["steps"] == 4 and record["evaluations"] == 4 and record["losses"]["total"] > 0
    assert (out / "nested" / "img00.png").is_file()  # outputs mirror input paths
    assert not (out / checkpoints.CHECKPOINTS).exists()


def test_interrupted_job_resumes_without_redoing_finished_images(tmp_path):
    source = make_inputs(tmp_path, count=8, broken=False)
    out = tmp_path / "out"
    items = inputs.my_share(inputs.collect_inputs(source, out), 0, 1)
    config = StyleConfig(size=40, steps=4, optimizer="adam", chunk_steps=2)
    style = [tmp_path / "style.png"]

    calls = []

    def stop_after_first_batch(done, total):
        calls.append(done)
        if done >= 4:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        batch.run_job(items, style, out, config, batch_size=4, progress=stop_after_first_batch)
    first = {r["input"]: (out / r["input"]).stat().st_mtime_ns for r in manifest(out) if r["status"] == "done"}
    assert 0 < len(first) < 8

    summary = batch.run_job(items, style, out, config, batch_size=4)
    assert summary.skipped == len(first) and summary.done == 8 - len(first)
    done = Counter(r["input"] for r in manifest(out) if r["status"] == "done")
    assert set(done) == {i.name for i in items} and set(done.values()) == {1}  # each exactly once
    for name, mtime in first.items():
        assert (out / name).stat().st_mtime_ns == mtime  # never rewritten


def die_after_save(monkeypatch, when) -> list[int]:
    """Makes checkpoint saves raise KeyboardInterrupt (a preemption) right after the save `when(step)` picks."""
    save, steps = checkpoints._save_checkpoint, []

    def save_then_die(manager, step, state, progress):
        save(manager, step, state, progress)
        steps.append(step)
        if when(step):
            raise KeyboardInterrupt

    monkeypatch.setattr(checkpoints, "_save_checkpoint", save_then_die)
    return steps


@pytest.mark.slow
def test_in_flight_batch_resumes_from_its_checkpoint(tmp_path, monkeypatch):
    source = make_inputs(tmp_path, count=2, broken=False)
    items = inputs.collect_inputs(source, tmp_path / "x")
    config = StyleConfig(size=40, steps=6, optimizer="lbfgs", chunk_steps=2)
    style = [tmp_path / "style.png"]
    batch.run_job(items, style, tmp_path / "reference", config, batch_size=4)

    save = checkpoints._save_checkpoint
    die_after_save(monkeypatch, lambda step: step == 4)  # preempted right after the step-4 checkpoint
    with pytest.raises(KeyboardInterrupt):
        batch.run_job(items, style, tmp_path / "out", config, batch_size=4)
    assert not any((tmp_path / "out" / i.name).exists() for i in items)
    monkeypatch.setattr(checkpoints, "_save_checkpoint", save)

    restore = checkpoints._restore_checkpoint
    restored_steps = []

    def spy(manager, state, progress):
        result = restore(manager, state, progress)
        restored_steps.append(result[1]["losses"].shape[1])  # every scale's steps so far
        return result

    monkeypatch.setattr(checkpoints, "_restore_checkpoint", spy)
    batch.run_job(items, style, tmp_path / "out", config, batch_size=4)
    assert restored_steps == [4]  # the preempted batch resumes at step 4; the other never started
    for item in items:
        resumed = images.load_image(tmp_path / "out" / item.name)
        reference = images.load_image(tmp_path / "reference" / item.name)
        np.testing.assert_allclose(resumed, reference, atol=2 / 255)
    records = {r["input"]: r for r in manifest(tmp_path / "out") if r["status"] == "done"}
    reference = {r["input"]: r for r in manifest(tmp_path / "reference")}
    for name, record in records.items():
        assert record["evaluations"] == reference[name]["evaluations"]
    assert [r.get("resumed_from") for r in records.values()].count(4) == 1  # the manifest says which resumed
    assert not any("resumed_from" in r for r in reference.values())


@pytest.mark.slow
# The whole job across device counts is in `make test-all`; that the device count changes the key is checked
# below (test_the_checkpoint_key_names_the_layout), and that a changed key starts afresh by vmap-size here.
@pytest.mark.parametrize("first, second", [({"vmap_size": 1}, {"vmap_size": None}),
                                           pytest.param({"devices": 4}, {"devices": 2}, marks=pytest.mark.heavy)],
                         ids=["vmap-size", "devices"])
def test_a_checkpoint_is_never_restored_into_another_layout(tmp_path, monkeypatch, first, second):
    import jax

    from stylejax.runtime.meshes import local_mesh

    source = make_inputs(tmp_path, count=3, broken=False)
    items = inputs.collect_inputs(source, tmp_path / "x")
    config = StyleConfig(size=40, steps=6, optimizer="adam", chunk_steps=2)
    style = [tmp_path / "style.png"]

    def run(devices=4, vmap_size=1):  # 3 images pad to 4 rows in every layout here: only the key tells them apart
        return batch.run_job(items, style, tmp_path / "out", config, batch_size=4, vmap_size=vmap_size,
                            mesh=local_mesh(jax.devices()[:devices]))

    save = checkpoints._save_checkpoint
    die_after_save(monkeypatch, lambda step: step == 2)
    with pytest.raises(KeyboardInterrupt):
        run(**first)
    monkeypatch.setattr(checkpoints, "_save_checkpoint", save)
    restored = []
    monkeypatch.setattr(checkpoints, "_restore_checkpoint", lambda *args: restored.append(args))
    run(**second)
    assert restored == []  # the other layout's checkpoint is left alone: the batch starts at step 0
    records = [r for r in manifest(tmp_path / "out") if r["status"] == "done"]
    assert len(records) == 3 and all("resumed_from" not in r and r["evaluations"] == 6 for r in records)


def test_the_checkpoint_key_names_the_layout():
    import jax

    from stylejax.runtime.meshes import local_mesh
    from stylejax.solve.batch import BatchSolver

    config, styles, names = StyleConfig(size=40, steps=6), ["style.png"], ["a.png", "b.png", "c.png"]

    def key(devices=4, vmap_size=1):
        return checkpoints.batch_key(config, styles, names, BatchSolver(config, None, None,
                                                                        local_mesh(jax.devices()[:devices]), vmap_size))

    assert key() == key()
    assert len({key(), key(devices=2), key(vmap_size=None), key(devices=1)}) == 4
    assert checkpoints.batch_key(config.replace(steps=7), styles, names, BatchSolver(
        config, None, None, local_mesh(), 1)) != key()


def _cli(*args, env=None):
    return [sys.executable, "-m", "stylejax", *map(str, args)], dict(os.environ, **(env or {}))


@pytest.mark.slow
@pytest.mark.heavy
def test_sigterm_stops_cleanly_and_the_rerun_finishes(tmp_path):
    source = make_inputs(tmp_path, count=12, broken=False)
    out = tmp_path / "out"
    argv, env = _cli("batch", source, "--style", tmp_path / "style.png", "-o", out, *FAST)
    proc = subprocess.Popen(argv, env=env, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 240
    while time.time() < deadline and proc.poll() is None:
        if (out / "manifest.jsonl").exists() and '"done"' in (out / "manifest.jsonl").read_text():
            break
        time.sleep(0.2)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode in (0, 130), err
    leftovers = [p for p in out.rglob(".*") if p.is_file() and checkpoints.CHECKPOINTS not in p.parts]
    assert leftovers == []  # no half-written outputs
    rerun = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr
    done = Counter(r["input"] for r in manifest(out) if r["status"] == "done")
    assert len(done) + sum(r["status"] == "skipped-existing" for r in manifest(out)) >= 12
    assert set(done.values()) == {1}
    assert len(list(out.rglob("img*.png"))) == 12


@pytest.mark.slow
@pytest.mark.heavy
def test_two_processes_share_the_inputs_exactly_once(tmp_path):
    source = make_inputs(tmp_path, count=10, broken=False)
    out = tmp_path / "out"
    port = free_port()
    procs = []
    for index in range(2):
        argv, env = _cli("batch", source, "--style", tmp_path / "style.png", "-o", out, *FAST,
                         "--coordinator-address", f"127.0.0.1:{port}", "--num-processes", "2",
                         "--process-id", index, env={"XLA_FLAGS": "--xla_force_host_platform_device_count=2",
                                                     "JAX_PLATFORMS": "cpu"})
        procs.append(subprocess.Popen(argv, env=env, stderr=subprocess.PIPE, text=True))
    for proc in procs:
        _, err = proc.communicate(timeout=400)
        assert proc.returncode == 0, err
    records = [r for r in manifest(out) if r["status"] == "done"]
    assert Counter(r["input"] for r in records) == Counter({f"{'nested/' if i % 4 == 0 else ''}img{i:02d}.png": 1
                                                           for i in range(10)})
    assert {r["process"] for r in records} == {0, 1}
    assert not (out / checkpoints.CHECKPOINTS).exists()  # whichever process ended last removed it


@pytest.mark.slow
def test_a_batch_that_cannot_fit_is_refused_before_starting(tmp_path, capsys):
    source = make_inputs(tmp_path, count=2, broken=False)
    out = tmp_path / "out"
    code = cli.main(["batch", str(source), "--style", str(tmp_path / "style.png"), "-o", str(out),
                     "--size", "512", "--batch-size", "400000", "--steps", "2"])
    err = capsys.readouterr().err
    assert code == 2
    assert "use --batch-size" in err and err.strip().splitlines()[-1].startswith("stylejax: error:")
    assert not list(out.rglob("*.png"))


def test_missing_input_is_a_usage_error(tmp_path, capsys):
    code = cli.main(["batch", str(tmp_path / "nope"), "--style", "s.png", "-o", str(tmp_path / "o")])
    assert code == 2 and "no such file" in capsys.readouterr().err


def test_bad_vmap_size_is_a_usage_error_before_any_output(tmp_path, capsys):
    source = make_inputs(tmp_path, count=1, broken=False)
    out = tmp_path / "out"
    code = cli.main(["batch", str(source), "--style", str(tmp_path / "style.png"), "-o", str(out), *FAST,
                     "--vmap-size", "0"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and err[-1] == "stylejax: error: --vmap-size must be positive, got 0"
    assert not out.exists()


@pytest.mark.slow
@pytest.mark.parametrize("vmap_size", [1, None])
def test_the_batch_size_a_refusal_suggests_fits(monkeypatch, vmap_size):
    from stylejax.solve.batch import BatchSolver

    config = StyleConfig(size=48, steps=2, optimizer="adam")
    solver = BatchSolver.create(stripes(48, 48), config, vmap_size=vmap_size)
    shape = (32, 48)
    limit = (solver.memory_needed(shape, 4) + solver.memory_needed(shape, 64)) // 2
    monkeypatch.setattr(memory, "available_bytes", lambda: limit)
    with pytest.raises(batch.StyleJaxError, match="use `batch_size`") as refusal:
        sizing.check_memory(solver, [shape], 64, log=lambda line: None)
    suggested = int(str(refusal.value).split("use `batch_size` ")[1].split()[0])
    assert 4 <= suggested < 64
    assert solver.memory_needed(shape, suggested) <= limit


@pytest.mark.slow
def test_a_batch_interrupted_at_a_later_scale_resumes_there(tmp_path, monkeypatch):
    source = make_inputs(tmp_path, count=1, broken=False)
    items = inputs.collect_inputs(source, tmp_path / "x")
    config = StyleConfig(size=64, min_size=32, scale_factor=2.0, steps=(4, 4), optimizer="adam", chunk_steps=2,
                         ema_decay=0.5)
    style = [tmp_path / "style.png"]
    batch.run_job(items, style, tmp_path / "reference", config, batch_size=4)

    save = checkpoints._save_checkpoint
    # Step 6 is step 2 of the second scale (64 px): checkpoints count steps over the whole schedule.
    saved_steps = die_after_save(monkeypatch, lambda step: step == 6)
    with pytest.raises(KeyboardInterrupt):
        batch.run_job(items, style, tmp_path / "out", config, batch_size=4)
    assert saved_steps == [2, 6]
    monkeypatch.setattr(checkpoints, "_save_checkpoint", save)

    restore = checkpoints._restore_checkpoint
    restored = []

    def spy(manager, state, progress):
        result = restore(manager, state, progress)
        restored.append((state.image.shape[1:3], result[1]["losses"].shape[1]))
        return result

    monkeypatch.setattr(checkpoints, "_restore_checkpoint", spy)
    batch.run_job(items, style, tmp_path / "out", config, batch_size=4)
    assert restored == [((48, 64), 6)]  # straight into the second scale, with all six steps' losses
    name = items[0].name
    np.testing.assert_allclose(images.load_image(tmp_path / "out" / name),
                               images.load_image(tmp_path / "reference" / name), atol=2 / 255)
    record = [r for r in manifest(tmp_path / "out") if r["status"] == "done"][0]
    reference = [r for r in manifest(tmp_path / "reference") if r["status"] == "done"][0]
    assert record["steps"] == 8 and record["evaluations"] == reference["evaluations"] == 8
