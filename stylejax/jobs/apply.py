"""`stylejax apply`'s job: images through a trained style network, resumably, as `stylejax batch` runs.

Outputs mirror the inputs' names in OUTDIR; an existing output is skipped (and recorded), an input that
cannot be decoded fails alone (manifest line with the reason) while the rest are done. The job's work
(`ApplyWork`) runs on the job runner as a batch job's (`jobs.runner.run_local`), in the shape buckets of
`network.inference`, whose programs are checked against device memory before anything is written; on a
Ray fleet (`run_apply_fleet`) each worker loads the network once and runs batches of one bucket, the
driver alone writing the manifest. The forward pass runs on JAX or on onnxruntime (`runtime`,
`network.inference.bucketed_network`): the job is the same.
"""

from __future__ import annotations

import dataclasses
import os
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import ClassVar

import jax
import numpy as np

from stylejax.jobs.fleet import drive_fleet
from stylejax.jobs.inputs import Item, load_batch
from stylejax.jobs.manifest import JobSummary
from stylejax.jobs.runner import run_local, save_outputs
from stylejax.network.function import StyleNetworkFunction, load_network
from stylejax.network.inference import bucketed_network, check_apply, check_runtime
from stylejax.nn.style_network import NETWORK_MIN_SIDE
from stylejax.runtime.bucket_programs import BucketedPrograms
from stylejax.runtime.buckets import planned_bucket


def run_apply_batch(network: BucketedPrograms, batch: Sequence[Item], outdir: Path) -> list[dict]:
    """Stylizes one batch and writes each output atomically; returns the manifest records (writes none).

    An input that cannot be decoded gets a "failed" record; the others "done".
    """
    start = time.perf_counter()
    records, loaded, _ = load_batch(batch, (), None)
    if not loaded:
        return records
    outputs = network([image for _, image in loaded])
    return records + save_outputs(loaded, outputs, outdir, (time.perf_counter() - start) / len(loaded))


def run_apply_job(items: Sequence[Item], net: StyleNetworkFunction, outdir: Path, *, size: int | None = None,
                  style: jax.Array | None = None, batch_size: int = 8, runtime: str = "jax",
                  progress: Callable[[int, int], None] | None = None,
                  log: Callable[[str], None] = lambda line: print(line, file=sys.stderr)) -> JobSummary:
    """Stylizes `items` into `outdir` through `net`, skipping outputs that exist (`jobs.runner.run_local`).

    Args:
      items: the inputs (`jobs.inputs.collect_inputs`).
      net: a loaded network (`load_network`).
      outdir: the output root; OUTDIR/manifest.jsonl gets one line per input per outcome.
      size: the outputs' long side (None: each input's own, shrunk where one image would not fit).
      style: (num_styles,) weights (None: style 0).
      batch_size: images of one bucket per forward pass at most (fewer where memory is short).
      runtime: "jax", or "onnx" (onnxruntime's CPU provider, `network.onnx_forward`).
      progress: called with (images finished, images total).
      log: where the memory check's lines go.

    Returns:
      A JobSummary; failures are in the manifest too.

    Raises:
      StyleJaxError: a batch size that is not positive, an unknown runtime or "onnx" without its packages, or
        a `size` whose one image does not fit a device (the host's memory for "onnx"); nothing is written then.
    """
    network = _bucketed(net, size, style, batch_size, runtime, log)
    work = ApplyWork(model=None, style=None, outdir=outdir, size=size, batch_size=batch_size, network=network)
    return run_local(items, outdir, work, batch_size=batch_size, progress=progress, log=log)


def _bucketed(net: StyleNetworkFunction, size: int | None, style: jax.Array | None, batch_size: int, runtime: str,
              log: Callable[[str], None]) -> BucketedPrograms:
    style = net.style_weights(None) if style is None else style
    return bucketed_network(net, style, runtime=runtime, size=size, batch_size=batch_size, log=log)


def apply_to_image(net: StyleNetworkFunction, image: np.ndarray, size: int | None, style: jax.Array, *,
                   runtime: str = "jax",
                   log: Callable[[str], None] = lambda line: print(line, file=sys.stderr)) -> np.ndarray:
    """One image (h, w, 3) through the network at long side `size` (None: its own, or what fits) on `runtime`
    ("jax" or "onnx"): a batch of one, memory-checked as a job's."""
    return _bucketed(net, size, style, 1, runtime, log)([image])[0]


@dataclasses.dataclass
class ApplyWork:
    """`stylejax apply`'s work (`jobs.runner.JobWork`): `run_apply_batch` through the network's bucketed
    programs, here or on a Ray worker.

    Attributes:
      model: the model folder a worker loads the network from (None: `network` is given).
      style: (num_styles,) style weights (None: `network` is given).
      outdir: the output root.
      size, batch_size, runtime: see `run_apply_job`.
      network: the network's forward pass, given or made by `load`.
    """

    model: str | None
    style: list[float] | None
    outdir: Path
    size: int | None = None
    batch_size: int = 8
    runtime: str = "jax"
    network: BucketedPrograms | None = None
    min_side: ClassVar[int] = NETWORK_MIN_SIDE

    def bucket(self, shape: tuple[int, int]) -> tuple[int, int]:
        """`planned_bucket` at the job's size: a fleet's driver plans without the network."""
        return planned_bucket(shape, self.size)

    def load(self) -> None:
        """Loads the network, unless it was given."""
        if self.network is None:
            net = load_network(self.model)
            # A worker's lines go nowhere here: check_memory says them where the job wants them.
            self.network = bucketed_network(net, net.style_weights(self.style), runtime=self.runtime, size=self.size,
                                            batch_size=self.batch_size, log=lambda line: None)

    def check_memory(self, counts: Mapping[tuple[int, int], int], batch_size: int,
                     log: Callable[[str], None]) -> None:
        """`BucketedPrograms.check` of every bucket on this device, saying what it decides in `log`."""
        quiet, self.network.log = self.network.log, log
        try:
            self.network.check(counts)
        finally:
            self.network.log = quiet

    def run(self, shape: tuple[int, int], batch: list[Item]) -> list[dict]:
        """`run_apply_batch`: one record per input."""
        return run_apply_batch(self.network, batch, self.outdir)


def run_apply_fleet(items: Sequence[Item], model: str | os.PathLike, outdir: Path, *, size: int | None = None,
                    style: jax.Array | Sequence[float], batch_size: int = 8, runtime: str = "jax",
                    address: str | None = None, workers: int | None = None,
                    progress: Callable[[int, int], None] | None = None,
                    log: Callable[[str], None] = lambda line: print(line, file=sys.stderr)) -> JobSummary:
    """`run_apply_job` on a pool of Ray actors (`jobs.fleet.drive_fleet`): a lost worker's batch is redone.

    Args:
      items: every input; paths readable from every node.
      model: the model folder, readable from every node.
      outdir: shared storage; the driver alone writes the manifest.
      size, batch_size, runtime, progress, log: see `run_apply_job` (each worker converts an ONNX network once).
      style: (num_styles,) style weights.
      address, workers: see `jobs.fleet.run_fleet`.

    Returns:
      A JobSummary; the manifest has every outcome.
    """
    check_apply(size, batch_size)  # before anything is written: the driver builds no network
    check_runtime(runtime)
    work = ApplyWork(str(Path(model).absolute()), [float(w) for w in np.asarray(style)], Path(outdir).absolute(),
                     size, batch_size, runtime)
    return drive_fleet(items, outdir, work, address=address, workers=workers, batch_size=batch_size,
                       progress=progress, log=log)
