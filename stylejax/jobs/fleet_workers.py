"""The workers of a Ray fleet: what each actor holds, what it asks of the cluster, and the scheduling.

Plain Python with `ray` passed in: `fleet.drive_fleet` makes `FleetWorker` a Ray actor, so nothing here
imports ray. A free worker takes the next batch; a worker that dies is given no batch until Ray has
restarted it and it answers; a batch whose worker died goes back to the front of the queue and
continues from its checkpoint on the next free worker (another one where possible). What a worker
does with a batch is the job's `jobs.runner.JobWork`, as on one host: `jobs.batch.StylizeWork` for
`stylejax batch`, `jobs.apply.ApplyWork` for `stylejax apply`.
"""

from __future__ import annotations

import collections
import dataclasses
import math
import os
import socket
import time
from collections.abc import Callable, Mapping

from stylejax.errors import StyleJaxError
from stylejax.jobs.inputs import Item
from stylejax.jobs.manifest import failed_record
from stylejax.jobs.runner import JobWork
from stylejax.nn.weights import weights_dir

MAX_RESTARTS = 3  # Ray restarts a dead worker this many times, then it leaves the pool
MAX_ATTEMPTS = 3  # a batch whose worker dies this many times is recorded as failed (e.g. out of host memory)
START_TIMEOUT = 600.0  # s for a worker to be placed, start, load its weights and check memory
RESTART_TIMEOUT = 600.0  # s for a dead worker to be restarted by Ray before it leaves the pool
PING_INTERVAL = 5.0  # s between looks at workers being restarted


class FleetWorker:
    """One worker's state for a whole job: its `JobWork`, loaded once.

    Plain Python: `drive_fleet` makes it a Ray actor, so this module needs no ray at import.
    """

    def __init__(self, work: JobWork):
        self.work = work
        self.batch: list[str] | None = None
        self.error: str | None = None  # why this worker cannot work (weights or a style unreadable on its node)
        try:
            work.load()
        except StyleJaxError as e:
            self.error = f"{socket.gethostname()}: {e}"

    def info(self) -> dict:
        """{"pid", "host", "batch": the input names in progress or None} (answers while a batch runs)."""
        return {"pid": os.getpid(), "host": socket.gethostname(), "batch": self.batch}

    def check_memory(self, counts: Mapping[tuple[int, int], int], batch_size: int) -> tuple[list[str], str | None]:
        """The work's memory check on this worker's devices ({bucket: pending inputs there}): (the lines it
        said, the refusal or None)."""
        lines: list[str] = []
        if self.error is not None:
            return lines, self.error
        try:
            self.work.check_memory(counts, batch_size, lines.append)
        except StyleJaxError as e:
            return lines, str(e)
        return lines, None

    def run(self, shape: tuple[int, int], batch: list[Item]) -> tuple[list[dict], str | None]:
        """The work's `run`: (manifest records, or a usage error for the driver to stop the job with).

        A diverging loss is no usage error: `run_batch` records the batch's images as failed.
        """
        self.batch = [item.name for item in batch]
        try:
            return self.work.run(shape, batch), None
        except StyleJaxError as e:  # returned, not raised: it names the user's mistake, not a worker's fault
            return [], str(e)
        except Exception as e:  # noqa: BLE001  out of device memory, a full disk: the batch fails, the worker lives
            reason = f"{type(e).__name__}: {str(e).strip() or 'no message'}"
            return [failed_record(item.name, reason) for item in batch], None
        finally:
            self.batch = None


def _share(total: float, count: int) -> float:
    """Each of `count` workers' part of a resource: whole units when there are enough (Ray's rule)."""
    part = total / count
    return math.floor(part) if part >= 1 else math.floor(part * 1e4) / 1e4


