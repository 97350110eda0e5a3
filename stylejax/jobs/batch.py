"""`stylejax batch`'s job, resumable: a directory (or list) of images in, mirrored stylized images out.

A job can be killed at any moment and re-run with the same command: finished images are skipped,
in-flight batches resume from their last orbax checkpoint, and outputs appear only whole (temporary
file, then rename). `OUTDIR/manifest.jsonl` gets one JSON line per input per outcome.
On many hosts, each process takes a disjoint, deterministic share of the inputs by process index
(`--distributed`); a Ray fleet (`fleet.py`) plans here, runs `run_batch` on its workers and writes the
manifest from its driver alone.
"""

from __future__ import annotations

import dataclasses
import os
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
from jax.sharding import Mesh
from PIL import Image

from stylejax.config import MIN_SIDE, StyleConfig, check_batch_size
from stylejax.errors import LossDivergedError, StyleJaxError
from stylejax.io import images
from stylejax.io import masks as masks_io
from stylejax.io.atomic import remove_partial_outputs
from stylejax.io.images import ImageLike
from stylejax.jobs.checkpoints import batch_key, open_batch_checkpoints, remove_finished_checkpoints
from stylejax.jobs.manifest import JobSummary, Manifest, failed_record
from stylejax.runtime.buckets import bucket_shape
from stylejax.solve.coarse_to_fine import CoarseToFineSolver
from stylejax.solve.problem import finish_image
from stylejax.solve.sizing import check_memory


@dataclasses.dataclass(frozen=True)
class Item:
    source: Path  # where the input is read from
    name: str  # its path relative to the input root: the output mirrors it


def collect_inputs(source: str | os.PathLike, outdir: Path) -> list[Item]:
    """Images under a directory (recursively, outdir excluded), or the paths listed in a text file."""
    source = Path(source)
    if source.is_dir():
        extensions = set(Image.registered_extensions())
        out = outdir.resolve()
        paths = [p for p in sorted(source.rglob("*")) if p.is_file() and p.suffix.lower() in extensions
                 and out not in p.resolve().parents]
        return [Item(p, p.relative_to(source).as_posix()) for p in paths]
    if not source.is_file():
        raise StyleJaxError(f"{source}: no such directory or list file")
    try:
        lines = source.read_text().splitlines()
    except (UnicodeDecodeError, OSError) as e:
        raise StyleJaxError(f"{source}: not a text file with one image path per line ({e})") from None
    paths = [Path(line.strip()) for line in lines if line.strip() and not line.lstrip().startswith("#")]
    paths = [p if p.is_absolute() else source.parent / p for p in paths]
    if not paths:
        return []
    root = Path(os.path.commonpath([p.parent.absolute() for p in paths]))
    return [Item(p, p.absolute().relative_to(root).as_posix()) for p in paths]


def my_share(items: Sequence[Item], process_index: int, process_count: int) -> list[Item]:
    """This process's disjoint share: every process_count-th input of the sorted list."""
    return sorted(items, key=lambda item: item.name)[process_index::process_count]


Buckets = dict[tuple[int, int], list[Item]]  # bucket shape -> the pending inputs of that shape


def plan_job(items: Sequence[Item], outdir: Path, manifest: Manifest,
             bucket: Callable[[tuple[int, int]], tuple[int, int]], *, min_side: int = MIN_SIDE,
             check: Callable[[dict[tuple[int, int], int]], None] | None = None) -> tuple[JobSummary, Buckets]:
    """Sorts `items` into those already finished, unreadable ones and pending shape buckets.

    An existing output is recorded as "skipped-existing" (unless the manifest already has it), an input
    whose header cannot be read or that is under `min_side` px as "failed"; neither is decoded.

    Args:
      items: the job's inputs.
      outdir: the output root.
      manifest: where the skipped and failed are recorded.
      bucket: an input's (h, w) -> the bucket it runs in.
      min_side: the shortest side an input may have.
      check: called with {bucket: pending inputs there} before anything is recorded; may raise.

    Returns:
      (a JobSummary of the skipped and failed, {bucket shape: pending items}).
    """
    previous = manifest.latest()
    summary = JobSummary()
    pending: Buckets = {}
    skipped, failed = [], []
    for item in items:
        if (outdir / item.name).exists():
            skipped.append(item)
            continue
        try:
            shape = images.header_shape(item.source)
            if min(shape) < min_side:
                raise StyleJaxError(f"{item.source}: {shape[1]}x{shape[0]} is under {min_side} px on a side")
        except StyleJaxError as e:
            failed.append(failed_record(item.name, str(e)))
            continue
        pending.setdefault(bucket(shape), []).append(item)
    if check is not None:
        check({shape: len(batch) for shape, batch in pending.items()})
    for item in skipped:
        manifest.skips_existing(item.name, outdir / item.name, previous)
        summary.skipped += 1
    for record in failed:
        manifest.add(**record)
        summary.count(record)
    return summary, pending


def job_batches(pending: Buckets, batch_size: int) -> list[tuple[tuple[int, int], list[Item]]]:
    """The pending inputs as (bucket shape, up to `batch_size` items), shape by shape."""
    return [(shape, pending[shape][first:first + batch_size])
            for shape in sorted(pending) for first in range(0, len(pending[shape]), batch_size)]


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

    Returns:
      A JobSummary; failures are in the manifest too.
    """
    check_job(items, style, config, batch_size, vmap_size, masks_dir)
    outdir.mkdir(parents=True, exist_ok=True)
    manifest = Manifest(outdir)
    summary, pending = plan_job(items, outdir, manifest, lambda shape: bucket_shape(shape, config.size))
    total = len(items)
    finished = summary.skipped + len(summary.failed)
    if progress:
        progress(finished, total)
    if not pending:
        remove_finished_checkpoints(outdir)
        return summary
    solver = job_solver(style, config, mesh, vmap_size, masks_dir)
    check_memory(solver.final, list(pending), batch_size, log)
    for shape, batch in job_batches(pending, batch_size):
        for record in run_batch(solver, batch, shape, style, outdir, masks_dir):
            manifest.add(**record)
            summary.count(record)
        finished += len(batch)
        if progress:
            progress(finished, total)
    remove_finished_checkpoints(outdir)
    return summary


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


def load_batch(batch: Sequence[Item], style: Sequence[ImageLike], masks_dir: Path | None
               ) -> tuple[list[dict], list[tuple[Item, np.ndarray]], list[np.ndarray]]:
    """(failed records of inputs or masks that cannot be read, (item, content) of the others, their masks)."""
    records, loaded, masks = [], [], []
    for item in batch:
        try:
            content = images.load_image(item.source)
            if masks_dir is not None:
                paths = masks_io.batch_mask_paths(masks_dir, style, item.name)
                masks.append(masks_io.region_masks(paths, len(style), content.shape[:2]))
            loaded.append((item, content))
        except StyleJaxError as e:  # a bad input (or mask) fails alone; the rest of the batch runs
            records.append(failed_record(item.name, str(e)))
    return records, loaded, masks
