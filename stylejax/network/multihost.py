"""Training over several processes (hosts): the mesh over every device, each process's share of a batch.

With `jax.distributed.initialize` called (`stylejax train --distributed`), the data mesh spans the
devices of every process, process by process, so process i's devices hold one contiguous block of the
global batch's rows. Each process decodes only that block (`TrainingImages.batch(step, rows)`), from the
same (seed, step) order as a one-process run, and the blocks form one global array: the global batch is
the one a single process would train on. With one process, all of this reduces to the local mesh.

Every process runs every compiled step and every orbax save and restore (both are collective: a process
that skips one leaves the others waiting at its barrier until JAX's coordinator aborts them all); only
the files of `is_writer` are written by process 0 alone.
"""

from __future__ import annotations

import jax
import numpy as np
from jax.experimental import multihost_utils
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P

from stylejax.errors import StyleJaxError
from stylejax.runtime.meshes import local_mesh


def training_mesh() -> Mesh:
    """A 1-D ("data",) mesh: the local devices with one process, else every process's, in process order."""
    if jax.process_count() == 1:
        return local_mesh()
    devices = sorted(jax.devices(), key=lambda d: (d.process_index, d.id))
    counts = {d.process_index: 0 for d in devices}
    for d in devices:
        counts[d.process_index] += 1
    if len(set(counts.values())) != 1:
        raise StyleJaxError(f"every process needs the same number of devices, got {counts}")
    return Mesh(np.array(devices), ("data",))


def check_batch_split(batch_size: int, mesh: Mesh) -> None:
    """Raises StyleJaxError unless `batch_size` splits evenly over the mesh's devices."""
    if batch_size % mesh.size:
        raise StyleJaxError(f"`batch_size` {batch_size} does not split over {mesh.size} devices: "
                            f"use a multiple of {mesh.size}")


def process_rows(batch_size: int, process_index: int, process_count: int) -> range:
    """The rows of a global batch of `batch_size` that process `process_index` of `process_count` loads.

    Contiguous blocks in process order; over all processes they are range(batch_size) exactly once.
    """
    if batch_size % process_count:
        raise StyleJaxError(f"batch size {batch_size} does not split over {process_count} processes")
    share = batch_size // process_count
    return range(process_index * share, (process_index + 1) * share)


def my_rows(batch_size: int) -> range:
    """This process's rows of a global batch (`process_rows` for `jax.process_index()`)."""
    return process_rows(batch_size, jax.process_index(), jax.process_count())


def global_batch(local: np.ndarray, mesh: Mesh, batch_size: int) -> jax.Array:
    """This process's rows (`my_rows`) of a batch as the global (batch_size, ...) array split over "data"."""
    sharding = NamedSharding(mesh, P("data"))
    if jax.process_count() == 1:
        return jax.device_put(local, sharding)
    return jax.make_array_from_process_local_data(sharding, local, (batch_size, *local.shape[1:]))


def is_writer() -> bool:
    """Whether this process writes the training's files (train.csv, samples, the model): process 0."""
    return jax.process_index() == 0


def sync_processes(name: str) -> None:
    """Waits until every process has reached the point called `name` (nothing with one process)."""
    if jax.process_count() > 1:
        multihost_utils.sync_global_devices(name)
