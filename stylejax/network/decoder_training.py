"""`train_decoders`: decoders trained level by level into a decoders folder, for reconstruction or with
AdaIN's objective.

One level at a time, with the style network's machinery: the same loader (`data.TrainingImages`), a
`shard_map` step over the "data" mesh (`autoencoder.reconstruction.decoder_step`), orbax checkpoints every
`checkpoint_every` steps keyed by the training (OUTPUT/train-<level>/checkpoints), train.csv, sample
sheets and, with evaluation photos, their PSNR against the step and the wall time (eval.csv). Killed and
run again, a level resumes from its last checkpoint and ends with the parameters an uninterrupted run
would have, bit for bit on CPU. The last checkpoint is kept, so asking for more steps later continues the
same training (the learning rate depends on the step alone, not on the total). A finished level is
written as OUTPUT/<level>.npz (`decoder_files`).

With `style_images`, each level's reconstruction decoder in OUTPUT is trained on with AdaIN's objective
(`autoencoder.adain_objective`: pairs of a training photo and a style image) into OUTPUT/<level>-adain.npz
(in OUTPUT/train-<level>-adain), which `stylejax transfer --method adain` then uses. The style images'
colours are permuted and saturated at random (`decoder_data.jittered_styles`): photos are less colourful than
paintings, and the decoder should meet palettes like theirs.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import jax
import numpy as np
from flax import nnx
from jax.sharding import NamedSharding
from jax.sharding import PartitionSpec as P

from stylejax.autoencoder import reconstruction
from stylejax.autoencoder.adain_objective import DEFAULT_STYLE_WEIGHT, AdainTraining
from stylejax.errors import StyleJaxError
from stylejax.network import reports
from stylejax.network.checkpoints import TrainingCheckpoints
from stylejax.network.data import open_training_images
from stylejax.network.decoder_data import DecoderData
from stylejax.network.decoder_evaluation import EvalLog, SampleSheet, evaluation_crops, last_eval, mean_psnr
from stylejax.network.decoder_files import DECODERS_JSON, check_dtype, load_decoders, read_decoders_json, save_decoder
from stylejax.network.multihost import check_batch_split, global_batch, is_writer, my_rows, training_mesh
from stylejax.nn.decoders import LEVELS, Decoder, level_block
from stylejax.nn.weights import load_vgg

DEFAULT_LEVELS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1")  # WCT's cascade; AdaIN's relu4_1 among them
DEFAULT_STEPS = 2000  # per level, a start: run again with more steps and the training continues


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


def level_folder(output: Path, level: str, objective: str = "reconstruction") -> Path:
    """Where a level's training keeps its checkpoints, train.csv, eval.csv and samples."""
    return output / (f"train-{level}" if objective == "reconstruction" else f"train-{level}-{objective}")


def train_decoders(images: str | os.PathLike, output: str | os.PathLike, levels: Sequence[str],
                   steps: int | dict[str, int], settings: DecoderSettings | None = None, *,
                   style_images: str | os.PathLike | None = None, style_weight: float = DEFAULT_STYLE_WEIGHT,
                   eval_images: str | os.PathLike | None = None, mesh: jax.sharding.Mesh | None = None,
                   progress: Callable[[str, int, dict[str, float]], None] | None = None,
                   log: Callable[[str], None] = lambda line: None, dtype: str = "float16") -> Path:
    """Trains one decoder per level and writes them to a decoders folder: for reconstruction, or with
    `style_images`, on from the folder's reconstruction decoders with AdaIN's objective.

    Args:
      images: a folder of training photos, searched recursively.
      output: the decoders folder (made if missing); `load_decoders(output)` reads it.
      levels: the levels to train, in order (each of `nn.decoders.LEVELS`).
      steps: training steps per level, one number or {level: steps}.
      settings: `DecoderSettings()` by default.
      style_images: a folder of style images (photos will do: AdaIN's loss asks for their statistics, whatever
        they are); None: reconstruction training.
      style_weight: AdaIN's weight of the style loss against the content loss.
      eval_images: a folder of photos not trained on: their PSNR is logged every `sample_every` steps.
      mesh: a 1-D ("data",) mesh; default: every device.
      progress: called after each step with (level, step, {term: value}).
      log: one-line notes (resuming, skipping a finished level).
      dtype: the decoders' precision on disk, "float16" or "float32" (`decoder_files.save_decoder`).

    Returns:
      The decoders folder.

    Raises:
      StyleJaxError: an unknown level, no readable photo, settings that do not fit the devices, an unknown
        `dtype`, a folder holding another training's checkpoints, or, for AdaIN, a level without a
        reconstruction decoder in `output` or a `style_weight` that is not positive.
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
    objective = "reconstruction" if style_images is None else "adain"
    if objective == "adain" and not style_weight > 0:
        raise StyleJaxError(f"`style_weight` must be positive, got {style_weight!r}")
    mesh = mesh if mesh is not None else training_mesh()
    check_batch_split(settings.batch_size, mesh)

    def opened(root, seed):
        return open_training_images(root, settings.size, settings.batch_size, seed, log)

    # The styles in another order than the photos (seed + 1): the same folder may serve as both.
    training = DecoderData(objective, opened(images, settings.seed),
                         None if style_images is None else opened(style_images, settings.seed + 1), style_weight)
    starts = {}
    if objective == "adain":
        have = read_decoders_json(folder)["levels"] if (folder / DECODERS_JSON).exists() else {}
        if missing := [level for level in levels if level not in have]:
            raise StyleJaxError(f"{folder} has no {', '.join(missing)} decoder to train on with AdaIN's objective: "
                                "train it for reconstruction first (without `style_images`)")
        starts = load_decoders(folder, tuple(levels))
    evaluation = evaluation_crops(eval_images)
    encoder_def, encoder = reconstruction.encoder_weights(load_vgg("vgg16", pooling=reconstruction.ENCODER_POOLING))
    for level in sorted(levels, key=LEVELS.index):
        done = _finished_steps(folder, level, settings, objective)
        if done is not None and done >= per_level[level]:
            log(f"{level}: trained {done} steps already" + (" with AdaIN's objective" if objective == "adain" else ""))
            continue
        start = starts[level] if level in starts else Decoder(level, width=settings.width, rngs=nnx.Rngs(settings.seed))
        decoder = _train_level(start, per_level[level], training, settings, folder, evaluation=evaluation,
                               encoder=(encoder_def, encoder), mesh=mesh, progress=progress, log=log)
        if is_writer():
            info = dict(steps=per_level[level], training=_training_record(settings, training, images, style_images))
            save_decoder(folder, decoder, info | last_eval(level_folder(folder, level, objective)), dtype=dtype,
                         objective=objective)
    return folder


def _finished_steps(folder: Path, level: str, settings: DecoderSettings, objective: str) -> int | None:
    """Steps of the level already in the folder's decoders.json by these settings, or None."""
    if not (folder / DECODERS_JSON).exists():
        return None
    entry = read_decoders_json(folder)["levels"].get(level)
    if entry is not None and objective == "adain":
        entry = entry.get("adain")
    if entry is None or entry.get("training", {}).get("settings") != dataclasses.asdict(settings):
        return None
    return int(entry.get("steps", 0))


