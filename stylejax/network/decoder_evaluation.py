"""What a decoder training reports beside its loss: held-out photos' reconstruction PSNR against the step and
the wall time (eval.csv), and the rows of its sample sheets."""

from __future__ import annotations

import csv
import functools
import os
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from stylejax.autoencoder import reconstruction
from stylejax.autoencoder.transforms import adain
from stylejax.errors import StyleJaxError
from stylejax.io.images import load_image
from stylejax.network.data import centre_crop, find_images

EVAL_CSV = "eval.csv"
EVAL_SIDE = 256  # px: evaluation photos are centre squares of this side


def evaluation_crops(eval_images: str | os.PathLike | None) -> np.ndarray | None:
    """(n, EVAL_SIDE, EVAL_SIDE, 3) centre squares of a folder's readable photos; None without a folder.

    Raises:
      StyleJaxError: the folder has no readable photo.
    """
    if eval_images is None:
        return None
    crops = []
    for path in find_images(eval_images):
        try:
            crops.append(centre_crop(load_image(path), EVAL_SIDE))
        except StyleJaxError:
            continue
    if not crops:
        raise StyleJaxError(f"{eval_images}: no readable photo to evaluate on")
    return np.stack(crops)


@functools.partial(jax.jit, static_argnums=(0,))
def reconstruct(decoder_def: nnx.GraphDef, params: nnx.State, encoder_def: nnx.GraphDef,
                encoder: reconstruction.EncoderWeights, images: jax.Array) -> jax.Array:
    """images (b, h, w, 3) encoded to the decoder's level and decoded: the autoencoder's reconstructions."""
    decoder = nnx.merge(decoder_def, params)
    vgg = nnx.merge(encoder_def, encoder.state)
    return decoder(vgg(images, (decoder.level,))[decoder.level])


def mean_psnr(decoder_def, params, encoder_def, encoder_weights, photos: np.ndarray) -> float:
    """The mean reconstruction PSNR (dB) of photos (n, h, w, 3), one at a time."""
    values = [float(reconstruction.psnr(reconstruct(decoder_def, params, encoder_def, encoder_weights,
                                                    jnp.asarray(photo[None])), jnp.asarray(photo[None]))[0])
              for photo in photos]
    return float(np.mean(values))


class EvalLog:
    """FOLDER/eval.csv: step, seconds since this run began (plus earlier runs'), mean PSNR. Resumed at a step,
    it keeps the rows up to that step."""

    def __init__(self, folder: Path, resumed_step: int):
        self.path = folder / EVAL_CSV
        rows = []
        if self.path.exists():
            with self.path.open(newline="") as f:
                rows = [r for r in csv.DictReader(f) if int(r["step"]) <= resumed_step]
        self.offset = float(rows[-1]["seconds"]) if rows else 0.0
        with self.path.open("w", newline="") as f:
            writer = csv.DictWriter(f, ("step", "seconds", "psnr"))
            writer.writeheader()
            writer.writerows(rows)
        self.file = self.path.open("a", newline="")
        self.writer = csv.DictWriter(self.file, ("step", "seconds", "psnr"))

    def add(self, step: int, seconds: float, psnr: float) -> None:
        self.writer.writerow(dict(step=step, seconds=f"{self.offset + seconds:.1f}", psnr=f"{psnr:.3f}"))
        self.file.flush()

    def close(self) -> None:
        self.file.close()


def last_eval(folder: Path) -> dict:
    """{"psnr_eval": the last evaluation's mean PSNR, "seconds": its time} when evaluated, else {}."""
    path = folder / EVAL_CSV
    if not path.exists():
        return {}
    with path.open(newline="") as f:
        rows = list(csv.DictReader(f))
    return dict(psnr_eval=float(rows[-1]["psnr"]), seconds=float(rows[-1]["seconds"])) if rows else {}


class SampleSheet:
    """The rows of a level's sample sheets under their fixed photos: the decoder's reconstructions, or for AdaIN
    the styles and the photos in them.

    Args:
      inputs: (n, s, s, 3) photos.
      styles: (n, s, s, 3) a style for each photo (AdaIN), or None (reconstruction).
      level: the decoder's level, the outputs' label.
      call: (decoder structure, encoder structure, `EncoderWeights`).
    """

    def __init__(self, inputs: np.ndarray, styles: np.ndarray | None, level: str, call: tuple):
        self.inputs, self.styles, self.level, self.call = inputs, styles, level, call

    def rows(self, params) -> dict[str, np.ndarray]:
        """{label: images (n, s, s, 3)} for the decoder's parameters `params`."""
        decoder_def, encoder_def, encoder_weights = self.call
        photos = jnp.asarray(self.inputs)
        if self.styles is None:
            return {self.level: np.asarray(reconstruct(decoder_def, params, encoder_def, encoder_weights, photos))}
        outputs = _adain_outputs(decoder_def, params, encoder_def, encoder_weights, photos, jnp.asarray(self.styles))
        return {"style": self.styles, f"{self.level} adain": np.asarray(outputs)}


@functools.partial(jax.jit, static_argnums=(0,))
def _adain_outputs(decoder_def, params, encoder_def, encoder_weights, photos, styles):
    decoder = nnx.merge(decoder_def, params)
    vgg = nnx.merge(encoder_def, encoder_weights.state)
    level = decoder.level
    return decoder(jax.vmap(adain)(vgg(photos, (level,))[level], vgg(styles, (level,))[level]))
