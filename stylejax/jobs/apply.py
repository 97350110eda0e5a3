"""`stylejax apply`'s job: images through a trained style network, resumably, with the batch job's manifest.

Outputs mirror the inputs' names in OUTDIR; an existing output is skipped (and recorded), an input that
cannot be decoded fails alone (manifest line with the reason) while the rest are done. Images of one
shape go through the network together, `batch_size` at a time, compiled once per shape.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from stylejax.errors import StyleJaxError
from stylejax.io import images
from stylejax.jobs.local import Item
from stylejax.jobs.manifest import JobSummary, Manifest, failed_record
from stylejax.network.loaded import StyleNetworkFunction, apply_network


def stylize_with(net: StyleNetworkFunction, image: np.ndarray, size: int | None, style: jax.Array) -> np.ndarray:
    """One image (h, w, 3) through the network at long side `size` (None: its own size)."""
    return np.asarray(apply_network(net, _resized([image], size), style)[0])


def _resized(batch: Sequence[np.ndarray], size: int | None) -> jax.Array:
    if size is None:
        return jnp.stack([jnp.asarray(b) for b in batch])
    shape = images.fit_size(batch[0].shape[:2], size)
    return jnp.stack([images.resize(b, shape) for b in batch])


def run_apply_job(items: Sequence[Item], net: StyleNetworkFunction, outdir: Path, *, size: int | None = None,
                  style: jax.Array | None = None, batch_size: int = 8,
                  progress: Callable[[int, int], None] | None = None,
                  log: Callable[[str], None] = lambda line: print(line, file=sys.stderr)) -> JobSummary:
    """Stylizes `items` into `outdir` through `net`, skipping outputs that exist.

    Args:
      items: the inputs (`jobs.local.collect_inputs`).
      net: a loaded network (`load_network`).
      outdir: the output root; OUTDIR/manifest.jsonl gets one line per input per outcome.
      size: the outputs' long side (None: each input's own size).
      style: (num_styles,) weights (None: style 0).
      batch_size: images of one shape per forward pass.
      progress: called with (images finished, images total).

    Returns:
      A JobSummary; failures are in the manifest too.
    """
    if batch_size <= 0:
        raise StyleJaxError(f"--batch-size must be positive, got {batch_size}")
    style = net.style_weights(None) if style is None else style
    outdir.mkdir(parents=True, exist_ok=True)
    manifest = Manifest(outdir)
    previous = manifest.latest()
    summary = JobSummary()
    by_shape: dict[tuple[int, int], list[tuple[Item, np.ndarray]]] = {}
    finished = 0
    for item in items:
        output = outdir / item.name
        if manifest.skips_existing(item.name, output, previous):
            summary.skipped += 1
            finished += 1
            continue
        try:
            image = images.load_image(item.source)
        except StyleJaxError as e:  # a bad input fails alone
            record = failed_record(item.name, str(e))
            manifest.add(**record)
            summary.count(record)
            finished += 1
            continue
        by_shape.setdefault(image.shape[:2], []).append((item, image))
    if progress:
        progress(finished, len(items))
    for shape in sorted(by_shape):
        group = by_shape[shape]
        for first in range(0, len(group), batch_size):
            batch = group[first:first + batch_size]
            start = time.perf_counter()
            outputs = np.asarray(apply_network(net, _resized([image for _, image in batch], size), style))
            seconds = (time.perf_counter() - start) / len(batch)
            for (item, _), result in zip(batch, outputs, strict=True):
                output = outdir / item.name
                output.parent.mkdir(parents=True, exist_ok=True)
                images.save_image(result, output)
                record = dict(input=item.name, status="done", output=str(output), seconds=round(seconds, 4))
                manifest.add(**record)
                summary.count(record)
            finished += len(batch)
            if progress:
                progress(finished, len(items))
    return summary
