"""Model folders: saved and loaded exactly; damaged or foreign folders are one StyleJaxError."""

import json

import jax
import numpy as np
import pytest
from flax import nnx
from style_networks import random_network

import stylejax
from stylejax.network.model_dir import save_model


@pytest.fixture()
def model(tmp_path):
    folder = tmp_path / "model"
    folder.mkdir()
    network = random_network(8, 2, seed=4)
    save_model(folder, network, {"styles": [{"name": "a.png"}, {"name": "b.png"}]})
    return folder, network


def test_saved_and_loaded_exactly(model):
    folder, network = model
    net = stylejax.load_network(folder)
    for a, b in zip(jax.tree.leaves(nnx.state(network, nnx.Param)), jax.tree.leaves(net.params), strict=True):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    assert net.style_names == ["a.png", "b.png"] and json.loads((folder / "model.json").read_text())["width"] == 8


def test_damaged_or_foreign_folders_are_one_error(model, tmp_path):
    folder, _ = model
    with pytest.raises(stylejax.StyleJaxError, match="not a style network"):
        stylejax.load_network(tmp_path)
    (folder / "model.json").write_text("{not json")
    with pytest.raises(stylejax.StyleJaxError, match="damaged"):
        stylejax.load_network(folder)
    (folder / "model.json").write_text(json.dumps({"format": "pickle"}))
    with pytest.raises(stylejax.StyleJaxError, match="not a stylejax style network"):
        stylejax.load_network(folder)


def test_missing_or_mismatched_parameters_are_one_error(model):
    folder, _ = model
    record = json.loads((folder / "model.json").read_text())
    (folder / "model.json").write_text(json.dumps(record | {"width": 16}))
    with pytest.raises(stylejax.StyleJaxError, match="damaged"):
        stylejax.load_network(folder)
    (folder / "model.json").write_text(json.dumps(record))
    for stored in [p for p in (folder / "params").rglob("*") if p.is_file()]:  # whatever orbax laid out there
        stored.write_bytes(b"")
    with pytest.raises(stylejax.StyleJaxError, match="damaged"):
        stylejax.load_network(folder)
