"""`stylejax transfer`'s job: photos through the one-pass transfer, resumably, as `stylejax apply` runs.

Outputs mirror the inputs' names in OUTDIR; an existing output is skipped (and recorded), an input that
cannot be decoded, or whose region masks cannot be read or do not fit it, fails alone (manifest line with
the reason) while the rest are done. The job's work (`TransferWork`) runs on the job runner
(`jobs.runner.run_local`) in the shape buckets of `network.transfer_inference`, whose programs are checked
against device memory before anything is written; on a Ray fleet (`run_transfer_fleet`) each worker loads
the encoder and decoders once and runs batches of one bucket, the driver alone writing the manifest. One
image (`transfer_image`) is a batch of one, memory-checked as a job's.
"""

from __future__ import annotations

import dataclasses
import os
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import numpy as np

from stylejax.autoencoder.settings import TransferSettings
from stylejax.config import check_batch_size
from stylejax.errors import StyleJaxError
from stylejax.io import images
from stylejax.io import masks as masks_io
from stylejax.io.images import ImageLike, style_list
from stylejax.jobs.fleet import drive_fleet
from stylejax.jobs.inputs import Item, load_batch
from stylejax.jobs.manifest import JobSummary
from stylejax.jobs.runner import run_local, save_outputs
from stylejax.network.decoder_files import read_decoders_json, shipped_decoders
from stylejax.network.transfer import OnePassTransfer, load_transfer
from stylejax.network.transfer_inference import (
    BucketedTransfer,
    check_transfer,
    transfer_bucket,
    transfer_min_side,
)

Log = Callable[[str], None]


def _stderr(line: str) -> None:
    print(line, file=sys.stderr)


def with_masks(photo: np.ndarray, masks: np.ndarray | None) -> np.ndarray:
    """(h, w, 3) photo and its (r, h, w) region masks -> (h, w, 3 + r), as `BucketedTransfer` takes them."""
    return photo if masks is None else np.concatenate([photo, np.moveaxis(masks, 0, -1)], axis=-1)


def run_transfer_batch(programs: BucketedTransfer, batch: Sequence[Item], outdir: Path,
                       style: Sequence[ImageLike] = (), masks_dir: Path | None = None) -> list[dict]:
    """Stylizes one batch and writes each output atomically; returns the manifest records (writes none).

    An input that cannot be decoded, or whose masks (under `masks_dir`, one folder per style of `style`)
    cannot be read or do not fit it, gets a "failed" record; the others "done".
    """
    start = time.perf_counter()
    records, loaded, masks = load_batch(batch, style, masks_dir)
    if not loaded:
        return records
    photos = [with_masks(image, masks[i] if masks else None) for i, (_, image) in enumerate(loaded)]
    outputs = programs(photos)
    return records + save_outputs(loaded, outputs, outdir, (time.perf_counter() - start) / len(loaded))


@dataclasses.dataclass
class TransferWork:
    """`stylejax transfer`'s work (`jobs.runner.JobWork`): `run_transfer_batch` through the transfer's
    bucketed programs, here or on a Ray worker.

    Attributes:
      decoders: the decoders folder a worker loads (None: the shipped ones, or `programs` is given).
      style: the paintings (paths, absolute for a fleet, or arrays); with `masks_dir`, paths.
      settings: the transfer's settings, its `levels` resolved (`TransferSettings.resolved_levels`).
      outdir: the output root.
      masks_dir: each input's region masks, one folder per style (`masks.batch_mask_paths`), or None.
      batch_size: photos of one bucket per forward pass at most.
      programs: the compiled programs, given or made by `load`.
    """

    decoders: str | None
    style: list[ImageLike]
    settings: TransferSettings
    outdir: Path
    masks_dir: Path | None = None
    batch_size: int = 8
    programs: BucketedTransfer | None = None

    @property
    def min_side(self) -> int:
        """The shortest side an input may have: 2 positions at the deepest level."""
        return transfer_min_side(self.settings.levels)

    def bucket(self, shape: tuple[int, int]) -> tuple[int, int]:
        """`transfer_bucket` of the output's shape: a fleet's driver plans without the decoders."""
        target = shape if self.settings.size is None else images.fit_size(shape, self.settings.size)
        return transfer_bucket(target, self.min_side)

    def load(self) -> None:
        """Loads the encoder and decoders and reads the paintings, unless the programs were given."""
        if self.programs is None:
            transfer = load_transfer(self.decoders, levels=self.settings.levels)
            # A worker's lines go nowhere here: check_memory says them where the job wants them.
            self.programs = transfer_programs(transfer, self.style, self.settings, self.masks_dir is not None,
                                              self.batch_size, log=lambda line: None)

    def check_memory(self, counts: Mapping[tuple[int, int], int], batch_size: int, log: Log) -> None:
        """`BucketedTransfer.check` of every bucket on this device, saying what it decides in `log`."""
        quiet, self.programs.log = self.programs.log, log
        try:
            self.programs.check(counts)
        finally:
            self.programs.log = quiet

    def run(self, shape: tuple[int, int], batch: list[Item]) -> list[dict]:
        """`run_transfer_batch`: one record per input."""
        return run_transfer_batch(self.programs, batch, self.outdir, self.style, self.masks_dir)


