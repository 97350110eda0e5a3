"""Resumable bulk jobs: a directory (or list) of images in, mirrored stylized images out.

A job can be killed at any moment and re-run with the same command: finished images are skipped,
in-flight batches resume from their last orbax checkpoint, and outputs appear only whole (temporary
file, then rename). `OUTDIR/manifest.jsonl` gets one JSON line per input per outcome.
On many hosts, each process takes a disjoint, deterministic share of the inputs by process index.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import shutil
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import jax
import numpy as np
from PIL import Image

from . import images
from . import masks as masks_io
from .batch import BatchSolver, bucket_shape
from .batch_schedule import ScheduledSolver, finish_image
from .config import MIN_SIDE, StyleConfig
from .engine import ImageLike
from .errors import StyleJaxError
from .memory import available_bytes, describe
from .optimize import RunState
from .schedule import Scale

MANIFEST = "manifest.jsonl"
CHECKPOINTS = ".checkpoints"


@dataclasses.dataclass(frozen=True)
class Item:
    source: Path  # where the input is read from
    name: str  # its path relative to the input root: the output mirrors it


@dataclasses.dataclass
class JobSummary:
    done: int = 0
    skipped: int = 0
    failed: list[tuple[str, str]] = dataclasses.field(default_factory=list)


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


class Manifest:
    """The job's JSON-lines record. One write() per line with O_APPEND, so concurrent hosts don't interleave."""

    def __init__(self, outdir: Path):
        self.path = outdir / MANIFEST

    def latest(self) -> dict[str, dict]:
        records = {}
        if self.path.exists():
            for line in self.path.read_text().splitlines():
                try:
                    record = json.loads(line)
                except json.JSONDecodeError:
                    continue  # a line cut off by a crash: the input is simply redone
                records[record["input"]] = record
        return records

    def add(self, **record) -> None:
        line = (json.dumps(record | {"time": time.time(), "process": jax.process_index()}) + "\n").encode()
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, line)
        finally:
            os.close(fd)


def _image_shape(path: Path) -> tuple[int, int]:
    """(h, w) from the file header, without decoding pixels (EXIF rotation applied)."""
    try:
        with Image.open(path) as image:
            w, h = image.size
            orientation = image.getexif().get(0x0112, 1)
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as e:
        raise StyleJaxError(f"{path}: not an image file Pillow can read ({type(e).__name__})") from None
    return (w, h) if orientation in (5, 6, 7, 8) else (h, w)


def check_memory(solver: BatchSolver, shapes: Sequence[tuple[int, int]], batch_size: int,
                 log: Callable[[str], None]) -> None:
    """Says what a batch needs per device and refuses a batch size that cannot fit."""
    limit = available_bytes()
    for shape in sorted(set(shapes)):
        need = solver.memory_needed(shape, batch_size)
        log(f"a batch of {batch_size} at {shape[1]}x{shape[0]} needs {describe(need)} per device"
            + (f" (of {describe(limit)})" if limit else ""))
        if limit and need > limit:
            fits = _largest_batch(solver, shape, batch_size, need, limit)
            advice = (f"use --batch-size {fits} or less, or a smaller --size" if fits
                      else "even one image per device does not fit: use a smaller --size")
            raise StyleJaxError(f"--batch-size {batch_size} at {shape[1]}x{shape[0]} needs {describe(need)} "
                                f"per device but {describe(limit)} is available: {advice}")


def _largest_batch(solver: BatchSolver, shape: tuple[int, int], batch_size: int, need: int, limit: int) -> int:
    """The largest batch size whose memory fits, from a line through the smallest batch's need and `need`.

    Memory grows about linearly with a device's rows (states, and activations of each lockstep group) on
    top of a fixed part (weights, one group's activations when groups run in sequence).
    """
    smallest = solver.padded(1)
    rows, smallest_rows = solver.padded(batch_size) // solver.devices, smallest // solver.devices
    smallest_need = solver.memory_needed(shape, smallest)
    if smallest_need > limit:
        return 0
    per_row = max(1, -(-(need - smallest_need) // max(1, rows - smallest_rows)))  # rounded up: err on fitting
    headroom = limit // 20  # the line is close, not exact (XLA pads and aligns buffers)
    fitting_rows = smallest_rows + max(0, limit - headroom - smallest_need) // per_row
    if solver.vmap_size and fitting_rows > solver.vmap_size:  # whole lockstep groups, or padding adds rows
        fitting_rows -= fitting_rows % solver.vmap_size
    return max(smallest, min(batch_size - 1, fitting_rows * solver.devices))


def _batch_key(config: StyleConfig, styles: Sequence[ImageLike], names: Sequence[str], rows: int) -> str:
    # The padded row count (devices x vmap groups) shapes the checkpoint: a different one starts afresh.
    text = json.dumps([repr(config), [str(s) for s in styles], list(names), rows])
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _checkpoint_manager(directory: Path):
    import orbax.checkpoint as ocp

    index = jax.process_index()
    # Each host checkpoints its own batches: no barriers with other hosts.
    directory.mkdir(parents=True, exist_ok=True)
    options = ocp.CheckpointManagerOptions(
        max_to_keep=1, enable_async_checkpointing=False, create=False,
        multiprocessing_options=ocp.options.MultiprocessingOptions(
            primary_host=index, active_processes={index}, barrier_sync_key_prefix=f"{directory.name}-{index}"))
    return ocp.CheckpointManager(directory.absolute(), options=options)


def _save_checkpoint(manager, step: int, state: RunState, progress: dict[str, np.ndarray]) -> None:
    import orbax.checkpoint as ocp

    tree = jax.tree.map(np.asarray, state)  # host-local numpy: orbax accepts these on any host
    manager.save(step, args=ocp.args.Composite(state=ocp.args.StandardSave(tree),
                                               progress=ocp.args.StandardSave(progress)))
    manager.wait_until_finished()


def _restore_checkpoint(manager, state: RunState, progress: dict[str, np.ndarray]
                        ) -> tuple[RunState, dict[str, np.ndarray]]:
    import orbax.checkpoint as ocp

    restored = manager.restore(manager.latest_step(), args=ocp.args.Composite(
        state=ocp.args.StandardRestore(jax.tree.map(np.asarray, state)),
        progress=ocp.args.StandardRestore(progress)))
    return restored["state"], restored["progress"]


class _OrbaxCheckpoints:
    """A batch's checkpoints, numbered by steps over the whole schedule, so the number gives the scale.

    Saves happen strictly inside a scale (after a chunk that is not the scale's last), so step numbers
    of different scales never meet.
    """

    def __init__(self, manager, scales: Sequence[Scale]):
        self.manager = manager
        self.offsets = np.cumsum([0] + [scale.steps for scale in scales])[:-1]

    def latest(self) -> int | None:
        step = self.manager.latest_step()
        return None if step is None else int(np.searchsorted(self.offsets, step, side="left")) - 1

    def restore(self, scale: Scale, fresh: RunState) -> tuple[RunState, dict[str, np.ndarray]]:
        rows, offset = fresh.image.shape[0], int(self.offsets[scale.index])
        done = self.manager.latest_step() - offset
        target = {"losses": np.zeros((rows, offset + done), np.float32),
                  "earlier_evaluations": np.zeros(rows, np.int64)}
        return _restore_checkpoint(self.manager, fresh, target)

    def save(self, scale: Scale, state: RunState, progress: dict[str, np.ndarray]) -> None:
        step = int(self.offsets[scale.index]) + int(np.asarray(state.step)[0])
        _save_checkpoint(self.manager, step, state, progress)


def run_job(items: Sequence[Item], style: Sequence[ImageLike], outdir: Path, config: StyleConfig, *,
            batch_size: int = 8, vmap_size: int | str | None = "auto", masks_dir: Path | None = None,
            progress: Callable[[int, int], None] | None = None,
            log: Callable[[str], None] = lambda line: print(line, file=sys.stderr)) -> JobSummary:
    """Stylizes `items` into `outdir`, resuming whatever an earlier run of the same job left.

    Args:
      items: this process's inputs (see `collect_inputs` and `my_share`).
      style: style image(s), shared by every input.
      outdir: where outputs (mirroring `Item.name`), the manifest and checkpoints live.
      config: settings; `config.chunk_steps` is the checkpoint interval.
      batch_size: images per batch across this process's devices.
      vmap_size: images per device in lockstep (see `stylize_batch`).
      masks_dir: region masks per input and style (`masks.batch_mask_paths`); every input needs its own.
      progress: called with (images finished, images total) as the job advances.

    Returns:
      A JobSummary; failures are in the manifest too.
    """
    if batch_size <= 0:
        raise StyleJaxError(f"--batch-size must be positive, got {batch_size}")
    if isinstance(vmap_size, int) and vmap_size <= 0:
        raise StyleJaxError(f"--vmap-size must be positive, got {vmap_size}")
    ScheduledSolver.check(config)
    mask_paths = {item.name: masks_io.batch_mask_paths(masks_dir, style, item.name) for item in items} \
        if masks_dir is not None else None
    outdir.mkdir(parents=True, exist_ok=True)
    manifest = Manifest(outdir)
    previous = manifest.latest()
    summary = JobSummary()
    pending: dict[tuple[int, int], list[Item]] = {}
    for item in items:
        output = outdir / item.name
        if output.exists():
            if previous.get(item.name, {}).get("status") not in ("done", "skipped-existing"):
                manifest.add(input=item.name, status="skipped-existing", output=str(output))
            summary.skipped += 1
            continue
        try:
            shape = _image_shape(item.source)
            if min(shape) < MIN_SIDE:
                raise StyleJaxError(f"{item.source}: {shape[1]}x{shape[0]} is under {MIN_SIDE} px on a side")
        except StyleJaxError as e:
            manifest.add(input=item.name, status="failed", error=str(e))
            summary.failed.append((item.name, str(e)))
            continue
        pending.setdefault(bucket_shape(shape, config.size), []).append(item)

    total = len(items)
    finished = summary.skipped + len(summary.failed)
    if progress:
        progress(finished, total)
    if not pending:
        return summary
    solver = ScheduledSolver(list(style), config, vmap_size=vmap_size,
                             style_masks=None if mask_paths is None else [None] * len(style))
    check_memory(solver.final, list(pending), batch_size, log)
    for shape in sorted(pending):
        members = pending[shape]
        for first in range(0, len(members), batch_size):
            batch = members[first:first + batch_size]
            loaded = []
            for item in batch:
                try:
                    content = images.load_image(item.source)
                    regions = None if mask_paths is None else \
                        masks_io.region_masks(mask_paths[item.name], len(style), content.shape[:2])
                    loaded.append((item, content, regions))
                except StyleJaxError as e:
                    manifest.add(input=item.name, status="failed", error=str(e))
                    summary.failed.append((item.name, str(e)))
            if loaded:
                _run_batch(solver, loaded, shape, style, outdir, manifest)
                summary.done += len(loaded)
            finished += len(batch)
            if progress:
                progress(finished, total)
    try:
        (outdir / CHECKPOINTS).rmdir()  # only when no batch is left in flight
    except OSError:
        pass
    return summary


def _run_batch(solver: ScheduledSolver, loaded: list[tuple[Item, np.ndarray, np.ndarray | None]],
               shape: tuple[int, int], style: Sequence[ImageLike], outdir: Path, manifest: Manifest) -> None:
    config = solver.config
    start = time.perf_counter()
    key = _batch_key(config, style, [item.name for item, _, _ in loaded], solver.final.padded(len(loaded)))
    manager = _checkpoint_manager(outdir / CHECKPOINTS / key)
    masks = None if loaded[0][2] is None else [regions for _, _, regions in loaded]
    outcome = solver.solve([image for _, image, _ in loaded], shape, masks=masks,
                           checkpoints=_OrbaxCheckpoints(manager, solver.scales))
    seconds = (time.perf_counter() - start) / len(loaded)
    for row, (item, content, _) in enumerate(loaded):
        output = outdir / item.name
        output.parent.mkdir(parents=True, exist_ok=True)
        images.save_image(finish_image(outcome.images[row], content, config), output)
        manifest.add(input=item.name, status="done", output=str(output), losses=outcome.losses[row],
                     steps=int(outcome.loss_history.shape[1]), evaluations=int(outcome.evaluations[row]),
                     seconds=round(seconds, 3))
    manager.close()
    shutil.rmtree(outdir / CHECKPOINTS / key, ignore_errors=True)
