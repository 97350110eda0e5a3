"""Bulk jobs on a Ray cluster: a pool of actors, batches handed to whichever is free, failures survived.

The driver plans the job as `jobs.run_job` does (finished inputs skipped, unreadable ones recorded,
the rest grouped into same-shape batches) and starts one actor per accelerator, or one per host's CPUs.
Each actor keeps its weights, style targets and compiled programs for the whole job and runs
`jobs.run_batch`: the batch resumes from its orbax checkpoint in OUTDIR/.checkpoints (shared storage)
and its outputs are written atomically. Workers write no manifest: the driver alone does, one line per
outcome.

A worker whose process or node dies is restarted by Ray; its batch goes back to the front of the queue
and the next free worker continues it from its last checkpoint. A driver that dies is run again with the
same command and continues (the manifest and the outputs say what is done).

Only this module imports ray, and only when its functions are called.
"""

from __future__ import annotations

import collections
import dataclasses
import logging
import math
import os
import socket
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from .batch_schedule import ScheduledSolver
from .config import StyleConfig
from .engine import ImageLike
from .errors import StyleJaxError
from .jobs import (
    Item,
    JobSummary,
    Manifest,
    check_batch_options,
    check_masks,
    check_memory,
    job_batches,
    job_solver,
    plan_job,
    remove_checkpoint_folder,
    run_batch,
)

NAMESPACE = "stylejax"
WORKER_PREFIX = "stylejax-worker"  # actor names: stylejax-worker-<driver pid>@<driver host>-<index>
MAX_RESTARTS = 3  # Ray restarts a dead worker this many times, then it leaves the pool
MAX_ATTEMPTS = 3  # a batch whose worker dies this many times is recorded as failed (e.g. out of memory)


def import_ray():
    """The ray module, or a StyleJaxError saying how to install it."""
    try:
        import ray
    except ImportError:
        raise StyleJaxError("--ray needs Ray: pip install 'stylejax[ray]' (on the cluster's nodes too)") from None
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
        raise StyleJaxError(f"--ray {address}: {e}") from None
    return True


def _check_reachable(address: str, timeout: float = 5.0) -> None:
    host, _, port = address.removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit():
        raise StyleJaxError(f"--ray takes auto, HOST:PORT or ray://HOST:PORT, got {address!r}")
    try:
        socket.create_connection((host, int(port)), timeout=timeout).close()
    except OSError as e:
        raise StyleJaxError(f"--ray {address}: no Ray cluster answers there ({e.strerror or e}); start one with "
                            "`ray start --head`, or give --ray without an address for a local one") from None


class FleetWorker:
    """One worker's state for a whole job: the solver (weights, style targets, compiled programs).

    Plain Python: `run_fleet` makes it a Ray actor, so this module needs no ray at import.
    """

    def __init__(self, style: Sequence[ImageLike], config: StyleConfig, outdir: Path,
                 vmap_size: int | str | None, masks_dir: Path | None = None):
        self.style, self.outdir, self.masks_dir = list(style), Path(outdir), masks_dir
        self.solver = job_solver(self.style, config, None, vmap_size, masks_dir)
        self.batch: list[str] | None = None

    def info(self) -> dict:
        """{"pid", "host", "batch": the input names in progress or None} (answers while a batch runs)."""
        return {"pid": os.getpid(), "host": socket.gethostname(), "batch": self.batch}

    def check_memory(self, shapes: list[tuple[int, int]], batch_size: int) -> tuple[list[str], str | None]:
        """`jobs.check_memory` on this worker's devices: (the lines it said, the refusal or None)."""
        lines: list[str] = []
        try:
            check_memory(self.solver.final, shapes, batch_size, lines.append)
        except StyleJaxError as e:
            return lines, str(e)
        return lines, None

    def run(self, shape: tuple[int, int], batch: list[Item]) -> tuple[list[dict], str | None]:
        """`jobs.run_batch`: (manifest records, or a usage error such as a diverging loss for the driver)."""
        self.batch = [item.name for item in batch]
        try:
            return run_batch(self.solver, batch, shape, self.style, self.outdir, self.masks_dir), None
        except StyleJaxError as e:  # returned, not raised: it names the user's mistake, not a worker's fault
            return [], str(e)
        finally:
            self.batch = None