def transfer_programs(transfer: OnePassTransfer, style: Sequence[ImageLike], settings: TransferSettings,
                      regions: bool, batch_size: int, log: Log = _stderr) -> BucketedTransfer:
    """The job's programs: the paintings read, one region per painting when `regions`.

    Raises:
      StyleJaxError: an unreadable painting, or settings these paintings or decoders refuse.
    """
    styles = tuple(style_list(list(style)))
    return BucketedTransfer(transfer, styles, settings, len(styles) if regions else 0, batch_size=batch_size,
                            log=log)


def check_transfer_job(items: Sequence[Item], style: Sequence[ImageLike], settings: TransferSettings,
                       batch_size: int, masks_dir: Path | None) -> None:
    """Raises StyleJaxError, before anything is written, for what a job (local or a fleet) cannot run:
    a batch size that is not positive, masks with a style blend, an input without its masks."""
    check_batch_size(batch_size)
    if masks_dir is not None:
        if settings.style_blend is not None:
            raise StyleJaxError("`style_blend` mixes the styles everywhere and `masks_dir` gives each region its "
                                "own: give one or the other")
        for item in items:
            masks_io.batch_mask_paths(masks_dir, style, item.name)


def run_transfer_job(items: Sequence[Item], transfer: OnePassTransfer, style: Sequence[ImageLike], outdir: Path, *,
                     settings: TransferSettings | None = None, masks_dir: Path | None = None, batch_size: int = 8,
                     progress: Callable[[int, int], None] | None = None, log: Log = _stderr) -> JobSummary:
    """Stylizes `items` into `outdir` with `style`, skipping outputs that exist (`jobs.runner.run_local`).

    Args:
      items: the inputs (`jobs.inputs.collect_inputs`).
      transfer: the encoder and decoders (`load_transfer`).
      style: the paintings (paths or arrays; paths with `masks_dir`).
      outdir: the output root; OUTDIR/manifest.jsonl gets one line per input per outcome.
      settings: the transfer's settings (default `TransferSettings()`); `size` None: each input's own size,
        shrunk where one image would not fit.
      masks_dir: each input's region masks, one folder per style named by its file's stem
        (`masks.batch_mask_paths`): style i goes where its mask is white.
      batch_size: photos of one bucket per forward pass at most (fewer where memory is short).
      progress: called with (images finished, images total).
      log: where the memory check's lines go.

    Returns:
      A JobSummary; failures are in the manifest too.

    Raises:
      StyleJaxError: bad settings for these decoders or paintings, a batch size that is not positive, a
        missing mask, or a `size` whose one image does not fit a device; nothing is written then.
    """
    settings = resolved(settings or TransferSettings(), transfer.levels)
    check_transfer_job(items, style, settings, batch_size, masks_dir)
    programs = transfer_programs(transfer, style, settings, masks_dir is not None, batch_size, log)
    work = TransferWork(decoders=None, style=list(style), settings=settings, outdir=outdir, masks_dir=masks_dir,
                        batch_size=batch_size, programs=programs)
    return run_local(items, outdir, work, batch_size=batch_size, progress=progress, log=log)