def _training_record(settings: DecoderSettings, training: DecoderData, images, style_images) -> dict:
    record = dict(settings=dataclasses.asdict(settings), images=str(images), image_files=len(training.data.paths),
                  unreadable=len(training.data.unreadable), devices=[str(d.device_kind) for d in jax.devices()][:1])
    if training.styles is not None:
        record |= dict(objective="adain", style_images=str(style_images), style_files=len(training.styles.paths),
                       style_weight=training.style_weight)
    return record


def _train_level(start: Decoder, steps: int, training: DecoderData, settings: DecoderSettings, output: Path, *,
                 evaluation: np.ndarray | None, encoder: tuple, mesh, progress, log) -> Decoder:
    encoder_def, encoder_weights = encoder
    level = start.level
    folder = level_folder(output, level, training.objective)
    folder.mkdir(parents=True, exist_ok=True)
    decoder_def, params = nnx.split(start, nnx.Param)
    optimizer = reconstruction.decoder_optimizer(settings.learning_rate, settings.decay)
    if training.objective == "adain":
        objective = AdainTraining(encoder_def, decoder_def, level, training.style_weight)
        terms_names = ("content", "style")
    else:
        objective = reconstruction.Reconstruction(encoder_def, decoder_def, level, settings.pixel_weight,
                                                  settings.feature_weight)
        terms_names = ("pixel", "feature")
    replicated = NamedSharding(mesh, P())
    state = jax.device_put(reconstruction.init_state(params, optimizer), replicated)
    encoder_weights = jax.device_put(encoder_weights, replicated)
    step_fn = reconstruction.decoder_step(objective, optimizer, mesh)
    rows, writer = my_rows(settings.batch_size), is_writer()
    photos = training.data.sample_crops()
    samples = SampleSheet(photos, training.sample_styles(len(photos)), level,
                          (decoder_def, encoder_def, encoder_weights))
    began = time.perf_counter()
    with contextlib.ExitStack() as stack:
        checkpoints = stack.enter_context(contextlib.closing(
            TrainingCheckpoints(folder, training.key(level, settings))))
        restored = checkpoints.restore(state)
        if restored is not None:
            state = jax.device_put(restored, replicated)
            log(f"{level}: resuming from step {int(state.step)}")
        first = int(state.step)
        train_log = stack.enter_context(contextlib.closing(reports.TrainLog(folder, first, terms_names))) \
            if writer else None
        evals = stack.enter_context(contextlib.closing(EvalLog(folder, first))) if writer else None
        batches = stack.enter_context(contextlib.closing(training.batches(first, steps, rows, settings.seed)))
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
                sheet = samples.rows(state.params)
                if writer:
                    reports.save_samples(folder, done, samples.inputs, list(sheet.values()), list(sheet))
                    if evaluation is not None:
                        evals.add(done, time.perf_counter() - began, mean_psnr(
                            decoder_def, state.params, encoder_def, encoder_weights, evaluation))
            if progress:
                progress(level, done, terms)
            fetched = time.perf_counter()
    if writer:
        reports.plot_loss(folder)
    nnx.update(start, jax.tree.map(np.asarray, state.params))
    return start
