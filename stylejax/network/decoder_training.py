"""`train_decoders`: decoders trained for reconstruction only, level by level, into a decoders folder.

One level at a time, deepest last by default order of the call; each with the style network's machinery:
the same loader (`data.TrainingImages`), a `shard_map` step over the "data" mesh
(`autoencoder.reconstruction`), orbax checkpoints every `checkpoint_every` steps keyed by the training
(OUTPUT/train-<level>/checkpoints), train.csv, sample sheets and, with evaluation photos, their PSNR
against the step and the wall time (eval.csv). Killed and run again, a level resumes from its last
checkpoint and ends with the parameters an uninterrupted run would have, bit for bit on CPU. The last
checkpoint is kept, so asking for more steps later continues the same training (the learning rate
depends on the step alone, not on the total). A finished level is written as OUTPUT/<level>.npz
(`decoder_files`).
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import functools
import json
import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx
from jax.sharding import NamedSharding
from jax.sharding import PartitionSpec as P

from stylejax.autoencoder import reconstruction
from stylejax.errors import StyleJaxError
from stylejax.io.images import load_image
from stylejax.network import reports
from stylejax.network.checkpoints import TrainingCheckpoints
from stylejax.network.data import TrainingImages, centre_crop, find_images, open_training_images
from stylejax.network.decoder_files import DECODERS_JSON, check_dtype, read_decoders_json, save_decoder
from stylejax.network.multihost import check_batch_split, global_batch, is_writer, my_rows, training_mesh
from stylejax.nn.decoders import LEVELS, Decoder, level_block
from stylejax.nn.weights import load_vgg

DEFAULT_LEVELS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1")  # WCT's cascade; AdaIN's relu4_1 among them
DEFAULT_STEPS = 2000  # per level, a start: run again with more steps and the training continues
EVAL_CSV = "eval.csv"
EVAL_SIDE = 256  # px: evaluation photos are centre squares of this side


@dataclasses.dataclass(frozen=True)
class DecoderSettings:
    """Settings of a decoder's reconstruction training (docs/transfer.md says how they were chosen).

    Attributes:
      size: side of the square training crops, in pixels (a multiple of the deepest level's stride, 8 at
        relu4_1).
      batch_size: crops per step, split over the devices (a multiple of their count).
      width: the decoders' hidden channels relative to VGG's.
      learning_rate: Adam's step size at step 0; at step s it is learning_rate / (1 + decay * s), a function
        of the step alone, so a finished training can be continued with more steps.
      decay: the learning rate's decay per step.
      pixel_weight, feature_weight: weights of the mean squared pixel error and of the feature error at the
        decoder's level.
      checkpoint_every: steps between checkpoints.
      sample_every: steps between sample sheets and evaluations (0: only at the end).
      seed: fixes the initial weights, the data order, crops and flips.
    """

    size: int = 64
    batch_size: int = 8
    width: float = 0.5
    learning_rate: float = 1e-3
    decay: float = 1e-3
    pixel_weight: float = 1.0
    feature_weight: float = 0.02
    checkpoint_every: int = 100
    sample_every: int = 250
    seed: int = 0

    def __post_init__(self):
        for name in ("size", "batch_size", "checkpoint_every"):
            if not isinstance(getattr(self, name), int) or getattr(self, name) <= 0:
                raise StyleJaxError(f"`{name}` must be a positive whole number, got {getattr(self, name)!r}")
        if self.size % 8 or self.size < 16:
            raise StyleJaxError(f"`size` must be a multiple of 8 and at least 16 (relu4_1 sees 1/8 of it), "
                                f"got {self.size}")
        for name in ("width", "learning_rate"):
            if not getattr(self, name) > 0:
                raise StyleJaxError(f"`{name}` must be positive, got {getattr(self, name)!r}")
        for name in ("decay", "pixel_weight", "feature_weight", "sample_every"):
            if getattr(self, name) < 0:
                raise StyleJaxError(f"`{name}` must be >= 0, got {getattr(self, name)!r}")


def level_folder(output: Path, level: str) -> Path:
    """Where a level's training keeps its checkpoints, train.csv, eval.csv and samples."""
    return output / f"train-{level}"