def transfer_image(transfer: OnePassTransfer, content: np.ndarray, style: Sequence[ImageLike], *,
                   settings: TransferSettings | None = None, masks: Sequence[ImageLike] | None = None,
                   log: Log = _stderr) -> np.ndarray:
    """One photo (h, w, 3) stylized at long side `settings.size` (None: its own, or what fits): a batch of
    one, memory-checked as a job's.

    Args:
      transfer: the encoder and decoders.
      content: (h, w, 3) float32 in [0, 1].
      style: the paintings.
      settings: the transfer's settings (default `TransferSettings()`).
      masks: one region mask per painting (paths or arrays of the photo's aspect ratio), or None.
      log: where the memory check's lines go.

    Returns:
      (h', w', 3) float32 in [0, 1].

    Raises:
      StyleJaxError: bad settings, paintings or masks, or a photo too small for the deepest level.
    """
    settings = resolved(settings or TransferSettings(), transfer.levels)
    programs = transfer_programs(transfer, style, settings, masks is not None, 1, log)
    regions = None if masks is None else masks_io.region_masks(masks, len(programs.styles), content.shape[:2])
    h, w = target = programs.target(content.shape[:2])
    if min(target) < programs.cascade.min_side:
        raise StyleJaxError(f"`content` is {w}x{h} px: {programs.cascade.levels[0]} needs a short side of at least "
                            f"{programs.cascade.min_side} px (2 feature positions): use a larger image or `size`")
    return programs([with_masks(content, regions)])[0]


def resolved(settings: TransferSettings, available: Sequence[str]) -> TransferSettings:
    """`settings` with the levels it runs among the decoders' `available` ones (raises StyleJaxError as
    `TransferSettings.resolved_levels`)."""
    return dataclasses.replace(settings, levels=settings.resolved_levels(available))


def run_transfer_fleet(items: Sequence[Item], decoders: str | os.PathLike | None, style: Sequence[str | os.PathLike],
                       outdir: Path, *, settings: TransferSettings | None = None, masks_dir: Path | None = None,
                       batch_size: int = 8, address: str | None = None, workers: int | None = None,
                       progress: Callable[[int, int], None] | None = None, log: Log = _stderr) -> JobSummary:
    """`run_transfer_job` on a pool of Ray actors (`jobs.fleet.drive_fleet`): a lost worker's batch is redone.

    Args:
      items: every input; paths readable from every node.
      decoders: the decoders folder, readable from every node (None: each worker's shipped decoders).
      style: the paintings' paths, readable from every node.
      outdir: shared storage; the driver alone writes the manifest.
      settings, masks_dir, batch_size, progress, log: see `run_transfer_job`.
      address, workers: see `jobs.fleet.run_fleet`.

    Returns:
      A JobSummary; the manifest has every outcome.

    Raises:
      StyleJaxError: as `run_transfer_job` (the driver reads decoders.json, not the decoders: a worker
        that cannot load them, or refuses a bucket's memory, stops the job), Ray missing or unreachable.
    """
    folder = Path(decoders).absolute() if decoders is not None else None
    levels = read_decoders_json(folder if folder is not None else shipped_decoders())["levels"]
    settings = resolved(settings or TransferSettings(), tuple(levels))
    style = [str(Path(s).absolute()) for s in style]  # a Ray worker does not run in the driver's folder
    masks_dir = None if masks_dir is None else Path(masks_dir).absolute()
    check_transfer_job(items, style, settings, batch_size, masks_dir)
    check_transfer(settings, settings.levels, len(style), len(style) if masks_dir is not None else 0)
    work = TransferWork(decoders=None if folder is None else str(folder), style=style, settings=settings,
                        outdir=Path(outdir).absolute(), masks_dir=masks_dir, batch_size=batch_size)
    return drive_fleet(items, outdir, work, address=address, workers=workers, batch_size=batch_size,
                       progress=progress, log=log)