def _share(total: float, count: int) -> float:
    """Each of `count` workers' part of a resource: whole units when there are enough (Ray's rule)."""
    part = total / count
    return math.floor(part) if part >= 1 else math.floor(part * 1e4) / 1e4


def worker_options(ray, workers: int | None) -> tuple[int, dict]:
    """(how many workers, their actor options): one per GPU, or else one per node's CPUs by default."""
    resources = ray.cluster_resources()
    env = _compile_cache_env()
    if resources.get("GPU"):
        count = workers or int(resources["GPU"])
        return count, dict(num_gpus=_share(resources["GPU"], count), num_cpus=1, runtime_env={"env_vars": env})
    cpus = [node["Resources"]["CPU"] for node in ray.nodes() if node["Alive"] and node["Resources"].get("CPU")]
    count = workers or max(1, len(cpus))
    # No more CPUs than the largest node has, or the actor could never be placed.
    share = min(_share(resources.get("CPU", count), count), math.floor(max(cpus, default=1)))
    # JAX_PLATFORMS: a CPU worker need not probe for accelerators (and must not grab a GPU it was not given).
    return count, dict(num_cpus=share, runtime_env={"env_vars": env | {"JAX_PLATFORMS": "cpu"}})


def _compile_cache_env() -> dict[str, str]:
    """The driver's persistent compilation cache for its workers (a shared or same-path folder on each node):
    a retried batch, a restarted worker and the next job load their programs instead of compiling."""
    import jax

    folder = jax.config.jax_compilation_cache_dir
    if not jax.config.jax_enable_compilation_cache or not folder:
        return {}
    return {"JAX_COMPILATION_CACHE_DIR": folder, "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS": "0"}


@dataclasses.dataclass
class _Batch:
    shape: tuple[int, int]
    items: list[Item]
    attempts: int = 0
    died_on: set[int] = dataclasses.field(default_factory=set)  # workers that died running it


def _next_batch(queue: collections.deque, worker: int) -> _Batch:
    """The first queued batch that did not die on `worker` (a retry goes elsewhere), else the first."""
    for i, batch in enumerate(queue):
        if worker not in batch.died_on:
            del queue[i]
            return batch
    return queue.popleft()


def _schedule(ray, pool: list, batches: list[_Batch], finished: Callable[[_Batch, list[dict]], None],
              log: Callable[[str], None]) -> None:
    """Keeps every live worker busy with the next batch until none is left; retries a dead worker's batch."""
    queue, free = collections.deque(batches), collections.deque(range(len(pool)))
    running: dict = {}  # ObjectRef -> (worker index, batch)
    deaths = [0] * len(pool)
    while queue or running:
        while queue and free:
            worker = free.popleft()
            batch = _next_batch(queue, worker)
            running[pool[worker].run.remote(batch.shape, batch.items)] = (worker, batch)
        if not running:
            raise StyleJaxError(f"every Ray worker died more than {MAX_RESTARTS} times: see `ray status` "
                                "and the workers' logs; run the same command again to continue")
        [ref], _ = ray.wait(list(running), num_returns=1)
        worker, batch = running.pop(ref)
        try:
            records, error = ray.get(ref)
        except ray.exceptions.RayActorError as e:
            deaths[worker] += 1
            if deaths[worker] <= MAX_RESTARTS:
                free.append(worker)  # Ray restarts it; calls wait until it is back
            batch.attempts += 1
            batch.died_on.add(worker)
            if batch.attempts >= MAX_ATTEMPTS:
                reason = (f"a worker died {batch.attempts} times running its batch ({type(e).__name__}): "
                          "out of memory? try a smaller --batch-size or --size")
                log(f"giving up on a batch of {len(batch.items)}: {reason}")
                finished(batch, [dict(input=item.name, status="failed", error=reason) for item in batch.items])
            else:
                log(f"a worker died running a batch of {len(batch.items)} ({type(e).__name__}); "
                    "the next free worker (another one, if there is one) continues it from its last checkpoint")
                queue.appendleft(batch)  # first in line: its checkpoint is the freshest work
            continue
        if error is not None:
            raise StyleJaxError(error)
        free.append(worker)
        finished(batch, records)


