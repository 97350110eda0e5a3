"""Meshes over devices: the 1-D ("data",) mesh that batches are split over."""

from __future__ import annotations

from collections.abc import Sequence

import jax
import numpy as np
from jax.sharding import Mesh


def local_mesh(devices: Sequence[jax.Device] | None = None) -> Mesh:
    """A 1-D ("data",) mesh over this process's devices (or over `devices`)."""
    return Mesh(np.array(devices if devices is not None else jax.local_devices()), ("data",))