def train_decoders(images: str | os.PathLike, output: str | os.PathLike, levels: Sequence[str],
                   steps: int | dict[str, int], settings: DecoderSettings | None = None, *,
                   eval_images: str | os.PathLike | None = None, mesh: jax.sharding.Mesh | None = None,
                   progress: Callable[[str, int, dict[str, float]], None] | None = None,
                   log: Callable[[str], None] = lambda line: None, dtype: str = "float16") -> Path:
    """Trains one decoder per level for reconstruction and writes them to a decoders folder.

    Args:
      images: a folder of training photos, searched recursively.
      output: the decoders folder (made if missing); `load_decoders(output)` reads it.
      levels: the levels to train, in order (each of `nn.decoders.LEVELS`).
      steps: training steps per level, one number or {level: steps}.
      settings: `DecoderSettings()` by default.
      eval_images: a folder of photos not trained on: their PSNR is logged every `sample_every` steps.
      mesh: a 1-D ("data",) mesh; default: every device.
      progress: called after each step with (level, step, {term: value}).
      log: one-line notes (resuming, skipping a finished level).
      dtype: the decoders' precision on disk, "float16" or "float32" (`decoder_files.save_decoder`).

    Returns:
      The decoders folder.

    Raises:
      StyleJaxError: an unknown level, no readable photo, settings that do not fit the devices, an unknown
        `dtype`, or a folder holding another training's checkpoints.
    """
    settings = settings or DecoderSettings()
    folder = Path(output)
    for level in levels:
        level_block(level)
    check_dtype(dtype)
    per_level = steps if isinstance(steps, dict) else {level: steps for level in levels}
    if any(not isinstance(per_level.get(level), int) or per_level[level] <= 0 for level in levels):
        raise StyleJaxError(f"`steps` must be a positive whole number per level, got {steps!r}")
    if folder.resolve().is_relative_to(Path(images).resolve()):
        raise StyleJaxError(f"{folder}: the output would be inside `images`: give another `output`")
    mesh = mesh if mesh is not None else training_mesh()
    check_batch_split(settings.batch_size, mesh)
    data = open_training_images(images, settings.size, settings.batch_size, settings.seed, log)
    evaluation = _evaluation_crops(eval_images)
    encoder_def, encoder = reconstruction.encoder_weights(load_vgg("vgg16", pooling=reconstruction.ENCODER_POOLING))
    for level in sorted(levels, key=LEVELS.index):
        done = _finished_steps(folder, level, settings)
        if done is not None and done >= per_level[level]:
            log(f"{level}: trained {done} steps already")
            continue
        decoder = _train_level(level, per_level[level], data, settings, folder, evaluation=evaluation,
                               encoder=(encoder_def, encoder), mesh=mesh, progress=progress, log=log)
        if is_writer():
            info = dict(steps=per_level[level], training=_training_record(settings, data, images))
            save_decoder(folder, decoder, info | _last_eval(level_folder(folder, level)), dtype=dtype)
    return folder


def _finished_steps(folder: Path, level: str, settings: DecoderSettings) -> int | None:
    """Steps of the level already in the folder's decoders.json by these settings, or None."""
    if not (folder / DECODERS_JSON).exists():
        return None
    entry = read_decoders_json(folder)["levels"].get(level)
    if entry is None or entry.get("training", {}).get("settings") != dataclasses.asdict(settings):
        return None
    return int(entry.get("steps", 0))


def _training_record(settings: DecoderSettings, data: TrainingImages, images) -> dict:
    return dict(settings=dataclasses.asdict(settings), images=str(images), image_files=len(data.paths),
                unreadable=len(data.unreadable), devices=[str(d.device_kind) for d in jax.devices()][:1])


def _training_key(level: str, settings: DecoderSettings, data: TrainingImages) -> str:
    # The steps are not part of it: a training asked for more steps continues from its checkpoint.
    return json.dumps(dict(level=level, settings=dataclasses.asdict(settings), data=data.order_key()))


def _evaluation_crops(eval_images) -> np.ndarray | None:
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
def _reconstruct(decoder_def: nnx.GraphDef, params: nnx.State, encoder_def: nnx.GraphDef,
                 encoder: reconstruction.EncoderWeights, images: jax.Array) -> jax.Array:
    decoder = nnx.merge(decoder_def, params)
    vgg = nnx.merge(encoder_def, encoder.state)
    return decoder(vgg(images, (decoder.level,))[decoder.level])


