"""Saves the small outputs the layout tests compare against (tests/test_golden.py).

Run once, on the code before the package was split into layers: `python tests/golden/make_golden.py`.
It reaches stylejax through its public API and command line only, so it runs unchanged on either layout; running
it again after a change would compare the new code with itself, so don't, unless the results are meant to change.
"""

import os
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parents[1]))
from golden_cases import CASES, run_as_shipped  # noqa: E402

if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as weights, tempfile.TemporaryDirectory() as work:
        os.environ.setdefault("STYLEJAX_WEIGHTS_DIR", weights)
        outputs = run_as_shipped(Path(work), list(CASES))
    np.savez_compressed(Path(__file__).with_name("outputs.npz"), **outputs)
    print({k: v.shape for k, v in outputs.items()})
