"""A bulk job's batch checkpoints: orbax, one folder per batch under OUTDIR/.checkpoints/KEY.

The key names the batch's inputs, settings and layout, so a re-run of the same job finds its batch's
checkpoint again (on the same host or, in a Ray fleet, on another worker) and a different job or
layout never restores it. The key is a hash, so each folder also lists its inputs (KEY/inputs.json):
a folder whose inputs all have their outputs can never be resumed (a re-run skips those inputs) and
is removed, whichever process or earlier run left it.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Sequence
from pathlib import Path

import jax
import numpy as np

from stylejax.config import StyleConfig
from stylejax.io.atomic import atomic_output
from stylejax.io.images import ImageLike
from stylejax.optim.loop import RunState
from stylejax.solve.batch import BatchSolver
from stylejax.solve.scales import Scale

CHECKPOINTS = ".checkpoints"  # under OUTDIR: one folder per batch in flight
INPUTS = "inputs.json"  # in a batch's folder: the names of the inputs it holds progress of


def batch_key(config: StyleConfig, styles: Sequence[ImageLike], names: Sequence[str], solver: BatchSolver) -> str:
    """The name of a batch's checkpoint folder.

    The padded row count, the device count and the vmap size shape the saved state: a re-run with another
    `--vmap-size` or on another number of devices gets another key and starts the batch afresh, rather than
    restoring a state laid out for a different program.
    """
    layout = [solver.padded(len(names)), solver.devices, solver.vmap_size]
    text = json.dumps([repr(config), [str(s) for s in styles], list(names), layout])
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def checkpoint_manager(directory: Path):
    """An orbax manager of one batch's checkpoints in `directory`, private to this host."""
    import orbax.checkpoint as ocp

    index = jax.process_index()
    # Each host checkpoints its own batches: no barriers with other hosts.
    directory.mkdir(parents=True, exist_ok=True)
    options = ocp.CheckpointManagerOptions(
        max_to_keep=1, enable_async_checkpointing=False, create=False,
        multiprocessing_options=ocp.options.MultiprocessingOptions(
            primary_host=index, active_processes={index}, barrier_sync_key_prefix=f"{directory.name}-{index}"))
    return ocp.CheckpointManager(directory.absolute(), options=options)


def _save_checkpoint(manager, step: int, state: RunState, progress: dict[str, np.ndarray]) -> None:
    import orbax.checkpoint as ocp

    tree = jax.tree.map(np.asarray, state)  # host-local numpy: orbax accepts these on any host
    manager.save(step, args=ocp.args.Composite(state=ocp.args.StandardSave(tree),
                                               progress=ocp.args.StandardSave(progress)))
    manager.wait_until_finished()


def _restore_checkpoint(manager, state: RunState, progress: dict[str, np.ndarray]
                        ) -> tuple[RunState, dict[str, np.ndarray]]:
    import orbax.checkpoint as ocp

    restored = manager.restore(manager.latest_step(), args=ocp.args.Composite(
        state=ocp.args.StandardRestore(jax.tree.map(np.asarray, state)),
        progress=ocp.args.StandardRestore(progress)))
    return restored["state"], restored["progress"]


class OrbaxCheckpoints:
    """A batch's checkpoints, numbered by steps over every scale, so the number gives the scale.

    Saves happen strictly inside a scale (after a chunk that is not the scale's last), so step numbers
    of different scales never meet.
    """

    def __init__(self, folder: Path, manager, scales: Sequence[Scale]):
        self.folder = folder
        self.manager = manager
        self.offsets = np.cumsum([0] + [scale.steps for scale in scales])[:-1]
        self.resumed_from: int | None = None  # the step over every scale a restore started from

    def latest(self) -> int | None:
        step = self.manager.latest_step()
        return None if step is None else int(np.searchsorted(self.offsets, step, side="left")) - 1

    def restore(self, scale: Scale, fresh: RunState) -> tuple[RunState, dict[str, np.ndarray]]:
        rows, offset = fresh.image.shape[0], int(self.offsets[scale.index])
        self.resumed_from = self.manager.latest_step()
        done = self.resumed_from - offset
        target = {"losses": np.zeros((rows, offset + done), np.float32),
                  "earlier_evaluations": np.zeros(rows, np.int64)}
        return _restore_checkpoint(self.manager, fresh, target)

    def save(self, scale: Scale, state: RunState, progress: dict[str, np.ndarray]) -> None:
        step = int(self.offsets[scale.index]) + int(np.asarray(state.step)[0])
        _save_checkpoint(self.manager, step, state, progress)

    def remove(self) -> None:
        """Deletes the batch's folder: its outputs are written, or it failed for good."""
        self.manager.close()
        shutil.rmtree(self.folder, ignore_errors=True)


def open_batch_checkpoints(outdir: Path, key: str, names: Sequence[str], scales: Sequence[Scale]
                           ) -> OrbaxCheckpoints:
    """The checkpoints of the batch `key` of inputs `names`, in OUTDIR/.checkpoints/KEY (made if new)."""
    folder = outdir / CHECKPOINTS / key
    folder.mkdir(parents=True, exist_ok=True)
    _write_inputs(folder, names)
    return OrbaxCheckpoints(folder, checkpoint_manager(folder), scales)


def _write_inputs(folder: Path, names: Sequence[str]) -> None:
    """Writes the folder's inputs atomically: a reader finds all of them or none (the folder is then kept)."""
    with atomic_output(folder / INPUTS) as tmp:
        tmp.write_text(json.dumps(list(names)))


def batch_inputs(folder: Path) -> list[str] | None:
    """The input names a checkpoint folder holds progress of; None if it does not say (yet)."""
    try:
        names = json.loads((folder / INPUTS).read_text())
    except (OSError, ValueError):
        return None
    return names if isinstance(names, list) else None


def remove_finished_checkpoints(outdir: Path) -> None:
    """Removes the checkpoint folders whose inputs all have their outputs, then .checkpoints if it is empty.

    Such a folder is left by a batch that regrouped on a re-run (some of its inputs got done, or others
    joined its bucket, so it has a new key). A batch still pending has an input without an output, so
    its folder stays, whoever owns it (another `--distributed` process writes in the same OUTDIR); so
    does a folder that does not list its inputs (one being made right now).
    """
    root = outdir / CHECKPOINTS
    if not root.is_dir():
        return
    for folder in root.iterdir():
        names = batch_inputs(folder)
        if names is not None and all((outdir / name).exists() for name in names):
            shutil.rmtree(folder, ignore_errors=True)
    try:
        root.rmdir()  # only when no batch is left in flight
    except OSError:
        pass
