"""`stylejax batch`'s job, resumable: a directory (or list) of images in, mirrored stylized images out.

A job can be killed at any moment and re-run with the same command: finished images are skipped,
in-flight batches resume from their last orbax checkpoint, and outputs appear only whole (temporary
file, then rename). `OUTDIR/manifest.jsonl` gets one JSON line per input per outcome.
The work (`StylizeWork`: one batch's run, `run_batch`) runs on `jobs.runner.run_local` on one host or,
with `--distributed`, on each host over a disjoint, deterministic share of the inputs by process index
(`inputs.my_share`); on a Ray fleet (`fleet.py`) it runs on the workers and the driver alone writes the
manifest.
"""

from __future__ import annotations

import dataclasses
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import ClassVar

from jax.sharding import Mesh

from stylejax.config import MIN_SIDE, StyleConfig, check_batch_size
from stylejax.errors import LossDivergedError, StyleJaxError
from stylejax.io import images
from stylejax.io import masks as masks_io
from stylejax.io.atomic import remove_partial_outputs
from stylejax.io.images import ImageLike
from stylejax.jobs.checkpoints import batch_key, open_batch_checkpoints
from stylejax.jobs.inputs import Item, load_batch
from stylejax.jobs.manifest import JobSummary, failed_record
from stylejax.jobs.runner import run_local
from stylejax.runtime.buckets import bucket_shape
from stylejax.solve.coarse_to_fine import CoarseToFineSolver
from stylejax.solve.problem import finish_image
from stylejax.solve.sizing import check_memory


def check_job(items: Sequence[Item], style: Sequence[ImageLike], config: StyleConfig, batch_size: int,
              vmap_size: int | str | None, masks_dir: Path | None) -> None:
    """Raises StyleJaxError, before anything is written, for what a job (local or a fleet) cannot run:
    a batch or vmap size that is not positive, settings batches refuse, an input without its masks."""
    check_batch_size(batch_size)
    if isinstance(vmap_size, int) and vmap_size <= 0:
        raise StyleJaxError(f"`vmap_size` must be positive, got {vmap_size}")
    CoarseToFineSolver.check_batchable(config)
    if masks_dir is not None:
        for item in items:
            masks_io.batch_mask_paths(masks_dir, style, item.name)


def job_solver(style: Sequence[ImageLike], config: StyleConfig, mesh: Mesh | None, vmap_size: int | str | None,
               masks_dir: Path | None) -> CoarseToFineSolver:
    """The solver a job's batches share: one style target per style when the inputs have region masks."""
    style_masks = None if masks_dir is None else [None] * len(style)
    return CoarseToFineSolver(list(style), config, mesh, vmap_size=vmap_size, style_masks=style_masks)


def run_job(items: Sequence[Item], style: Sequence[ImageLike], outdir: Path, config: StyleConfig, *,
            batch_size: int = 8, vmap_size: int | str | None = "auto", mesh: Mesh | None = None,
            masks_dir: Path | None = None, progress: Callable[[int, int], None] | None = None,
            log: Callable[[str], None] = lambda line: print(line, file=sys.stderr)) -> JobSummary:
    """Stylizes `items` into `outdir`, resuming whatever an earlier run of the same job left.

    Args:
      items: this process's inputs (see `collect_inputs` and `my_share`).
      style: style image(s), shared by every input.
      outdir: where outputs (mirroring `Item.name`), the manifest and checkpoints live.
      config: settings; `config.chunk_steps` is the checkpoint interval.
      batch_size: images per batch across this process's devices.
      vmap_size: images per device in lockstep (see `stylize_batch`).
      mesh: a 1-D ("data",) mesh; default: all local devices.
      masks_dir: region masks per input and style (`masks_io.batch_mask_paths`); every input needs its own.
      progress: called with (images finished, images total) as the job advances.
      log: where the memory check's lines go.

    Returns:
      A JobSummary; failures are in the manifest too.

    Raises:
      StyleJaxError: as `check_job`, or a batch that cannot fit a device's memory; nothing is written then.
    """
    check_job(items, style, config, batch_size, vmap_size, masks_dir)
    work = StylizeWork(list(style), config, outdir, vmap_size, masks_dir, mesh=mesh)
    return run_local(items, outdir, work, batch_size=batch_size, progress=progress, log=log)