def _absolute(items: Sequence[Item], style: Sequence[ImageLike], config: StyleConfig
              ) -> tuple[list[Item], list[ImageLike], StyleConfig]:
    """Paths as workers see them: a Ray worker does not run in the driver's working directory."""
    items = [dataclasses.replace(item, source=item.source.absolute()) for item in items]
    style = [str(Path(s).absolute()) if isinstance(s, str | os.PathLike) else s for s in style]
    if config.init not in ("content", "noise"):
        config = config.replace(init=str(Path(config.init).absolute()))
    return items, style, config


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
        a diverging loss, or every worker lost for good.
    """
    check_batch_options(batch_size, vmap_size)
    ScheduledSolver.check(config)
    check_masks(items, style, masks_dir)
    if workers is not None and workers <= 0:
        raise StyleJaxError(f"--workers must be positive, got {workers}")
    ray = import_ray()
    started = connect(address)  # before anything is written: a bad address leaves no trace
    try:
        return _drive(ray, items, style, Path(outdir).absolute(), config, workers, batch_size, vmap_size,
                      None if masks_dir is None else Path(masks_dir).absolute(), progress, log)
    finally:
        if started:
            ray.shutdown()


def _drive(ray, items, style, outdir, config, workers, batch_size, vmap_size, masks_dir, progress, log
           ) -> JobSummary:
    items, style, config = _absolute(items, style, config)
    outdir.mkdir(parents=True, exist_ok=True)
    manifest = Manifest(outdir, process=0)  # the driver never starts JAX: its process number is 0
    summary, pending = plan_job(items, outdir, config, manifest)
    done = [summary.skipped + len(summary.failed)]
    if progress:
        progress(done[0], len(items))
    if not pending:
        return summary
    batches = [_Batch(shape, batch) for shape, batch in job_batches(pending, batch_size)]
    count, options = worker_options(ray, workers)
    count = count if workers else min(count, len(batches))
    actor = ray.remote(FleetWorker)
    options |= dict(max_restarts=MAX_RESTARTS, max_task_retries=0,  # the driver retries, on any free worker
                    max_concurrency=2,  # `info` answers while `run` works
                    scheduling_strategy="SPREAD")
    prefix = f"{WORKER_PREFIX}-{os.getpid()}@{socket.gethostname()}"  # one driver's workers, by name
    pool = [actor.options(name=f"{prefix}-{i}", **options).remote(style, config, outdir, vmap_size, masks_dir)
            for i in range(count)]
    try:
        checks = ray.get([w.check_memory.remote(sorted(pending), batch_size) for w in pool])
        refusals = [refusal for _, refusal in checks if refusal]
        if refusals:
            raise StyleJaxError(refusals[0])
        for line in checks[0][0]:  # workers are alike: one worker's lines say it
            log(line)
        log(f"{len(batches)} batches on {count} Ray workers ({options.get('num_gpus', 0)} GPU, "
            f"{options['num_cpus']} CPU each)")

        def finished(batch: _Batch, records: list[dict]) -> None:
            for record in records:
                manifest.add(**record)
                summary.count(record)
            done[0] += len(batch.items)
            if progress:
                progress(done[0], len(items))

        _schedule(ray, pool, batches, finished, log)
    finally:
        for worker in pool:
            ray.kill(worker)
    remove_checkpoint_folder(outdir)
    return summary
