"""Bulk jobs on a Ray cluster: a pool of actors, batches handed to whichever is free, failures survived.

The driver plans the job as a local one (`jobs.runner`: finished inputs skipped, unreadable ones
recorded, the rest grouped into same-shape batches) and starts one actor per accelerator, or one per
host's CPUs. Each actor loads the job's work (`jobs.runner.JobWork`) once, keeps its weights and compiled
programs for the whole job and runs it on each batch it is given (`drive_fleet`; `stylejax apply` uses it
too). For `stylejax batch` (`run_fleet`) that is `jobs.batch.run_batch`: the batch resumes from its orbax
checkpoint in OUTDIR/.checkpoints (shared storage) and its outputs are written atomically. Workers write
no manifest: the driver alone does, one line per outcome.

A worker whose process or node dies is restarted by Ray; its batch goes back to the front of the queue
and the next free worker continues it from its last checkpoint. A driver that dies is run again with the
same command and continues (the manifest and the outputs say what is done).

Only this module imports ray, and only when its functions are called.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import socket
import sys
import uuid
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from stylejax.config import StyleConfig
from stylejax.errors import StyleJaxError
from stylejax.io.images import ImageLike
from stylejax.jobs.batch import StylizeWork, check_job
from stylejax.jobs.checkpoints import remove_finished_checkpoints
from stylejax.jobs.fleet_workers import (
    MAX_RESTARTS,
    FleetBatch,
    FleetWorker,
    schedule_batches,
    start_workers,
    worker_options,
)
from stylejax.jobs.inputs import Buckets, Item, job_batches, plan_job
from stylejax.jobs.manifest import JobSummary, Manifest
from stylejax.jobs.runner import JobLedger, JobWork

NAMESPACE = "stylejax"
WORKER_PREFIX = "stylejax-worker"  # actor names: stylejax-worker-<driver pid>@<driver host>-<index>
DRIVER_LOCK = ".stylejax-driver.lock"  # held by the one driver of an output folder


def import_ray():
    """The ray module, or a StyleJaxError saying how to install it."""
    try:
        import ray
    except ImportError:
        raise StyleJaxError("a Ray fleet needs Ray: pip install 'stylejax[ray]' (on the cluster's nodes too)") from None
    return ray


def connect(address: str | None) -> bool:
    """Connects this process to a Ray cluster, unless it already is.

    Args:
      address: "auto" (the cluster this machine belongs to), "host:port" or "ray://host:port", or None
        to start a local Ray instance on this machine's CPUs and GPUs.

    Returns:
      Whether this call started Ray here (the caller then shuts it down).

    Raises:
      StyleJaxError: Ray is not installed, the address is malformed or nothing answers there.
    """
    ray = import_ray()
    if ray.is_initialized():
        return False
    if address not in (None, "auto"):
        _check_reachable(address)  # ray.init would retry an unreachable address for minutes
    options = dict(namespace=NAMESPACE, log_to_driver=False, logging_level=logging.ERROR)
    if address is None:
        options["include_dashboard"] = False
    try:
        ray.init(address=address, **options)
    except ConnectionError as e:
        raise StyleJaxError(f"`address` {address}: {e}") from None
    return True


def _check_reachable(address: str, timeout: float = 5.0) -> None:
    host, _, port = address.removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit():
        raise StyleJaxError(f"`address` takes auto, HOST:PORT or ray://HOST:PORT, got {address!r}")
    try:
        socket.create_connection((host, int(port)), timeout=timeout).close()
    except OSError as e:
        raise StyleJaxError(f"`address` {address}: no Ray cluster answers there ({e.strerror or e}); start one "
                            "with `ray start --head`, or give no address for a local one") from None

def _absolute(style: Sequence[ImageLike], config: StyleConfig) -> tuple[list[ImageLike], StyleConfig]:
    """Paths as workers see them: a Ray worker does not run in the driver's working directory."""
    style = [str(Path(s).absolute()) if isinstance(s, str | os.PathLike) else s for s in style]
    if config.init not in ("content", "noise"):
        config = config.replace(init=str(Path(config.init).absolute()))
    return style, config


def run_fleet(items: Sequence[Item], style: Sequence[ImageLike], outdir: Path, config: StyleConfig, *,
              address: str | None = None, workers: int | None = None, batch_size: int = 8,
              vmap_size: int | str | None = "auto", masks_dir: Path | None = None,
              progress: Callable[[int, int], None] | None = None,
              log: Callable[[str], None] = lambda line: print(line, file=sys.stderr)) -> JobSummary:
    """Stylizes `items` into `outdir` on a pool of Ray actors, resuming whatever an earlier run left.

    Args:
      items: every input of the job (see `jobs.collect_inputs`); paths must be readable from every node.
      style: style image path(s), readable from every node.
      outdir: shared storage every node writes outputs and checkpoints to; the driver writes the manifest.
      config: settings; `config.chunk_steps` is the checkpoint interval.
      address: see `connect`.
      workers: how many actors (default: one per GPU, or one per node when the cluster has no GPU).
      batch_size: images per batch on one worker.
      vmap_size: images per device in lockstep (see `stylize_batch`).
      masks_dir: region masks per input and style (see `jobs.run_job`), readable from every node.
      progress: called with (images finished, images total) as batches come back.
      log: where the memory check and worker failures are reported.

    Returns:
      A JobSummary; the manifest has every outcome.

    Raises:
      StyleJaxError: Ray missing or unreachable, bad options, a batch that cannot fit a worker's memory,
        or every worker lost for good (a batch whose loss diverges fails its images, not the job).
    """
    check_job(items, style, config, batch_size, vmap_size, masks_dir)
    style, config = _absolute(style, config)
    masks_dir = None if masks_dir is None else Path(masks_dir).absolute()
    work = StylizeWork(style, config, Path(outdir).absolute(), vmap_size, masks_dir)
    return drive_fleet(items, outdir, work, address=address, workers=workers, batch_size=batch_size,
                       progress=progress, log=log)


