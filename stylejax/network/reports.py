"""What a training run shows while and after it runs: MODEL/train.csv, MODEL/samples/, MODEL/loss.png."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from stylejax.io.images import save_image
from stylejax.io.sheets import contact_sheet

TRAIN_CSV = "train.csv"
STYLE_TERMS = ("content", "style", "tv")  # a style network's loss terms; a decoder's are ("pixel", "feature")


def columns(terms: tuple[str, ...]) -> tuple[str, ...]:
    """train.csv's columns for a training whose loss has `terms`."""
    return ("step", "total", *terms, "images_per_s", "seconds", "data_wait_s")


class TrainLog:
    """MODEL/train.csv: one row of loss terms per step, kept to the steps the parameters have seen.

    On a resumed run, rows after the restored step (written before the kill, then lost) are dropped,
    so the file reads as one uninterrupted run.
    """

    def __init__(self, folder: Path, resumed_step: int, terms: tuple[str, ...] = STYLE_TERMS):
        self.path = folder / TRAIN_CSV
        self.terms = terms
        rows = []
        if resumed_step > 0 and self.path.exists():
            with self.path.open(newline="") as f:
                rows = [r for r in csv.DictReader(f) if r.get("step", "").isdigit() and int(r["step"]) <= resumed_step]
        with self.path.open("w", newline="") as f:
            writer = csv.DictWriter(f, columns(terms))
            writer.writeheader()
            writer.writerows(rows)
        self.file = self.path.open("a", newline="")
        self.writer = csv.DictWriter(self.file, columns(terms))

    def add(self, step: int, terms: dict[str, float], images_per_s: float, seconds: float,
            data_wait_s: float = 0.0) -> None:
        """One step's row: its loss terms, the step's images/s, seconds since the run began, and how long
        the step waited for its batch (0 when the loader keeps up)."""
        row = {name: f"{terms.get(name, 0.0):.6g}" for name in self.terms}
        row |= dict(step=step, total=f"{sum(terms.values()):.6g}", images_per_s=f"{images_per_s:.3g}",
                    seconds=f"{seconds:.2f}", data_wait_s=f"{data_wait_s:.4f}")
        self.writer.writerow(row)
        self.file.flush()

    def close(self) -> None:
        self.file.close()


def read_log(path: Path) -> dict[str, np.ndarray]:
    """train.csv as {column: array}."""
    with path.open(newline="") as f:
        reader = csv.DictReader(f)
        rows = list(reader)
    return {name: np.array([float(r.get(name) or "nan") for r in rows]) for name in reader.fieldnames or ()}


def save_samples(folder: Path, step: int, inputs: np.ndarray, outputs: list[np.ndarray], style_names: list[str]
                 ) -> Path:
    """MODEL/samples/step_NNNNNN.png: the fixed inputs, then each style's outputs, one row each."""
    panels = {f"input {i}": image for i, image in enumerate(inputs)}
    for name, rows in zip(style_names, outputs, strict=True):
        panels |= {f"{name} {i}": image for i, image in enumerate(rows)}
    sheet = contact_sheet(panels, height=min(128, inputs.shape[1]), columns=len(inputs))
    path = folder / "samples" / f"step_{step:06d}.png"
    path.parent.mkdir(exist_ok=True)
    return save_image(sheet, path)


def plot_loss(folder: Path) -> Path:
    """MODEL/loss.png: each loss term and the total against the step, on a log scale."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    log = read_log(folder / TRAIN_CSV)
    figure, axes = plt.subplots(figsize=(6, 3.5), dpi=100)
    for name in [c for c in log if c not in ("step", "images_per_s", "seconds", "data_wait_s")]:
        if len(log[name]) and np.all(log[name] > 0):
            axes.plot(log["step"], log[name], label=name)
    axes.set_yscale("log")
    axes.set_xlabel("step")
    axes.set_ylabel("loss")
    axes.legend()
    figure.tight_layout()
    path = folder / "loss.png"
    figure.savefig(path)
    plt.close(figure)
    return path
