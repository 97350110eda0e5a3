"""The job runner with a work of its own: what any kind of work gets from it (no JAX program runs here)."""

import dataclasses
import json
from pathlib import Path

import pytest
from sample_images import add_broken_images, smooth_image

from stylejax.errors import StyleJaxError
from stylejax.io import images
from stylejax.jobs import inputs, runner
from stylejax.jobs.checkpoints import CHECKPOINTS, INPUTS


@dataclasses.dataclass
class CopyWork:
    """Copies each input to its output; refuses buckets wider than `widest` as a memory check would."""

    outdir: Path
    widest: int = 1000
    min_side: int = 16
    loads: int = 0
    checked: dict | None = None
    batches: list = dataclasses.field(default_factory=list)

    def bucket(self, shape):
        return (shape[0] // 10 * 10, shape[1] // 10 * 10)

    def load(self):
        self.loads += 1

    def check_memory(self, counts, batch_size, log):
        self.checked = dict(counts)
        log(f"{len(counts)} buckets")
        if max(w for _, w in counts) > self.widest:
            raise StyleJaxError("`batch_size` too large")

    def run(self, shape, batch):
        self.batches.append((shape, [item.name for item in batch]))
        records, loaded, _ = inputs.load_batch(batch, (), None)
        for item, image in loaded:
            (self.outdir / item.name).parent.mkdir(parents=True, exist_ok=True)
            images.save_image(image, self.outdir / item.name)
            records.append(dict(input=item.name, status="done", output=str(self.outdir / item.name)))
        return records


def make_inputs(root: Path) -> list[inputs.Item]:
    source = root / "in"
    shapes = {"img00.png": (40, 50), "img01.png": (40, 52), "img02.png": (40, 55), "nested/img03.png": (50, 40),
              "nested/img04.png": (40, 50), "tiny.png": (8, 40)}
    for i, (name, shape) in enumerate(shapes.items()):
        (source / name).parent.mkdir(parents=True, exist_ok=True)
        images.save_image(smooth_image(*shape, seed=i), source / name)
    add_broken_images(source)  # notes.png and truncated.png: refused at planning, as tiny.png
    return inputs.collect_inputs(source, root / "out")


def statuses(outdir: Path) -> list[tuple[str, str]]:
    records = [json.loads(line) for line in (outdir / "manifest.jsonl").read_text().splitlines()]
    return sorted((r["input"], r["status"]) for r in records)


def test_a_job_runs_each_bucket_in_batches_records_every_input_and_a_rerun_skips_them(tmp_path):
    items, out = make_inputs(tmp_path), tmp_path / "out"
    work, progress, lines = CopyWork(out), [], []
    summary = runner.run_local(items, out, work, batch_size=2, progress=lambda *p: progress.append(p),
                               log=lines.append)
    assert (summary.done, summary.skipped) == (5, 0)
    assert sorted(name for name, _ in summary.failed) == ["notes.png", "tiny.png", "truncated.png"]
    assert work.loads == 1 and work.checked == {(40, 50): 4, (50, 40): 1} and lines == ["2 buckets"]
    assert work.batches == [((40, 50), ["img00.png", "img01.png"]), ((40, 50), ["img02.png", "nested/img04.png"]),
                            ((50, 40), ["nested/img03.png"])]
    assert progress == [(3, 8), (5, 8), (7, 8), (8, 8)]  # the unreadable first, then batch by batch
    assert [status for _, status in statuses(out)].count("done") == 5

    rerun = CopyWork(out)
    summary = runner.run_local(items, out, rerun, batch_size=2)
    assert (summary.done, summary.skipped, len(summary.failed)) == (0, 5, 3)
    assert rerun.loads == 0 and rerun.checked is None  # nothing pending: the work is never loaded
    assert [status for _, status in statuses(out)].count("skipped-existing") == 0  # "done" already says it


def test_a_memory_refusal_comes_before_anything_is_written(tmp_path):
    items, out = make_inputs(tmp_path), tmp_path / "out"
    with pytest.raises(StyleJaxError, match="batch_size"):
        runner.run_local(items, out, CopyWork(out, widest=45), batch_size=2)
    assert not out.exists()


def test_checkpoints_of_finished_inputs_are_removed_at_the_end(tmp_path):
    items, out = make_inputs(tmp_path), tmp_path / "out"
    folders = {"finished": ["img00.png", "nested/img03.png"], "pending": ["img00.png", "never.png"]}
    for name, inputs_of in folders.items():
        (out / CHECKPOINTS / name).mkdir(parents=True)
        (out / CHECKPOINTS / name / INPUTS).write_text(json.dumps(inputs_of))
    runner.run_local(items, out, CopyWork(out), batch_size=4)
    assert [p.name for p in (out / CHECKPOINTS).iterdir()] == ["pending"]
