"""Timing two frameworks side by side in one run without either slowing the other.

PyTorch's OpenMP threads, and XLA's, keep spinning for a while after their work ends: on a machine with
few cores, a call timed right after the other framework's call shares the cores with those spinning
threads (measured on the project's 2-core CPU: a stylejax training step 1.12 s right after a PyTorch
step, 0.85 s after its own). So each call is timed in turns of consecutive calls, the first of each turn
untimed, and the turns alternate between the calls, so slow drifts of the machine hit both alike.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping

import numpy as np


def median_in_turns(calls: Mapping[str, Callable[[], object]], repeats: int, turn: int = 3,
                    warmup: int = 2) -> dict[str, float]:
    """{name: median seconds of `repeats` timed calls}: each call run in turns of `turn` timed calls after
    one untimed one (`warmup` untimed ones in its first turn), the turns alternating over `calls` (in their
    order) until each has `repeats`."""
    times: dict[str, list[float]] = {name: [] for name in calls}
    first = True
    while any(len(t) < repeats for t in times.values()):
        for name, call in calls.items():
            # Settles: the first turn compiles, then runs once more (a compiled training step's first run
            # took 1.5 s against a steady 0.8); later turns wait out the other framework's threads.
            for _ in range(warmup if first else 1):
                call()
            for _ in range(min(turn, repeats - len(times[name]))):
                tick = time.perf_counter()
                call()
                times[name].append(time.perf_counter() - tick)
        first = False
    return {name: float(np.median(t)) for name, t in times.items()}
