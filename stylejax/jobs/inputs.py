"""A bulk job's inputs: collected from a folder or a list, shared between hosts, planned into shape buckets
(finished and unreadable ones recorded, not decoded), batched, and loaded. `stylejax batch` (`jobs.batch`),
`stylejax apply` (`jobs.apply`) and a Ray fleet's driver (`jobs.fleet`) plan their jobs here.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
from PIL import Image

from stylejax.config import MIN_SIDE
from stylejax.errors import StyleJaxError
from stylejax.io import images
from stylejax.io import masks as masks_io
from stylejax.io.images import ImageLike
from stylejax.jobs.manifest import JobSummary, Manifest, failed_record


@dataclasses.dataclass(frozen=True)
class Item:
    """One input of a job."""

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
