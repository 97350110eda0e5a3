"""Decoder training: killed and resumed ends bit-identical, a finished level is skipped and more steps continue it,
another training's checkpoints are refused."""

import csv
import json
import shutil

import jax
import numpy as np
import pytest
from flax import nnx

from stylejax.errors import StyleJaxError
from stylejax.network.decoder_files import DECODERS_JSON, load_decoders
from stylejax.network.decoder_training import DecoderSettings, level_folder, train_decoders
from stylejax.runtime.meshes import local_mesh

SETTINGS = DecoderSettings(size=16, batch_size=2, width=0.25, learning_rate=1e-2, checkpoint_every=2,
                           sample_every=0)
LEVELS = ("relu1_1", "relu2_1")


class Killed(Exception):
    pass


@pytest.fixture(scope="module")
def mesh():
    return local_mesh(jax.devices()[:2])  # data parallel: one crop per device


def train(photos, output, mesh, steps=4, levels=LEVELS, settings=SETTINGS, **kwargs):
    return train_decoders(photos, output, levels, steps, settings, mesh=mesh, dtype="float32", **kwargs)


def params(folder) -> dict[str, list[np.ndarray]]:
    return {level: [np.asarray(x) for x in jax.tree.leaves(nnx.state(decoder, nnx.Param))]
            for level, decoder in load_decoders(folder).items()}


def assert_identical(a: list[np.ndarray], b: list[np.ndarray]) -> None:
    for x, y in zip(a, b, strict=True):
        np.testing.assert_array_equal(x, y)


@pytest.fixture(scope="module")
def whole(photos, mesh, tmp_path_factory):
    """Both levels trained 4 steps without interruption; read only, the module's tests share it."""
    return train(photos, tmp_path_factory.mktemp("whole") / "decoders", mesh)


@pytest.mark.slow
def test_killed_and_resumed_ends_bit_identical_and_a_finished_level_is_skipped(whole, photos, mesh, tmp_path):
    def kill(level, step, terms):
        if (level, step) == ("relu2_1", 3):
            raise Killed  # after relu2_1's step-2 checkpoint, relu1_1 done
    with pytest.raises(Killed):
        train(photos, tmp_path / "resumed", mesh, progress=kill)
    assert list(json.loads((tmp_path / "resumed" / DECODERS_JSON).read_text())["levels"]) == ["relu1_1"]
    lines, steps = [], []
    train(photos, tmp_path / "resumed", mesh, log=lines.append, progress=lambda level, step, _: steps.append(step))
    assert "relu1_1: trained 4 steps already" in lines and "relu2_1: resuming from step 2" in lines
    assert steps == [3, 4]  # relu1_1 not trained again, relu2_1 from its checkpoint
    resumed, reference = params(tmp_path / "resumed"), params(whole)
    assert list(resumed) == list(LEVELS)
    for level in LEVELS:
        assert_identical(resumed[level], reference[level])
    with (level_folder(tmp_path / "resumed", "relu2_1") / "train.csv").open() as f:
        assert [int(r["step"]) for r in csv.DictReader(f)] == [1, 2, 3, 4]


@pytest.mark.slow
def test_more_steps_continue_a_finished_training(whole, photos, mesh, tmp_path):
    train(photos, tmp_path / "decoders", mesh, steps=2, levels=("relu1_1",))
    halfway = params(tmp_path / "decoders")["relu1_1"]
    assert any(np.abs(x - y).max() > 1e-4 for x, y in zip(halfway, params(whole)["relu1_1"], strict=True))
    lines = []
    train(photos, tmp_path / "decoders", mesh, steps=4, levels=("relu1_1",), log=lines.append)
    assert "relu1_1: resuming from step 2" in lines  # the steps asked for are not part of the training's key
    assert_identical(params(tmp_path / "decoders")["relu1_1"], params(whole)["relu1_1"])
    assert json.loads((tmp_path / "decoders" / DECODERS_JSON).read_text())["levels"]["relu1_1"]["steps"] == 4


@pytest.mark.slow  # the trained folder it copies
def test_a_folder_holding_another_training_s_checkpoints_is_refused(whole, photos, mesh, tmp_path):
    shutil.copytree(whole, tmp_path / "decoders")
    before = {p: p.read_bytes() for p in sorted((tmp_path / "decoders").rglob("*")) if p.is_file()}
    other = DecoderSettings(**{**SETTINGS.__dict__, "seed": 1})
    with pytest.raises(StyleJaxError, match="holds checkpoints of a different training"):
        train(photos, tmp_path / "decoders", mesh, settings=other)
    assert {p: p.read_bytes() for p in sorted((tmp_path / "decoders").rglob("*")) if p.is_file()} == before


def adain_params(folder, level="relu2_1") -> list[np.ndarray]:
    return [np.asarray(x) for x in jax.tree.leaves(nnx.state(load_decoders(folder, objective="adain")[level],
                                                             nnx.Param))]


@pytest.mark.slow
def test_adain_training_starts_from_the_reconstruction_decoder_and_resumes_bit_identical(whole, photos, mesh,
                                                                                        tmp_path):
    settings = DecoderSettings(**{**SETTINGS.__dict__, "learning_rate": 1e-3})
    for name in ("once", "resumed"):
        shutil.copytree(whole, tmp_path / name)
    train(photos, tmp_path / "once", mesh, levels=("relu2_1",), settings=settings, style_images=photos)

    def kill(level, step, terms):
        if step == 3:
            raise Killed  # after the step-2 checkpoint
    with pytest.raises(Killed):
        train(photos, tmp_path / "resumed", mesh, levels=("relu2_1",), settings=settings, style_images=photos,
              progress=kill)
    lines = []
    train(photos, tmp_path / "resumed", mesh, levels=("relu2_1",), settings=settings, style_images=photos,
          log=lines.append)
    assert "relu2_1: resuming from step 2" in lines
    assert_identical(adain_params(tmp_path / "resumed"), adain_params(tmp_path / "once"))
    # Trained on from the reconstruction decoder, which stays as it was for WCT.
    start, trained = params(whole)["relu2_1"], adain_params(tmp_path / "once")
    assert all(np.abs(x - y).max() < 0.05 for x, y in zip(trained, start, strict=True))
    assert any(np.abs(x - y).max() > 0 for x, y in zip(trained, start, strict=True))
    assert_identical(params(tmp_path / "once")["relu2_1"], start)
    with (level_folder(tmp_path / "resumed", "relu2_1", "adain") / "train.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert [int(r["step"]) for r in rows] == [1, 2, 3, 4] and {"content", "style"} <= set(rows[0])


def test_adain_training_needs_the_level_s_reconstruction_decoder(photos, mesh, tmp_path):
    with pytest.raises(StyleJaxError, match="has no relu2_1 decoder to train on with AdaIN's objective"):
        train(photos, tmp_path / "decoders", mesh, levels=("relu2_1",), style_images=photos)
    assert not (tmp_path / "decoders").exists()
