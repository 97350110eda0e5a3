"""The small runs whose outputs must survive refactoring: `stylize`, `stylize_batch`, `stylejax batch` and
`stylejax video`, at 48-64 px with a few steps a scale (two scales each, so the coarse-to-fine hand-over counts)."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
from sample_images import smooth_image, stripes

# The saved outputs were made with XLA's own code generation (4 simulated CPU devices); the rest of the suite
# compiles faster with other flags (tests/conftest.py), which move L-BFGS's chaotic pixels further than another
# CPU does, so the golden runs take these.
SHIPPED_XLA_FLAGS = "--xla_force_host_platform_device_count=4"
SCALES = {"size": 64, "min_size": 45, "steps": (4, 3)}  # scales of 45 and 64 px


def stylize_lbfgs() -> np.ndarray:
    import stylejax

    return stylejax.stylize(smooth_image(48, 64), stripes(64, 64), **SCALES).image


def stylize_adam() -> np.ndarray:
    import stylejax

    return stylejax.stylize(smooth_image(64, 48, seed=1), stripes(64, 64), optimizer="adam", learning_rate=0.02,
                            ema_decay=0.9, **SCALES).image


def stylize_batch() -> list[np.ndarray]:
    import stylejax

    contents = [smooth_image(48, 64, seed=2), smooth_image(64, 48, seed=3), smooth_image(56, 64, seed=4)]
    result = stylejax.stylize_batch(contents, stripes(64, 64), optimizer="adam", learning_rate=0.02, batch_size=2,
                                    **SCALES)
    return result.images


def batch_command(work: Path) -> list[np.ndarray]:
    from stylejax import cli, load_image, save_image

    inputs = work / "inputs"
    inputs.mkdir()
    for i, shape in enumerate([(48, 64), (64, 48)]):
        save_image(smooth_image(*shape, seed=5 + i), inputs / f"img{i}.png")
    save_image(stripes(64, 64), work / "style.png")
    code = cli.main(["batch", str(inputs), "-o", str(work / "styled"), "--style", str(work / "style.png"),
                     "--size", "64", "--min-size", "45", "--steps", "4,3", "--batch-size", "2",
                     "--compile-cache", "off"])
    assert code == 0
    return [np.asarray(load_image(work / "styled" / f"img{i}.png")) for i in range(2)]


def video_command(work: Path) -> list[np.ndarray]:
    from stylejax import cli, load_image, save_image

    frames = work / "frames"
    frames.mkdir()
    picture = smooth_image(48, 64 + 3 * 4, seed=7)
    for k in range(4):  # a 4 px pan
        save_image(picture[:, 4 * k:4 * k + 64], frames / f"f{k:03d}.png")
    save_image(stripes(64, 64), work / "style.png")
    code = cli.main(["video", str(frames), "-o", str(work / "styled"), "--style", str(work / "style.png"),
                     "--size", "64", "--min-size", "45", "--first-steps", "4,3", "--steps", "3",
                     "--compile-cache", "off"])
    assert code == 0
    return [np.asarray(load_image(p)) for p in sorted((work / "styled").iterdir()) if p.suffix == ".png"]


CASES = {"stylize_lbfgs": lambda work: stylize_lbfgs(), "stylize_adam": lambda work: stylize_adam(),
         "stylize_batch": lambda work: np.concatenate([i.reshape(-1) for i in stylize_batch()]),
         "batch_command": lambda work: np.concatenate([i.reshape(-1) for i in batch_command(work)]),
         "video_command": lambda work: np.stack(video_command(work))}


def compute(names: list[str], work: Path) -> dict[str, np.ndarray]:
    """The named cases' outputs in this process, each run in its own folder under `work`."""
    outputs = {}
    for name in names:
        (work / name).mkdir()
        outputs[name] = CASES[name](work / name)
    return outputs


def run_as_shipped(work: Path, names: list[str]) -> dict[str, np.ndarray]:
    """The named cases' outputs, computed in a subprocess with SHIPPED_XLA_FLAGS (files go under `work`)."""
    subprocess.run([sys.executable, __file__, str(work / "out.npz"), *names],
                   env={**os.environ, "XLA_FLAGS": SHIPPED_XLA_FLAGS}, check=True)
    return dict(np.load(work / "out.npz"))


if __name__ == "__main__":  # python tests/golden_cases.py OUT.npz CASE...: what run_as_shipped runs
    import tempfile

    os.environ["JAX_PLATFORMS"] = "cpu"
    import jax

    jax.config.update("jax_numpy_rank_promotion", "raise")
    with tempfile.TemporaryDirectory() as work:
        np.savez(sys.argv[1], **compute(sys.argv[2:], Path(work)))
