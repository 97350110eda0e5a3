"""How much memory a device has, and how much a compiled program needs (XLA's count); byte counts for people.

Pure helpers: the only file read is /proc/meminfo, for what RAM a CPU device can use.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jax


def available_bytes() -> int | None:
    """Bytes one local device can use, or None if the runtime does not say.

    GPU/TPU: the allocator's `bytes_limit`. CPU: MemAvailable from /proc/meminfo shared out among the
    local (possibly simulated) CPU devices, since they all draw on the same RAM.
    """
    device = jax.local_devices()[0]
    stats = device.memory_stats() if hasattr(device, "memory_stats") else None
    if stats and "bytes_limit" in stats:
        return int(stats["bytes_limit"])
    host = host_available_bytes()
    return None if host is None else host // jax.local_device_count()


def host_available_bytes() -> int | None:
    """Bytes of RAM this process can still take (MemAvailable), or None where /proc/meminfo is missing."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def compiled_bytes(compiled: Any) -> int:
    """Bytes a compiled XLA program holds at its peak, from `compiled.memory_analysis()`.

    Arguments + outputs + temporaries, less the outputs that alias (donated) arguments. 0 when the
    backend gives no analysis.

    Args:
      compiled: a `jax.stages.Compiled`, e.g. `jitted.lower(...).compile()`.
    """
    analysis = compiled.memory_analysis()
    if analysis is None:
        return 0
    return int(analysis.argument_size_in_bytes + analysis.output_size_in_bytes
               + analysis.temp_size_in_bytes - analysis.alias_size_in_bytes)


def describe(nbytes: int) -> str:
    """A byte count for people: "820 MiB", "1.6 GiB", "12 KiB"."""
    nbytes = int(nbytes)
    for unit, size in (("TiB", 2**40), ("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if abs(nbytes) >= size:
            value = nbytes / size
            return f"{value:.1f} {unit}" if value < 10 else f"{value:.0f} {unit}"
    return f"{nbytes} B"
