"""`train_network`: the training loop of a style network, from style images and photos to a model folder.

The loop saves a checkpoint every `checkpoint_every` steps (`checkpoints`); run the same training again
after a kill and it restores the last one and ends with the same parameters, bit for bit on CPU. Along
the way it writes train.csv and sample sheets (`reports`); at the end the model folder (`model_dir`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import os
import shutil
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx
from jax.sharding import NamedSharding
from jax.sharding import PartitionSpec as P

from stylejax.errors import StyleJaxError
from stylejax.io.images import load_image
from stylejax.network import reports
from stylejax.network.checkpoints import CHECKPOINTS, TrainingCheckpoints, training_key
from stylejax.network.data import open_training_images
from stylejax.network.model_dir import MODEL_JSON, save_model
from stylejax.network.multihost import (
    check_batch_split,
    global_batch,
    is_writer,
    my_rows,
    sync_processes,
    training_mesh,
)
from stylejax.network.settings import TrainSettings
from stylejax.network.step import init_state, network_optimizer, train_step
from stylejax.nn.readers import file_sha256
from stylejax.nn.style_network import StyleNetwork, one_hot_styles
from stylejax.nn.weights import load_vgg
from stylejax.objective.targets import prepare_shared, resolve_precision


@functools.partial(jax.jit, static_argnums=(0, 3))
def _apply_styles(network: nnx.GraphDef, params: nnx.State, images: jax.Array, num_styles: int) -> jax.Array:
    """(num_styles, b, h, w, 3): every image through every style."""
    net = nnx.merge(network, params)
    styles = one_hot_styles(jnp.arange(num_styles), num_styles)
    return jax.vmap(lambda s: net(images, s))(styles)


def train_network(styles: Sequence[str | os.PathLike], images: str | os.PathLike, output: str | os.PathLike,
                  settings: TrainSettings | None = None, *, mesh: jax.sharding.Mesh | None = None,
                  progress: Callable[[int, dict[str, float]], None] | None = None,
                  log: Callable[[str], None] = lambda line: None) -> Path:
    """Trains a feed-forward style network on one or more styles and writes it as a model folder.

    Resumable: run it again with the same arguments after a kill and it continues from the last
    checkpoint in OUTPUT/checkpoints, ending with the parameters an uninterrupted run would have.
    OUTPUT also gets train.csv, samples/ and loss.png.

    Args:
      styles: style image files; with several, the network holds one style per file (conditional
        instance norm) and each crop trains a style picked in turn.
      images: a folder of training photos, searched recursively.
      output: the model folder to write (made if missing).
      settings: the training's settings (default `TrainSettings()`).
      mesh: a 1-D ("data",) mesh the batch is split over; default: every local device, or after
        `jax.distributed.initialize` every device of every process (each process loads its rows of the batch
        and process 0 writes the files).
      progress: called after each step with (step, {term: value}).
      log: receives one-line notes (unreadable files, resuming).

    Returns:
      The model folder, for `load_network`.

    Raises:
      StyleJaxError: no readable training image, a bad style file or settings, a folder that is already
        a model or holds another training's checkpoints.

    Example:
      >>> stylejax.train_network(["starry.jpg"], "photos/", "starry-net",
      ...                        stylejax.TrainSettings(size=128, steps=500, width=16))
    """
    settings = settings or TrainSettings()
    folder = Path(output)
    if (folder / MODEL_JSON).exists():
        raise StyleJaxError(f"{folder} is already a trained model: give another `output`")
    style_paths = [Path(s) for s in styles]
    if folder.resolve().is_relative_to(Path(images).resolve()) or any(folder.resolve() == p.resolve()
                                                                     for p in style_paths):
        # Inside the training folder, its samples would become training images on the next run.
        raise StyleJaxError(f"{folder}: the model folder would be an input or inside `images`: give another `output`")
    if not style_paths:
        raise StyleJaxError("give at least one style image")
    style_images = [load_image(s) for s in style_paths]
    mesh = mesh if mesh is not None else training_mesh()
    check_batch_split(settings.batch_size, mesh)
    data = open_training_images(images, settings.size, settings.batch_size, settings.seed, log)

    config = settings.objective_config()
    vgg = load_vgg(config.model, pooling=config.pooling)
    objective, args = prepare_shared(vgg, style_images, config, style_masks=[None] * len(style_images))
    objective = dataclasses.replace(objective, precision=resolve_precision(settings.precision))
    network = StyleNetwork(settings.width, len(style_paths), rngs=nnx.Rngs(settings.seed))
    graphdef, params = nnx.split(network, nnx.Param)
    optimizer = network_optimizer(settings.learning_rate)
    replicated = NamedSharding(mesh, P())
    state = jax.device_put(init_state(params, optimizer), replicated)
    args = jax.device_put(args, replicated)
    step_fn = train_step(objective, graphdef, optimizer, mesh)
    style_ids_of = np.arange(settings.batch_size) % len(style_paths)
    rows, writer = my_rows(settings.batch_size), is_writer()  # this process's rows of each batch

    style_hashes = [file_sha256(p) for p in style_paths]
    key = training_key(settings, data, style_hashes)
    began = time.perf_counter()
    # Everything that holds threads or files is closed on the way out, also on an exception or a kill
    # (KeyboardInterrupt): orbax's manager, the loader's threads, train.csv. Left open, their threads
    # outlive the run and can crash the interpreter at exit.
    with contextlib.ExitStack() as stack:
        checkpoints = stack.enter_context(contextlib.closing(TrainingCheckpoints(folder, key)))
        restored = checkpoints.restore(state)
        if restored is not None:
            state = jax.device_put(restored, replicated)
            log(f"resuming from step {int(state.step)}")
        start = int(state.step)
        train_log = stack.enter_context(contextlib.closing(reports.TrainLog(folder, start))) if writer else None
        samples = data.sample_crops()
        batches = stack.enter_context(contextlib.closing(data.batches(start, settings.steps, rows=rows)))
        fetched = time.perf_counter()
        for step, batch in batches:
            tick = time.perf_counter()
            waited = tick - fetched  # how long the step waited for the loader: 0 when decoding keeps ahead
            # Styles cycle over the rows (and, shifted by the step, over devices) so each is trained every step.
            style_ids = np.asarray((style_ids_of[rows.start:rows.stop] + step) % len(style_paths), np.int32)
            state, terms = step_fn(state, global_batch(batch, mesh, settings.batch_size),
                                   global_batch(style_ids, mesh, settings.batch_size), args)
            terms = {name: float(v) for name, v in terms.items()}
            if not np.isfinite(sum(terms.values())):
                raise StyleJaxError(f"the loss stopped being finite at step {step + 1}: lower `learning_rate`")
            seconds = time.perf_counter() - tick
            if writer:
                train_log.add(step + 1, terms, settings.batch_size / seconds, time.perf_counter() - began, waited)
            done = step + 1
            if done % settings.checkpoint_every == 0 and done < settings.steps:
                checkpoints.save(state)
            if settings.sample_every and done % settings.sample_every == 0 or done == settings.steps:
                outputs = np.asarray(_apply_styles(graphdef, state.params, jnp.asarray(samples), len(style_paths)))
                if writer:
                    reports.save_samples(folder, done, samples, list(outputs), [p.stem for p in style_paths])
            if progress:
                progress(done, terms)
            fetched = time.perf_counter()
    nnx.update(network, jax.tree.map(np.asarray, state.params))
    info = dict(styles=[dict(name=p.name, sha256=h) for p, h in zip(style_paths, style_hashes, strict=True)],
                training=dataclasses.asdict(settings) | dict(images=str(images), image_files=len(data.paths),
                                                              unreadable=len(data.unreadable)),
                objective=dict(content_layers=list(config.content_layers), style_layers=list(config.style_layers),
                               content_weight=config.content_weight, style_weight=config.style_weight,
                               tv_weight=config.tv_weight, model=config.model, pooling=config.pooling,
                               precision=objective.precision))
    save_model(folder, network, info, primary=writer)  # every process: orbax's save is collective
    if writer:
        reports.plot_loss(folder)
        shutil.rmtree(folder / CHECKPOINTS, ignore_errors=True)
    sync_processes("stylejax train: model written")  # every process returns a complete folder
    return folder
