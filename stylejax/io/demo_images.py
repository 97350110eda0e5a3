"""The demo's inputs and contact sheet: a stained-glass style drawn in code, and a bundled photo."""

from __future__ import annotations

import numpy as np

from stylejax.errors import StyleJaxError

# Jewel tones of church glass: ruby, cobalt, emerald, amber, violet, turquoise.
_PALETTE = np.array([[0.70, 0.07, 0.12], [0.08, 0.20, 0.65], [0.05, 0.50, 0.22],
                     [0.92, 0.62, 0.08], [0.42, 0.12, 0.55], [0.05, 0.55, 0.62]], np.float32)


def stained_glass(height: int = 256, width: int = 256, *, cells: int = 120, seed: int = 0) -> np.ndarray:
    """A stained-glass window: Voronoi panes of jewel colours, dark lead between them, glowing centres.

    Returns (height, width, 3) float32 in [0, 1].
    """
    rng = np.random.default_rng(seed)
    centres = rng.uniform(0, 1, (cells, 2)) * (height, width)
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    distances = np.hypot(ys[..., None] - centres[:, 0], xs[..., None] - centres[:, 1])  # (h, w, cells)
    nearest2 = np.partition(distances, 1, axis=-1)[..., :2]
    owner = np.argmin(distances, axis=-1)
    colours = _PALETTE[rng.integers(0, len(_PALETTE), cells)] * rng.uniform(0.75, 1.15, (cells, 1))
    cell_radius = np.sqrt(height * width / cells)
    glow = 1.25 - 0.55 * np.clip(nearest2[..., 0] / cell_radius, 0, 1)  # light falls off toward the lead
    grain = rng.normal(1.0, 0.06, (height, width))  # uneven hand-made glass
    image = colours[owner] * (glow * grain)[..., None]
    lead = (nearest2[..., 1] - nearest2[..., 0]) < max(2.0, cell_radius / 9)
    image[lead] = (0.06, 0.05, 0.05)
    return np.clip(image, 0, 1).astype(np.float32)


def swirls(height: int = 256, width: int = 256, *, seed: int = 0) -> np.ndarray:
    """Swirling bands of ultramarine, cobalt and yellow brush strokes, in the manner of van Gogh's skies.

    Returns (height, width, 3) float32 in [0, 1].
    """
    rng = np.random.default_rng(seed)
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32) / max(height, width)
    angle = np.zeros_like(xs)
    for cy, cx, strength in rng.uniform((0, 0, 1), (1, 1, 2.5), (4, 3)):  # a few vortices bend the bands
        r = np.hypot(ys - cy, xs - cx)
        angle += strength * np.exp(-(r / 0.25) ** 2)
    u = xs * np.cos(angle) + ys * np.sin(angle)
    bands = 0.5 + 0.5 * np.sin(2 * np.pi * 6 * u)
    strokes = 0.5 + 0.5 * np.sin(2 * np.pi * 28 * (xs * np.sin(angle) - ys * np.cos(angle)) + rng.normal(0, 1))
    dark, mid, light = np.array([0.05, 0.10, 0.35]), np.array([0.15, 0.35, 0.75]), np.array([0.95, 0.85, 0.30])
    t = (0.7 * bands + 0.3 * strokes)[..., None]
    image = np.where(t < 0.5, dark + (mid - dark) * (t / 0.5), mid + (light - mid) * ((t - 0.5) / 0.5))
    return np.clip(image, 0, 1).astype(np.float32)


STYLES = {"stained_glass": stained_glass, "swirls": swirls}


def astronaut() -> np.ndarray:
    """scikit-image's public-domain NASA portrait (512x512), as float32 in [0, 1]."""
    try:
        from skimage import data
    except ImportError:
        raise StyleJaxError("the demo photo ships with scikit-image: pip install 'stylejax[demo]'") from None
    return np.asarray(data.astronaut(), np.float32) / 255.0


