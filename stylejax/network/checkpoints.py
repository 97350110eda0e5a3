"""A training's orbax checkpoints: MODEL/checkpoints holds its last (parameters, Adam's state, step).

Each checkpoint carries the key of the training that wrote it (`training_key`: the settings, the data
order's key and the style files' hashes), so a folder holding another training's checkpoints is refused,
never resumed. The data order is a function of (seed, step) (`data.TrainingImages`): a restored run sees
the batches an uninterrupted one would.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import jax
import numpy as np

from stylejax.errors import StyleJaxError
from stylejax.network.data import TrainingImages
from stylejax.network.settings import TrainSettings
from stylejax.network.step import TrainState

CHECKPOINTS = "checkpoints"


def training_key(settings: TrainSettings, data: TrainingImages, style_hashes: list[str]) -> str:
    """What makes a training's checkpoints its own: its settings, data order and style files."""
    return json.dumps(dict(settings=dataclasses.asdict(settings), data=data.order_key(), styles=style_hashes))


class TrainingCheckpoints:
    """The checkpoints of one training (`key`) in MODEL/checkpoints; close it when done (`contextlib.closing`).

    Args:
      model: the model folder.
      key: `training_key` of the training.
    """

    def __init__(self, model: Path, key: str):
        import orbax.checkpoint as ocp

        self.model, self.key = model, key
        folder = model / CHECKPOINTS
        folder.mkdir(parents=True, exist_ok=True)
        self.manager = ocp.CheckpointManager(folder.absolute(), options=ocp.CheckpointManagerOptions(
            max_to_keep=1, enable_async_checkpointing=False, create=False))

    def restore(self, fresh: TrainState) -> TrainState | None:
        """The last checkpoint (host arrays shaped as `fresh`), or None if there is none.

        Raises:
          StyleJaxError: the checkpoints are another training's.
        """
        import orbax.checkpoint as ocp

        step = self.manager.latest_step()
        if step is None:
            return None
        meta = self.manager.restore(step, args=ocp.args.Composite(meta=ocp.args.JsonRestore()))["meta"]
        if meta.get("key") != self.key:
            raise StyleJaxError(f"{self.model} holds checkpoints of a different training (other settings, images "
                                "or styles): give another `output`, or delete that folder to start again")
        target = jax.tree.map(np.asarray, fresh)
        return self.manager.restore(step, args=ocp.args.Composite(state=ocp.args.StandardRestore(target)))["state"]

    def save(self, state: TrainState) -> None:
        """Saves `state` as the checkpoint of its step, replacing the previous one; returns once it is written."""
        import orbax.checkpoint as ocp

        step = int(state.step)
        self.manager.save(step, args=ocp.args.Composite(
            state=ocp.args.StandardSave(jax.tree.map(np.asarray, state)),
            meta=ocp.args.JsonSave(dict(key=self.key, step=step))))
        self.manager.wait_until_finished()

    def close(self) -> None:
        """Stops orbax's threads."""
        self.manager.close()
