"""Porting from torchvision .pth and Keras .h5, checked activation by activation against PyTorch."""

import os
import pickle

import h5py
import numpy as np
import pytest
import torch
from torch_vgg import torchvision_like_vgg

import stylejax
from stylejax.nn import porting, readers, weights
from stylejax.nn.vgg import layer_names


def torch_relus(net: "torch.nn.Sequential", x: np.ndarray, arch: str) -> dict[str, np.ndarray]:
    """Every ReLU output of `net` on NCHW input `x`, as NHWC arrays keyed by stylejax name."""
    outputs, names = {}, iter(layer_names(arch))
    h = torch.from_numpy(x)
    with torch.no_grad():
        for layer in net:
            h = layer(h)
            if isinstance(layer, torch.nn.ReLU):
                outputs[next(names)] = h.numpy().transpose(0, 2, 3, 1)
    return outputs


def assert_relus_match(vgg, image: np.ndarray, reference: dict[str, np.ndarray]) -> None:
    got = vgg.features(image, layers=list(reference))
    for name, want in reference.items():
        np.testing.assert_allclose(np.asarray(got[name]), want, rtol=1e-5, atol=1e-5 * max(1.0, np.abs(want).max()),
                                   err_msg=name)


@pytest.mark.parametrize("arch", ["vgg19", "vgg16"])
def test_torchvision_state_dict_ports_exactly(arch, tmp_path):
    net = torchvision_like_vgg(arch, seed=1)
    state = {f"features.{k}": v for k, v in net.state_dict().items()}
    state["classifier.0.weight"] = torch.zeros(4, 4)  # real files carry the head; it is ignored
    path = tmp_path / f"{arch}.pth"
    torch.save(state, path)

    stored = stylejax.port_file(path, arch, name=f"test-{arch}")
    assert (stored / "manifest.json").is_file()
    vgg = stylejax.load_vgg(f"test-{arch}", pooling="max")

    image = np.random.default_rng(0).random((2, 32, 48, 3), np.float32)
    mean, std = np.array([0.485, 0.456, 0.406], np.float32), np.array([0.229, 0.224, 0.225], np.float32)
    x = ((image - mean) / std).transpose(0, 3, 1, 2).copy()
    assert_relus_match(vgg, image, torch_relus(net, x, arch))


@pytest.mark.slow
def test_keras_h5_ports_exactly_with_caffe_preprocessing(tmp_path):
    arch = "vgg19"
    net = torchvision_like_vgg(arch, seed=2)
    path = tmp_path / "vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5"
    convs = [m for m in net if isinstance(m, torch.nn.Conv2d)]
    with h5py.File(path, "w") as f:  # the Keras 2 layout: layer group / layer group / kernel:0, bias:0
        f.create_group("input_1")
        names = iter(porting.expected_shapes(arch))
        for conv in convs:
            block, index = next(names).removeprefix("conv").split("_")
            group = f.create_group(f"block{block}_conv{index}").create_group(f"block{block}_conv{index}")
            group["kernel:0"] = conv.weight.detach().numpy().transpose(2, 3, 1, 0)
            group["bias:0"] = conv.bias.detach().numpy()
        f.create_group("block1_pool")

    stylejax.port_file(path, arch, name="test-keras")
    vgg = stylejax.load_vgg("test-keras", pooling="max")
    assert vgg.preprocessing == "caffe"

    image = np.random.default_rng(1).random((1, 32, 32, 3), np.float32)
    x = (image[..., ::-1] * 255 - np.array([103.939, 116.779, 123.68], np.float32)).transpose(0, 3, 1, 2).copy()
    assert_relus_match(vgg, image, torch_relus(net, x, arch))


def test_wrong_architecture_is_named(tmp_path):
    net = torchvision_like_vgg("vgg16", seed=0)
    path = tmp_path / "vgg16.pth"
    torch.save({f"features.{k}": v for k, v in net.state_dict().items()}, path)
    with pytest.raises(stylejax.StyleJaxError, match="try `arch` vgg16"):
        stylejax.port_file(path, "vgg19", name="wrong")
    assert not (weights.weights_dir() / "wrong").exists()


def test_porting_refuses_to_overwrite(tmp_path):
    net = torchvision_like_vgg("vgg16", seed=0)
    path = tmp_path / "vgg16.pth"
    torch.save({f"features.{k}": v for k, v in net.state_dict().items()}, path)
    first = stylejax.port_file(path, "vgg16", name="twice")
    manifest = (first / "manifest.json").read_text()
    with pytest.raises(stylejax.StyleJaxError, match="already exist"):
        stylejax.port_file(path, "vgg16", name="twice")
    assert (first / "manifest.json").read_text() == manifest


class _Exploit:
    def __reduce__(self):
        return (os.system, ("touch exploited",))


def test_restricted_unpickler_refuses_code(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "evil.ckpt"
    path.write_bytes(pickle.dumps({"VGG16_0": _Exploit()}))
    with pytest.raises(stylejax.StyleJaxError, match="only numpy arrays"):
        readers.read_pickle(path)
    assert not (tmp_path / "exploited").exists()


def test_lpips_checkpoint_is_read_and_recorded(vgg16, weights_cache):
    import json

    manifest = json.loads((weights_cache / "vgg16" / "manifest.json").read_text())
    assert manifest["architecture"] == "vgg16" and manifest["preprocessing"] == "torchvision"
    assert manifest["source_sha256"] == readers.file_sha256(weights.lpips_vgg16_file())
    assert manifest["layers"]["conv5_3"]["kernel"] == [3, 3, 512, 512]
    tree = readers.read_pickle(weights.lpips_vgg16_file())
    np.testing.assert_array_equal(vgg16.convs[0].kernel[...], tree["VGG16_0"]["Conv_0"]["kernel"])


def test_missing_vgg19_says_how_to_port():
    with pytest.raises(stylejax.StyleJaxError, match="stylejax weights port FILE --arch vgg19"):
        stylejax.load_vgg("vgg19")


def test_overwriting_replaces_the_weights_and_leaves_no_staging_folders(tmp_path):
    first, second = torchvision_like_vgg("vgg16", seed=0), torchvision_like_vgg("vgg16", seed=1)
    for i, net in enumerate((first, second)):
        torch.save({f"features.{k}": v for k, v in net.state_dict().items()}, tmp_path / f"{i}.pth")
    stored = stylejax.port_file(tmp_path / "0.pth", "vgg16", name="replaced")
    stylejax.port_file(tmp_path / "1.pth", "vgg16", name="replaced", overwrite=True)
    manifest = (stored / "manifest.json").read_text()
    assert readers.file_sha256(tmp_path / "1.pth") in manifest
    assert not [p for p in stored.parent.iterdir() if p.name.startswith((".tmp-replaced", ".old-replaced"))]