def _train_level(level: str, steps: int, data: TrainingImages, settings: DecoderSettings, output: Path, *,
                 evaluation: np.ndarray | None, encoder: tuple, mesh, progress, log) -> Decoder:
    encoder_def, encoder_weights = encoder
    folder = level_folder(output, level)
    folder.mkdir(parents=True, exist_ok=True)
    decoder = Decoder(level, width=settings.width, rngs=nnx.Rngs(settings.seed))
    decoder_def, params = nnx.split(decoder, nnx.Param)
    optimizer = reconstruction.decoder_optimizer(settings.learning_rate, settings.decay)
    objective = reconstruction.Reconstruction(encoder_def, decoder_def, level, settings.pixel_weight,
                                              settings.feature_weight)
    replicated = NamedSharding(mesh, P())
    state = jax.device_put(reconstruction.init_state(params, optimizer), replicated)
    encoder_weights = jax.device_put(encoder_weights, replicated)
    step_fn = reconstruction.reconstruction_step(objective, optimizer, mesh)
    rows, writer = my_rows(settings.batch_size), is_writer()
    samples = data.sample_crops()
    began = time.perf_counter()
    with contextlib.ExitStack() as stack:
        checkpoints = stack.enter_context(contextlib.closing(
            TrainingCheckpoints(folder, _training_key(level, settings, data))))
        restored = checkpoints.restore(state)
        if restored is not None:
            state = jax.device_put(restored, replicated)
            log(f"{level}: resuming from step {int(state.step)}")
        start = int(state.step)
        terms_names = ("pixel", "feature")
        train_log = stack.enter_context(contextlib.closing(reports.TrainLog(folder, start, terms_names))) \
            if writer else None
        evals = stack.enter_context(contextlib.closing(_EvalLog(folder, start))) if writer else None
        batches = stack.enter_context(contextlib.closing(data.batches(start, steps, rows=rows)))
        fetched = time.perf_counter()
        for step, batch in batches:
            tick = time.perf_counter()
            waited = tick - fetched
            state, terms = step_fn(state, global_batch(batch, mesh, settings.batch_size), encoder_weights)
            terms = {name: float(v) for name, v in terms.items()}
            if not np.isfinite(sum(terms.values())):
                raise StyleJaxError(f"{level}: the loss stopped being finite at step {step + 1}: lower `learning_rate`")
            seconds = time.perf_counter() - tick
            done = step + 1
            if writer:
                train_log.add(done, terms, settings.batch_size / seconds, time.perf_counter() - began, waited)
            if done % settings.checkpoint_every == 0 or done == steps:
                checkpoints.save(state)
            if settings.sample_every and done % settings.sample_every == 0 or done == steps:
                outputs = np.asarray(_reconstruct(decoder_def, state.params, encoder_def, encoder_weights,
                                                  jnp.asarray(samples)))
                if writer:
                    reports.save_samples(folder, done, samples, [outputs], [level])
                    if evaluation is not None:
                        evals.add(done, time.perf_counter() - began, _mean_psnr(
                            decoder_def, state.params, encoder_def, encoder_weights, evaluation))
            if progress:
                progress(level, done, terms)
            fetched = time.perf_counter()
    if writer:
        reports.plot_loss(folder)
    nnx.update(decoder, jax.tree.map(np.asarray, state.params))
    return decoder


def _mean_psnr(decoder_def, params, encoder_def, encoder_weights, photos: np.ndarray) -> float:
    values = [float(reconstruction.psnr(_reconstruct(decoder_def, params, encoder_def, encoder_weights,
                                                     jnp.asarray(photo[None])), jnp.asarray(photo[None]))[0])
              for photo in photos]
    return float(np.mean(values))


class _EvalLog:
    """OUTPUT/train-<level>/eval.csv: step, seconds since this run began (plus earlier runs'), mean PSNR."""

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


def _last_eval(folder: Path) -> dict:
    """{"psnr_eval": the last evaluation's mean PSNR} when the level was evaluated, else {}."""
    path = folder / EVAL_CSV
    if not path.exists():
        return {}
    with path.open(newline="") as f:
        rows = list(csv.DictReader(f))
    return dict(psnr_eval=float(rows[-1]["psnr"]), seconds=float(rows[-1]["seconds"])) if rows else {}
