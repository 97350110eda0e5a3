"""A decoders folder: saved and loaded (float16 and float32), and every missing or damaged part refused in one error."""

import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from stylejax.errors import StyleJaxError
from stylejax.network.decoder_files import (
    DECODERS_JSON,
    load_decoders,
    read_decoders_json,
    save_decoder,
    shipped_decoders,
)
from stylejax.nn.decoders import Decoder


def random_decoder(level: str, seed: int = 0) -> Decoder:
    decoder = Decoder(level, width=0.25, rngs=nnx.Rngs(seed))
    last = decoder.convs[-1].kernel  # a new decoder's last kernel is zero: give it values to round-trip
    last.set_value(jax.random.normal(jax.random.key(seed), last.shape))
    return decoder


def params(decoder: Decoder) -> list[np.ndarray]:
    return [np.asarray(x) for x in jax.tree.leaves(nnx.state(decoder, nnx.Param))]


@pytest.fixture()
def folder(tmp_path):
    """relu2_1 saved in float32, then relu1_1 in float16 (decoders.json lists them shallow first)."""
    save_decoder(tmp_path / "decoders", random_decoder("relu2_1", 1), {"steps": 7}, dtype="float32")
    save_decoder(tmp_path / "decoders", random_decoder("relu1_1", 2), {"steps": 3})
    return tmp_path / "decoders"


def test_decoders_load_as_saved_and_decoders_json_says_how(folder):
    record = read_decoders_json(folder)
    assert list(record["levels"]) == ["relu1_1", "relu2_1"]
    assert record["levels"]["relu2_1"] | {"sha256": None} == dict(
        width=0.25, file="relu2_1.npz", sha256=None, dtype="float32", steps=7)
    decoders = load_decoders(folder)
    assert list(decoders) == ["relu1_1", "relu2_1"] and decoders["relu2_1"].width == 0.25
    for got, want in zip(params(decoders["relu2_1"]), params(random_decoder("relu2_1", 1)), strict=True):
        np.testing.assert_array_equal(got, want)  # float32: exactly
    for got, want in zip(params(decoders["relu1_1"]), params(random_decoder("relu1_1", 2)), strict=True):
        assert got.dtype == np.float32
        np.testing.assert_allclose(got, want, rtol=1e-3, atol=1e-7)  # float16's rounding, no more
    assert list(load_decoders(folder, levels=("relu2_1",))) == ["relu2_1"]


def damage_json(folder):
    (folder / DECODERS_JSON).write_text('{"format": "stylejax-decoders", "levels": ')


def not_ours(folder):
    (folder / DECODERS_JSON).write_text(json.dumps({"format": "something-else", "levels": {}}))


