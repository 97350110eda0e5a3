"""The one loop of a bulk image job, and what it asks of the work a job does (`JobWork`).

`stylejax batch` (`jobs.batch.StylizeWork`) and `stylejax apply` (`jobs.apply.ApplyWork`) run on it: on
this host with `run_local`, on a Ray fleet by handing the same work to each worker (`jobs.fleet.drive_fleet`).
Both plan the job with `jobs.inputs.plan_job` (finished inputs skipped, unreadable ones recorded, the rest
grouped into same-bucket batches) and record every outcome through a `JobLedger`: one manifest line each,
the summary's tally, the progress.
"""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Protocol

import numpy as np

from stylejax.io import images
from stylejax.io.atomic import remove_partial_outputs
from stylejax.jobs.checkpoints import remove_finished_checkpoints
from stylejax.jobs.inputs import Item, job_batches, plan_job
from stylejax.jobs.manifest import JobSummary, Manifest

Shape = tuple[int, int]


class JobWork(Protocol):
    """What a job does with its inputs: plain, picklable settings until `load` builds the heavy state
    (weights, compiled programs), once for the whole job, on the host (or Ray worker) that runs it.

    Attributes:
      min_side: the shortest side an input may have; a smaller one is recorded as failed, not run.
    """

    min_side: int

    def bucket(self, shape: Shape) -> Shape:
        """The bucket an input of `shape` (h, w) runs in: inputs of one bucket share a batch."""
        ...

    def load(self) -> None:
        """Builds what every batch shares; called once, before `check_memory`, only if a batch is pending."""
        ...

    def check_memory(self, counts: Mapping[Shape, int], batch_size: int, log: Callable[[str], None]) -> None:
        """Says in `log` what a batch needs, and raises StyleJaxError for one that cannot fit.

        Args:
          counts: {bucket: pending inputs there}.
          batch_size: inputs per batch at most.
          log: where the lines go.
        """
        ...

    def run(self, shape: Shape, batch: list[Item]) -> list[dict]:
        """Runs one batch of inputs of bucket `shape`, writing each output atomically; returns one manifest
        record per input ("done", or "failed" with the reason) and writes no manifest line."""
        ...


@dataclasses.dataclass
class JobLedger:
    """Where a running job's outcomes go: one manifest line each, the summary's tally and the progress,
    `done` of `total` inputs (the skipped and failed at planning count as done from the start)."""

    manifest: Manifest
    summary: JobSummary
    total: int
    progress: Callable[[int, int], None] | None = None
    done: int = dataclasses.field(init=False)

    def __post_init__(self):
        self.done = self.summary.skipped + len(self.summary.failed)

    def add(self, batch: Sequence[Item], records: list[dict]) -> None:
        """Records a batch's outcomes and reports the progress."""
        for record in records:
            self.manifest.add(**record)
            self.summary.count(record)
        self.done += len(batch)
        self.report()

    def report(self) -> None:
        """Calls `progress(done, total)`, if there is one."""
        if self.progress:
            self.progress(self.done, self.total)


def run_local(items: Sequence[Item], outdir: Path, work: JobWork, *, batch_size: int,
              progress: Callable[[int, int], None] | None = None,
              log: Callable[[str], None] = lambda line: print(line, file=sys.stderr)) -> JobSummary:
    """Runs a job on this host, resuming whatever an earlier run of it left.

    The work is loaded and its memory checked before anything is written (a refusal leaves no trace);
    then its batches run bucket by bucket, each outcome a manifest line as the batch ends. Checkpoint
    folders whose inputs all have their outputs are removed at the end (`jobs.checkpoints`).

    Args:
      items: this process's inputs (`jobs.inputs.collect_inputs`, `my_share`).
      outdir: the output root: outputs mirror `Item.name`; OUTDIR/manifest.jsonl gets one line per input
        per outcome.
      work: what the job does with a batch.
      batch_size: inputs per batch at most.
      progress: called with (inputs finished, inputs in all) as the job advances.
      log: where the memory check's lines go.

    Returns:
      A JobSummary; failures are in the manifest too.

    Raises:
      StyleJaxError: from `work.load` or `work.check_memory`, before anything is written.
    """
    manifest = Manifest(outdir)

    def prepare(counts: dict[Shape, int]) -> None:  # plan_job calls it before recording anything
        if counts:
            work.load()
            work.check_memory(counts, batch_size, log)
        outdir.mkdir(parents=True, exist_ok=True)

    summary, pending = plan_job(items, outdir, manifest, work.bucket, min_side=work.min_side, check=prepare)
    ledger = JobLedger(manifest, summary, len(items), progress)
    ledger.report()
    for shape, batch in job_batches(pending, batch_size):
        ledger.add(batch, work.run(shape, batch))
    remove_finished_checkpoints(outdir)
    return summary


def save_outputs(loaded: Sequence[tuple[Item, np.ndarray]], outputs: Sequence[np.ndarray], outdir: Path,
                 seconds: float) -> list[dict]:
    """Writes each one-pass output (apply's, transfer's) atomically where its input's name says; returns
    their "done" manifest records, each with `seconds` (per image)."""
    records = []
    for (item, _), result in zip(loaded, outputs, strict=True):
        output = outdir / item.name
        output.parent.mkdir(parents=True, exist_ok=True)
        remove_partial_outputs(output)  # a killed earlier writer of this batch (a lost Ray worker)
        images.save_image(result, output)
        records.append(dict(input=item.name, status="done", output=str(output), seconds=round(seconds, 4)))
    return records
