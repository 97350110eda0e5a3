"""Saves the small outputs the layout tests compare against (tests/test_golden.py).

Run once, on the code before the package was split into layers: `python tests/golden/make_golden.py`.
It reaches stylejax through its public API and command line only, so it runs unchanged on either layout; running
it again after a change would compare the new code with itself, so don't, unless the results are meant to change.
"""

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

CASES = ["stylize_lbfgs", "stylize_adam", "stylize_batch", "batch_command", "video_command"]

if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as work:
        env = {**os.environ, "STYLEJAX_WEIGHTS_DIR": os.environ.get("STYLEJAX_WEIGHTS_DIR", work)}
        subprocess.run([sys.executable, str(Path(__file__).parents[1] / "golden_cases.py"), f"{work}/out.npz", *CASES],
                       env=env, check=True)
        outputs = dict(np.load(f"{work}/out.npz"))
    np.savez_compressed(Path(__file__).with_name("outputs.npz"), **outputs)
    print({k: v.shape for k, v in outputs.items()})