def change_a_byte(folder):
    data = bytearray((folder / "relu1_1.npz").read_bytes())
    data[len(data) // 2] ^= 1
    (folder / "relu1_1.npz").write_bytes(bytes(data))


def swap_arrays(folder):
    """relu1_1's file holds relu2_1's arrays, its hash updated to match: the shapes give it away."""
    (folder / "relu1_1.npz").write_bytes((folder / "relu2_1.npz").read_bytes())
    record = json.loads((folder / DECODERS_JSON).read_text())
    record["levels"]["relu1_1"]["sha256"] = record["levels"]["relu2_1"]["sha256"]
    (folder / DECODERS_JSON).write_text(json.dumps(record))


def no_levels(folder):
    record = json.loads((folder / DECODERS_JSON).read_text())
    (folder / DECODERS_JSON).write_text(json.dumps(record | {"levels": {}}))


@pytest.mark.parametrize("damage, levels, message", [
    (lambda folder: (folder / DECODERS_JSON).unlink(), None, "not a decoders folder"),
    (damage_json, None, "damaged"),
    (not_ours, None, "not a stylejax decoders file"),
    (lambda folder: (folder / "relu1_1.npz").unlink(), None, "missing or changed"),
    (change_a_byte, None, "missing or changed"),
    (swap_arrays, None, "do not fit a relu1_1 decoder"),
    (no_levels, None, "holds no decoder yet"),
    (lambda folder: None, ("relu1_1", "relu3_1"), "has no decoder for relu3_1"),
], ids=["no-json", "damaged-json", "not-ours", "missing-file", "changed-file", "wrong-arrays", "empty", "no-level"])
def test_a_missing_or_damaged_folder_is_one_error(folder, damage, levels, message):
    damage(folder)
    with pytest.raises(StyleJaxError, match=message) as error:
        load_decoders(folder, levels=levels)
    assert "\n" not in str(error.value)


def test_a_precision_decoders_are_not_saved_in_is_refused_before_writing(tmp_path):
    with pytest.raises(StyleJaxError, match="`dtype` must be one of float16, float32"):
        save_decoder(tmp_path / "decoders", random_decoder("relu1_1"), {}, dtype="int8")
    assert not (tmp_path / "decoders").exists()


def test_the_shipped_decoders_load_and_reconstruct_a_photo_they_never_saw(weights_cache):
    from skimage import data

    import stylejax
    from stylejax.autoencoder.reconstruction import ENCODER_POOLING, psnr
    from stylejax.io import images

    decoders = load_decoders()  # the checkout's weights/decoders/vgg16: nothing downloaded
    assert tuple(decoders) == ("relu1_1", "relu2_1", "relu3_1", "relu4_1")
    vgg = stylejax.load_vgg("vgg16", pooling=ENCODER_POOLING)
    photo = jnp.asarray(images.resize(np.asarray(data.astronaut(), np.float32) / 255, (64, 64)))[None]
    for level, floor in (("relu1_1", 25.0), ("relu2_1", 20.0)):  # measured 30 and 27 dB at 256 px
        assert float(psnr(decoders[level](vgg(photo, (level,))[level]), photo)[0]) > floor
    # AdaIN's own relu4_1 decoder ships beside the reconstruction one; the other levels are shared.
    adain = load_decoders(objective="adain")
    assert read_decoders_json(shipped_decoders())["levels"]["relu4_1"]["adain"]["file"] == "relu4_1-adain.npz"
    assert any(np.abs(a - b).max() > 1e-3 for a, b in zip(params(adain["relu4_1"]), params(decoders["relu4_1"]),
                                                          strict=True))


def test_an_adain_decoder_is_loaded_for_adain_where_a_level_has_one_and_survives_retraining(folder):
    save_decoder(folder, random_decoder("relu2_1", 5), {"steps": 9}, objective="adain")
    assert read_decoders_json(folder)["levels"]["relu2_1"]["adain"]["file"] == "relu2_1-adain.npz"
    adain, plain = load_decoders(folder, objective="adain"), load_decoders(folder)
    for got, want in zip(params(adain["relu2_1"]), params(random_decoder("relu2_1", 5)), strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-3, atol=1e-7)
    for got, want in zip(params(plain["relu2_1"]), params(random_decoder("relu2_1", 1)), strict=True):
        np.testing.assert_array_equal(got, want)  # the reconstruction decoder for WCT, unchanged
    for got, want in zip(params(adain["relu1_1"]), params(plain["relu1_1"]), strict=True):
        np.testing.assert_array_equal(got, want)  # no AdaIN decoder at relu1_1: the reconstruction one
    save_decoder(folder, random_decoder("relu2_1", 6), {"steps": 8})  # the level retrained for reconstruction
    assert read_decoders_json(folder)["levels"]["relu2_1"]["adain"]["steps"] == 9
    with pytest.raises(StyleJaxError, match="no relu3_1 decoder: train it for reconstruction first"):
        save_decoder(folder, random_decoder("relu3_1"), {}, objective="adain")
    assert not (folder / "relu3_1-adain.npz").exists()
