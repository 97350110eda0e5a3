"""The small images tests make for themselves: deterministic photos, a striped painting, broken files."""

import numpy as np


def smooth_image(h: int, w: int, seed: int = 0) -> np.ndarray:
    """A deterministic (h, w, 3) float32 image in [0, 1] with structure at several scales."""
    rng = np.random.default_rng(seed)
    ys, xs = np.mgrid[0:h, 0:w] / max(h, w)
    channels = [0.5 + 0.5 * np.sin(2 * np.pi * (f * xs + g * ys) + p)
                for f, g, p in rng.uniform(0.5, 4, (3, 3))]
    return np.clip(np.stack(channels, -1) + rng.normal(0, 0.03, (h, w, 3)), 0, 1).astype(np.float32)


def stripes(h: int, w: int) -> np.ndarray:
    """A high-contrast diagonal-stripe 'painting'."""
    ys, xs = np.mgrid[0:h, 0:w]
    band = ((xs + ys) // 4) % 2
    return np.stack([band, 0.2 + 0.6 * (1 - band), 0.9 * band], -1).astype(np.float32)


def add_broken_images(folder) -> None:
    """A non-image and a truncated PNG (cut from folder/img01.png) among a job's inputs."""
    (folder / "notes.png").write_text("not an image")
    good = (folder / "img01.png").read_bytes()
    (folder / "truncated.png").write_bytes(good[: len(good) // 2])
