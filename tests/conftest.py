"""Test setup: CPU only, 4 simulated devices, fast-compiling XLA flags, strict numerics, a private weights cache."""

import atexit
import os
import shutil
import tempfile

os.environ["JAX_PLATFORMS"] = "cpu"
# Half the suite's time is XLA compiling small programs: LLVM at -O1 and XLA's older loop emitters compile them
# in about 60 % of the time and run them slower, a net 10m22s -> 7m49s for the suite on 2 cores (2026-12-05).
# Results move by rounding only, except where L-BFGS amplifies it: the golden runs take XLA's own code
# generation (golden_cases.SHIPPED_XLA_FLAGS), as `make test-all` does for everything (it sets XLA_FLAGS).
TEST_XLA_FLAGS = ("--xla_force_host_platform_device_count=4 --xla_backend_optimization_level=1 "
                  "--xla_cpu_use_fusion_emitters=false")
os.environ.setdefault("XLA_FLAGS", TEST_XLA_FLAGS)
# One compilation cache for this test session, its subprocesses included: a CLI test's rerun, and a
# program another test already compiled, load instead of compiling again (a fresh folder each session).
# pytest-xdist's workers inherit the folder the controller made (conftest runs there first), which
# removes it when the session ends.
if "STYLEJAX_TEST_XLA_CACHE" not in os.environ:
    os.environ["STYLEJAX_TEST_XLA_CACHE"] = tempfile.mkdtemp(prefix="stylejax-test-xla-")
    atexit.register(shutil.rmtree, os.environ["STYLEJAX_TEST_XLA_CACHE"], ignore_errors=True)
os.environ["JAX_COMPILATION_CACHE_DIR"] = os.environ["STYLEJAX_TEST_XLA_CACHE"]
os.environ["JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS"] = "0"

import jax  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

jax.config.update("jax_numpy_rank_promotion", "raise")


@pytest.fixture(scope="session", autouse=True)
def weights_cache(tmp_path_factory):
    """Every test reads weights ported into a fresh cache, as on a new machine."""
    path = tmp_path_factory.mktemp("weights")
    os.environ["STYLEJAX_WEIGHTS_DIR"] = str(path)
    yield path


@pytest.fixture()
def compiles(caplog):
    """A context manager that collects the names of the programs XLA compiles inside it: ["jit(run)", ...]."""
    import contextlib
    import logging
    import re

    @contextlib.contextmanager
    def counting():
        names = []
        jax.config.update("jax_log_compiles", True)
        try:
            with caplog.at_level(logging.WARNING):
                first = len(caplog.records)
                yield names
                names += [m.group(1) for r in caplog.records[first:]
                          if (m := re.search(r"Finished XLA compilation of (\S+)", r.getMessage()))]
        finally:
            jax.config.update("jax_log_compiles", False)

    return counting


@pytest.fixture(scope="session")
def vgg16(weights_cache):
    import stylejax

    return stylejax.load_vgg("vgg16")


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    """Training photos for the network tests: scikit-image's, small, in a nested folder with a broken file.
    Read only: a module's tests share it."""
    import skimage.data
    from PIL import Image

    folder = tmp_path_factory.mktemp("photos")
    (folder / "nested").mkdir(parents=True)
    for i, name in enumerate(("astronaut", "coffee", "chelsea", "rocket", "camera")):
        image = Image.fromarray(np.asarray(getattr(skimage.data, name)()))
        image.thumbnail((64, 64))
        image.save(folder / ("nested" if i % 2 else "") / f"{name}.png")
    (folder / "broken.png").write_text("not an image")
    return folder
