"""What a bulk job leaves behind: checkpoints of batches that regrouped, and batches whose loss diverges."""

import json
from pathlib import Path

import jax.numpy as jnp
import pytest
from sample_images import smooth_image, stripes
from test_batch_job import die_after_save, manifest

from stylejax import cli
from stylejax.config import StyleConfig
from stylejax.io import images
from stylejax.jobs import batch, checkpoints, inputs
from stylejax.jobs.checkpoints import CHECKPOINTS, INPUTS
from stylejax.solve.batch import BatchSolver

LANDSCAPE, PORTRAIT = (40, 50), (50, 40)  # two buckets at 40 px: the landscape batch runs first


def make_inputs(root: Path, shapes: dict[str, tuple[int, int]]) -> Path:
    source = root / "in"
    source.mkdir(parents=True, exist_ok=True)
    for i, (name, shape) in enumerate(sorted(shapes.items())):
        images.save_image(smooth_image(*shape, seed=i), source / name)
    images.save_image(stripes(48, 48), root / "style.png")
    return source


def diverge_batches(monkeypatch, when) -> None:
    """Makes a batch's loss NaN from the chunk where `when(h, w, steps done)` says so (as a too-large
    learning rate would), whatever the settings: the real check then finds it."""
    run_chunk = BatchSolver.run_chunk

    def run_chunk_with_nan(self, state, args):
        if when(*state.image.shape[1:3], int(state.step[0])):
            state = state._replace(image=state.image * jnp.nan)
        return run_chunk(self, state, args)

    monkeypatch.setattr(BatchSolver, "run_chunk", run_chunk_with_nan)


def test_only_checkpoints_whose_inputs_all_have_outputs_are_removed(tmp_path):
    out = tmp_path
    for name in ["a.png", "sub/b.png"]:
        (out / name).parent.mkdir(parents=True, exist_ok=True)
        (out / name).write_bytes(b"an output")

    def batch_folder(key, names):
        folder = out / CHECKPOINTS / key
        (folder / "2").mkdir(parents=True)  # a saved step
        if names is not None:
            (folder / INPUTS).write_text(json.dumps(names))
        return folder

    batch_folder("finished", ["a.png", "sub/b.png"])
    batch_folder("pending", ["a.png", "c.png"])  # c.png: in flight, perhaps on another process
    being_made = batch_folder("being-made", None)  # its inputs not listed yet
    checkpoints.remove_finished_checkpoints(out)
    assert sorted(p.name for p in (out / CHECKPOINTS).iterdir()) == ["being-made", "pending"]

    (out / "c.png").write_bytes(b"an output")
    (being_made / INPUTS).write_text(json.dumps(["a.png"]))
    checkpoints.remove_finished_checkpoints(out)
    assert not (out / CHECKPOINTS).exists()  # nothing in flight: the folder goes too


@pytest.mark.slow
def test_a_batch_that_regrouped_on_a_rerun_leaves_no_orphaned_checkpoint(tmp_path, monkeypatch):
    shapes = {"a0.png": LANDSCAPE, "a1.png": LANDSCAPE, "b0.png": PORTRAIT, "b1.png": PORTRAIT}
    source = make_inputs(tmp_path, shapes)
    out = tmp_path / "out"
    config = StyleConfig(size=40, steps=4, optimizer="adam", chunk_steps=2)
    style = [tmp_path / "style.png"]

    save = checkpoints._save_checkpoint
    saved = die_after_save(monkeypatch, lambda step: len(saved) == 2)  # killed in the portrait batch
    with pytest.raises(KeyboardInterrupt):
        batch.run_job(inputs.collect_inputs(source, out), style, out, config, batch_size=4)
    monkeypatch.setattr(checkpoints, "_save_checkpoint", save)
    finished = {name: (out / name).stat().st_mtime_ns for name in ["a0.png", "a1.png"]}
    [orphan] = (out / CHECKPOINTS).iterdir()
    assert json.loads((orphan / INPUTS).read_text()) == ["b0.png", "b1.png"]

    images.save_image(smooth_image(*PORTRAIT, seed=4), source / "b2.png")  # the portrait batch regroups: a new key
    summary = batch.run_job(inputs.collect_inputs(source, out), style, out, config, batch_size=4)
    assert (summary.skipped, summary.done, summary.failed) == (2, 3, [])
    assert not (out / CHECKPOINTS).exists()  # the orphan went with the batch that replaced it
    assert all((out / name).is_file() for name in ["a0.png", "a1.png", "b0.png", "b1.png", "b2.png"])
    for name, mtime in finished.items():
        assert (out / name).stat().st_mtime_ns == mtime  # not redone
    assert not any("resumed_from" in r for r in manifest(out))  # the regrouped batch started afresh


@pytest.mark.slow
def test_a_diverging_batch_fails_its_images_and_the_job_goes_on(tmp_path, monkeypatch, capsys):
    source = make_inputs(tmp_path, {"a0.png": LANDSCAPE, "a1.png": LANDSCAPE, "b0.png": PORTRAIT})
    out = tmp_path / "out"
    saved = die_after_save(monkeypatch, lambda step: False)
    diverge_batches(monkeypatch, lambda h, w, done: h < w and done >= 2)  # the landscape batch, after a checkpoint
    code = cli.main(["batch", str(source), "--style", str(tmp_path / "style.png"), "-o", str(out), "--size", "40",
                     "--steps", "4", "--optimizer", "adam", "--batch-size", "4", "--checkpoint-every", "2"])
    err = capsys.readouterr().err
    assert code == 1, err  # some inputs failed, the rest completed
    assert saved == [2, 2]  # each batch had a checkpoint
    outcomes = {r["input"]: (r["status"], r.get("error")) for r in manifest(out)}
    diverged = "the loss diverged (not finite at step 2): lower `learning_rate` or `style_weight`"
    assert outcomes == {"a0.png": ("failed", diverged), "a1.png": ("failed", diverged), "b0.png": ("done", None)}
    assert f"failed: a0.png: {diverged}" in err
    assert sorted(p.name for p in out.rglob("*") if p.is_file()) == ["b0.png", "manifest.jsonl"]  # nothing partial
    assert not (out / CHECKPOINTS).exists()  # the diverged batch's checkpoint is gone: a re-run starts it afresh