def worker_options(ray, workers: int | None) -> tuple[int, dict]:
    """(how many workers, their actor options): one per GPU, or else one per node's CPUs by default."""
    resources = ray.cluster_resources()
    env = _worker_env()
    if resources.get("GPU"):
        gpus = int(resources["GPU"])
        count = workers or gpus
        largest = max((int(node["Resources"].get("GPU", 0)) for node in ray.nodes() if node["Alive"]), default=1)
        # Ray places a fraction on one GPU and whole GPUs on one node: 1/k of a GPU, or at most a node's GPUs.
        share = 1 / math.ceil(count / gpus) if count > gpus else min(gpus // count, max(1, largest))
        if share < 1:  # JAX takes 75% of a GPU by default: workers sharing one would run out
            env |= {"XLA_PYTHON_CLIENT_MEM_FRACTION": f"{0.9 * share:.3f}"}
        return count, dict(num_gpus=share, num_cpus=1, runtime_env={"env_vars": env})
    cpus = [node["Resources"]["CPU"] for node in ray.nodes() if node["Alive"] and node["Resources"].get("CPU")]
    count = workers or max(1, len(cpus))
    # No more CPUs than the largest node has, or the actor could never be placed.
    share = min(_share(resources.get("CPU", count), count), math.floor(max(cpus, default=1)))
    # JAX_PLATFORMS: a CPU worker need not probe for accelerators (and must not grab a GPU it was not given).
    return count, dict(num_cpus=share, runtime_env={"env_vars": env | {"JAX_PLATFORMS": "cpu"}})


def _worker_env() -> dict[str, str]:
    """What workers need from the driver's environment (a worker starts in its raylet's, not the driver's).

    The weights cache folder (the same path on every node: shared, or ported on each), and the driver's
    persistent compilation cache, so a retried batch, a restarted worker and the next job load their
    programs instead of compiling.
    """
    import jax

    env = {"STYLEJAX_WEIGHTS_DIR": str(weights_dir())}
    folder = jax.config.jax_compilation_cache_dir
    if jax.config.jax_enable_compilation_cache and folder:
        env |= {"JAX_COMPILATION_CACHE_DIR": folder, "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS": "0"}
    return env


@dataclasses.dataclass
class FleetBatch:
    shape: tuple[int, int]
    items: list[Item]
    attempts: int = 0
    died_on: set[int] = dataclasses.field(default_factory=set)  # workers that died running it


def _next_batch(queue: collections.deque, worker: int) -> FleetBatch:
    """The first queued batch that did not die on `worker` (a retry goes elsewhere), else the first."""
    for i, batch in enumerate(queue):
        if worker not in batch.died_on:
            del queue[i]
            return batch
    return queue.popleft()


def schedule_batches(ray, pool: list, batches: list[FleetBatch], finished: Callable[[FleetBatch, list[dict]], None],
              log: Callable[[str], None]) -> None:
    """Keeps every live worker busy with the next batch until none is left; retries a dead worker's batch.

    A worker that died is given no batch until Ray has restarted it and it answers a ping (a call to an
    actor that is restarting fails at once); one that dies more than MAX_RESTARTS times, or does not come
    back within RESTART_TIMEOUT, leaves the pool.
    """
    queue, free = collections.deque(batches), collections.deque(range(len(pool)))
    running: dict = {}  # ObjectRef -> (worker index, batch)
    pinging: dict = {}  # ObjectRef -> (worker index, when it died)
    deaths = [0] * len(pool)
    while queue or running:
        while queue and free:
            worker = free.popleft()
            batch = _next_batch(queue, worker)
            running[pool[worker].run.remote(batch.shape, batch.items)] = (worker, batch)
        if not running and not pinging:
            raise StyleJaxError(f"every Ray worker died more than {MAX_RESTARTS} times or did not come back: see "
                                "`ray status` and the workers' logs; run the same command again to continue")
        ready, _ = ray.wait(list(running) + list(pinging), num_returns=1, timeout=PING_INTERVAL)
        for ref, (_, died) in list(pinging.items()):
            if ref not in ready and time.monotonic() - died > RESTART_TIMEOUT:
                del pinging[ref]
                log(f"a Ray worker did not come back within {RESTART_TIMEOUT:.0f} s: going on without it")
        if not ready:
            continue
        [ref] = ready
        if ref in pinging:
            worker, died = pinging.pop(ref)
            try:
                ray.get(ref)
                free.append(worker)  # restarted and answering
            except ray.exceptions.ActorDiedError:
                log("a Ray worker died for good: going on without it")
            except ray.exceptions.RayActorError:  # still restarting
                time.sleep(PING_INTERVAL / 10)
                pinging[pool[worker].info.remote()] = (worker, died)
            continue
        worker, batch = running.pop(ref)
        try:
            records, error = ray.get(ref)
        except ray.exceptions.RayActorError as e:
            deaths[worker] += 1
            if deaths[worker] <= MAX_RESTARTS:
                pinging[pool[worker].info.remote()] = (worker, time.monotonic())
            batch.attempts += 1
            batch.died_on.add(worker)
            if batch.attempts >= MAX_ATTEMPTS:
                reason = f"a worker died {batch.attempts} times running its batch ({type(e).__name__})"
                log(f"giving up on a batch of {len(batch.items)}: {reason}")
                finished(batch, [failed_record(item.name, reason) for item in batch.items])
            else:
                log(f"a worker died running a batch of {len(batch.items)} ({type(e).__name__}); "
                    "the next free worker (another one, if there is one) continues it from its last checkpoint")
                queue.appendleft(batch)  # first in line: its checkpoint is the freshest work
            continue
        if error is not None:
            raise StyleJaxError(error)
        free.append(worker)
        finished(batch, records)


def start_workers(ray, pool: list, counts: Mapping[tuple[int, int], int], batch_size: int,
                  log: Callable[[str], None]) -> tuple[list, list[str]]:
    """The workers that started and passed the memory check within START_TIMEOUT, and the check's lines.

    A worker the cluster cannot place (no node has its resources) is killed and the job goes on without
    it; a worker that could not start, or whose batch cannot fit, stops the job in one line.
    """
    checks = {w.check_memory.remote(dict(counts), batch_size): w for w in pool}
    ready, late = ray.wait(list(checks), num_returns=len(checks), timeout=START_TIMEOUT)
    started, lines = [], []
    for ref in ready:
        try:
            lines, refusal = ray.get(ref)
        except ray.exceptions.RayError as e:
            raise StyleJaxError(f"a Ray worker could not start: {_first_line(e)}") from None
        if refusal:
            raise StyleJaxError(refusal)
        started.append(checks[ref])
    for ref in late:
        ray.kill(checks[ref])
    if late:
        log(f"{len(late)} Ray worker(s) did not start within {START_TIMEOUT:.0f} s (no node has the resources "
            "they ask for?): going on without them")
    if not started:
        raise StyleJaxError(f"no Ray worker started within {START_TIMEOUT:.0f} s: see `ray status` (resources) "
                            "or use fewer `workers`")
    return started, lines


def _first_line(error: BaseException) -> str:
    """A Ray error's cause in one line: its type and the last line of its message (where a remote
    traceback ends with the error itself)."""
    cause = getattr(error, "cause", None) or error
    text = str(cause).strip().splitlines()
    return f"{type(cause).__name__}: {text[-1] if text else 'no message'}"