@dataclasses.dataclass
class StylizeWork:
    """`stylejax batch`'s work (`jobs.runner.JobWork`): `run_batch` with the solver the job's batches share
    (weights, style targets, compiled programs), here or on a Ray worker."""

    style: list[ImageLike]
    config: StyleConfig
    outdir: Path
    vmap_size: int | str | None
    masks_dir: Path | None = None
    mesh: Mesh | None = None  # None: every local device
    solver: CoarseToFineSolver | None = None
    min_side: ClassVar[int] = MIN_SIDE

    def bucket(self, shape: tuple[int, int]) -> tuple[int, int]:
        """`bucket_shape` at the job's size."""
        return bucket_shape(shape, self.config.size)

    def load(self) -> None:
        """Makes the solver the job's batches share."""
        self.solver = job_solver(self.style, self.config, self.mesh, self.vmap_size, self.masks_dir)

    def check_memory(self, counts: Mapping[tuple[int, int], int], batch_size: int,
                     log: Callable[[str], None]) -> None:
        """`sizing.check_memory` of a full batch in every bucket, on this host's devices."""
        check_memory(self.solver.final, list(counts), batch_size, log)

    def run(self, shape: tuple[int, int], batch: list[Item]) -> list[dict]:
        """`run_batch`: one record per input."""
        return run_batch(self.solver, batch, shape, self.style, self.outdir, self.masks_dir)


def run_batch(solver: CoarseToFineSolver, batch: Sequence[Item], shape: tuple[int, int],
              style: Sequence[ImageLike], outdir: Path, masks_dir: Path | None = None) -> list[dict]:
    """Stylizes one batch of same-bucket inputs, resuming from its checkpoint, and writes each output atomically.

    Writes no manifest line: it returns the records for the caller (a job, or a fleet's driver) to write.

    Args:
      solver: the job's solver (weights, style targets and compiled programs, reused batch after batch).
      batch: inputs whose outputs do not exist yet, all in bucket `shape`.
      shape: (h, w) the bucket at full size.
      style: the job's style image(s) (part of the checkpoint key).
      outdir: the output root; checkpoints live in OUTDIR/.checkpoints/KEY until the batch is written.
      masks_dir: where each input's region masks are (`job_solver` made the solver with masks_dir too).

    Returns:
      One manifest record per input: "failed" for one that cannot be decoded, and for every input of a
      batch whose loss diverged, else "done", with "resumed_from" (steps over every scale) when the
      batch continued from a checkpoint.
    """
    start = time.perf_counter()
    records, loaded, masks = load_batch(batch, style, masks_dir)
    if not loaded:
        return records
    key = batch_key(solver.config, style, [item.name for item, _ in loaded], solver.final)
    checkpoints = open_batch_checkpoints(outdir, key, [item.name for item, _ in loaded], solver.scales)
    try:
        outcome = solver.solve([image for _, image in loaded], solver.bucket_shapes(shape), masks=masks or None,
                               checkpoints=checkpoints)
    except LossDivergedError as e:  # these settings fail on this batch: its images fail, the job goes on
        checkpoints.remove()  # a re-run starts the batch afresh, not from the diverging state
        return records + [failed_record(item.name, str(e)) for item, _ in loaded]
    seconds = (time.perf_counter() - start) / len(loaded)
    resumed = {} if checkpoints.resumed_from is None else {"resumed_from": checkpoints.resumed_from}
    for row, (item, content) in enumerate(loaded):
        output = outdir / item.name
        output.parent.mkdir(parents=True, exist_ok=True)
        remove_partial_outputs(output)  # a killed earlier writer of this batch (a lost Ray worker)
        images.save_image(finish_image(outcome.images[row], content, solver.config), output)
        records.append(dict(input=item.name, status="done", output=str(output), losses=outcome.losses[row],
                            steps=int(outcome.loss_history.shape[1]), evaluations=int(outcome.evaluations[row]),
                            seconds=round(seconds, 3), **resumed))
    checkpoints.remove()
    return records
