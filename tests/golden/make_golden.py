"""Saves the small outputs the layout tests compare against (tests/test_golden.py).

Run once, on the code before the package was split into layers: `python tests/golden/make_golden.py`.
It reaches stylejax through its public API and command line only, so it runs unchanged on either layout; running
it again after a change would compare the new code with itself, so don't, unless the results are meant to change.
"""

import os
import sys
import tempfile
from pathlib import Path

os.environ["JAX_PLATFORMS"] = "cpu"
os.environ.setdefault("XLA_FLAGS", "--xla_force_host_platform_device_count=4")  # as under conftest

import jax  # noqa: E402
import numpy as np  # noqa: E402

jax.config.update("jax_numpy_rank_promotion", "raise")
sys.path.insert(0, str(Path(__file__).parents[1]))
from golden_cases import run_all  # noqa: E402

if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as weights:
        os.environ.setdefault("STYLEJAX_WEIGHTS_DIR", weights)
        with tempfile.TemporaryDirectory() as work:
            outputs = run_all(Path(work))
    np.savez_compressed(Path(__file__).with_name("outputs.npz"), **outputs)
    print({k: v.shape for k, v in outputs.items()})