def drive_fleet(items: Sequence[Item], outdir: Path, work: JobWork, *,
                address: str | None = None, workers: int | None = None, batch_size: int = 8,
                progress: Callable[[int, int], None] | None = None,
                log: Callable[[str], None] = lambda line: print(line, file=sys.stderr)) -> JobSummary:
    """Runs a job's batches on a pool of Ray actors, each doing `work`; the manifest is written here alone.

    The job is planned as a local one (`jobs.plan_job` with the work's `bucket` and `min_side`), its
    batches handed to whichever worker is free, a lost worker's batch redone (see
    `fleet_workers.schedule_batches`).

    Args:
      items: every input of the job; paths must be readable from every node.
      outdir: shared storage every node writes outputs to.
      work: what a worker does with a batch (its paths absolute: workers run elsewhere).
      address, workers, batch_size, progress, log: see `run_fleet`.

    Returns:
      A JobSummary; the manifest has every outcome.

    Raises:
      StyleJaxError: as `run_fleet`.
    """
    if workers is not None and workers <= 0:
        raise StyleJaxError(f"`workers` must be positive, got {workers}")
    ray = import_ray()
    started = connect(address)  # before anything is written: a bad address leaves no trace
    try:
        items = [dataclasses.replace(item, source=item.source.absolute()) for item in items]
        outdir = Path(outdir).absolute()
        outdir.mkdir(parents=True, exist_ok=True)
        with _sole_driver(outdir):
            manifest = Manifest(outdir, process=0)  # the driver never starts JAX: its process number is 0
            summary, pending = plan_job(items, outdir, manifest, work.bucket, min_side=work.min_side)
            job = _FleetJob(outdir, work, JobLedger(manifest, summary, len(items), progress), log)
            return _drive_alone(ray, job, pending, workers=workers, batch_size=batch_size)
    finally:
        if started:
            ray.shutdown()


@contextlib.contextmanager
def _sole_driver(outdir: Path) -> Iterator[None]:
    """Refuses a second driver on the same output folder: two would run the same batches side by side."""
    import fcntl

    path = outdir / DRIVER_LOCK
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise StyleJaxError(f"{outdir}: another stylejax Ray driver is running on this folder: "
                                "wait for it to end, or stop it, then run again") from None
        except OSError:  # a filesystem without flock: nothing to guard with
            pass
        yield
        path.unlink(missing_ok=True)
    finally:
        os.close(fd)  # closing releases the lock (so does the kernel, if the driver is killed)


@dataclasses.dataclass
class _FleetJob:
    """A planned job as its one driver sees it: where it goes, what each worker does, where outcomes are
    recorded, where notes go."""

    outdir: Path
    work: JobWork
    ledger: JobLedger
    log: Callable[[str], None]

    def finished(self, batch: FleetBatch, records: list[dict]) -> None:
        """Records a batch's outcomes (one manifest line each) and reports the progress."""
        self.ledger.add(batch.items, records)


def _drive_alone(ray, job: _FleetJob, pending: Buckets, *, workers: int | None, batch_size: int) -> JobSummary:
    """Runs the job's `pending` batches ({shape: items}) on a pool of workers started here, killed at the end."""
    job.ledger.report()
    if not pending:
        remove_finished_checkpoints(job.outdir)
        return job.ledger.summary
    batches = [FleetBatch(shape, batch) for shape, batch in job_batches(pending, batch_size)]
    count, options = worker_options(ray, workers)
    count = count if workers else min(count, len(batches))
    actor = ray.remote(FleetWorker)
    options |= dict(max_restarts=MAX_RESTARTS, max_task_retries=0,  # the driver retries, on any free worker
                    max_concurrency=2,  # `info` answers while `run` works
                    scheduling_strategy="SPREAD")
    # One driver's workers, by name (the uuid: a reused pid while an old driver's workers linger).
    prefix = f"{WORKER_PREFIX}-{os.getpid()}@{socket.gethostname()}-{uuid.uuid4().hex[:8]}"
    pool = [actor.options(name=f"{prefix}-{i}", **options).remote(job.work) for i in range(count)]
    try:
        pool, lines = start_workers(ray, pool, {shape: len(items) for shape, items in pending.items()},
                                    batch_size, job.log)
        for line in lines:  # workers are alike: one worker's lines say it
            job.log(line)
        job.log(f"{len(batches)} batches on {len(pool)} Ray workers ({options.get('num_gpus', 0)} GPU, "
                f"{options['num_cpus']} CPU each)")
        schedule_batches(ray, pool, batches, job.finished, job.log)
    finally:
        for worker in pool:
            ray.kill(worker)
    remove_finished_checkpoints(job.outdir)
    return job.ledger.summary
