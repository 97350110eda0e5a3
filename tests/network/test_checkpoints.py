"""A training's checkpoints: the last state comes back whole; another training's are refused, not resumed."""

import dataclasses
import json
from contextlib import closing

import jax
import numpy as np
import optax
import pytest

from stylejax.errors import StyleJaxError
from stylejax.network.checkpoints import CHECKPOINTS, TrainingCheckpoints, training_key
from stylejax.network.data import TrainingImages
from stylejax.network.settings import TrainSettings
from stylejax.network.step import TrainState


def state(step, seed=0):
    rng = np.random.default_rng(seed)
    params = {"conv": {"kernel": rng.normal(size=(3, 3, 2, 4)).astype(np.float32)}}
    opt_state = optax.adam(1e-3).init(params)
    return TrainState(params, opt_state, np.int32(step))


def test_the_last_checkpoint_comes_back_whole(tmp_path):
    saved = state(4, seed=1)
    with closing(TrainingCheckpoints(tmp_path, "key")) as checkpoints:
        assert checkpoints.restore(state(0)) is None  # nothing saved yet
        checkpoints.save(state(2, seed=2))
        checkpoints.save(saved)
    assert [p.name for p in (tmp_path / CHECKPOINTS).iterdir()] == ["4"]  # only the last is kept
    with closing(TrainingCheckpoints(tmp_path, "key")) as checkpoints:
        restored = checkpoints.restore(state(0))
    assert int(restored.step) == 4
    for a, b in zip(jax.tree.leaves(saved), jax.tree.leaves(restored), strict=True):
        np.testing.assert_array_equal(a, b)


def test_another_trainings_checkpoints_are_refused(tmp_path):
    with closing(TrainingCheckpoints(tmp_path, "one training")) as checkpoints:
        checkpoints.save(state(2))
    with closing(TrainingCheckpoints(tmp_path, "another")) as checkpoints:
        with pytest.raises(StyleJaxError, match="holds checkpoints of a different training"):
            checkpoints.restore(state(0))


def test_the_key_changes_with_the_settings_the_data_and_the_styles(tmp_path):
    data = TrainingImages([tmp_path / "a.png", tmp_path / "b.png"], 32, 4, 0)
    settings = TrainSettings(size=32, batch_size=4)
    key = training_key(settings, data, ["abc"])
    assert json.loads(key)["styles"] == ["abc"]
    assert key != training_key(dataclasses.replace(settings, learning_rate=2e-3), data, ["abc"])
    assert key != training_key(settings, TrainingImages(data.paths, 32, 4, 1), ["abc"])  # another data order
    assert key != training_key(settings, data, ["abd"])
