"""Reading VGG weight files from other frameworks safely: no code in a file is ever run.

A pickle is unpickled with only numpy arrays and plain containers admitted; a torch file is opened with
`weights_only=True`; a Keras `.h5` is read as arrays by h5py.
"""

from __future__ import annotations

import hashlib
import os
import pickle
from pathlib import Path

import numpy as np

from stylejax.errors import StyleJaxError


class _ArraysOnlyUnpickler(pickle.Unpickler):
    """Admits numpy arrays and plain containers; any other class in the file is refused."""

    _ALLOWED = {
        ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
        ("numpy", "ndarray"), ("numpy", "dtype"), ("collections", "OrderedDict"),
    }

    def find_class(self, module: str, name: str):
        if (module, name) not in self._ALLOWED:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name}: only numpy arrays are allowed")
        return super().find_class(module, name)


def read_pickle(path: Path) -> dict:
    """A pickle of nested dicts of numpy arrays, read without running code from the file."""
    try:
        with open(path, "rb") as f:
            return _ArraysOnlyUnpickler(f).load()
    except (pickle.UnpicklingError, EOFError, ValueError) as e:
        raise StyleJaxError(f"{path}: not a plain pickle of numpy arrays ({e})") from None


def read_torch(path: Path) -> dict[str, np.ndarray]:
    """A torch state_dict `.pth`, loaded with weights_only=True (no code execution)."""
    try:
        import torch
    except ImportError:
        raise StyleJaxError("porting a .pth needs PyTorch: pip install 'stylejax[torch]'") from None
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # torch raises many types for a bad file
        raise StyleJaxError(f"{path}: not a readable torch state_dict ({type(e).__name__})") from None
    if isinstance(state, dict) and "state_dict" in state:
        state = state["state_dict"]
    if not isinstance(state, dict):
        raise StyleJaxError(f"{path}: holds a {type(state).__name__}, not a state_dict")
    return {k: v.float().numpy() for k, v in state.items() if hasattr(v, "numpy")}


def read_keras_h5(path: Path) -> dict[str, dict[str, np.ndarray]]:
    """Conv layers of a Keras `.h5` (whole model or weights only, Keras 2 or 3): {layer: {kernel, bias}}."""
    try:
        import h5py
    except ImportError:
        raise StyleJaxError("porting a .h5 needs h5py: pip install 'stylejax[keras]'") from None
    try:
        with h5py.File(path, "r") as f:
            root = f.get("model_weights", f)
            root = root.get("layers", root)
            layers = {}
            for name, group in root.items():
                if not isinstance(group, h5py.Group):
                    continue
                arrays = _datasets(group, h5py)
                kernels = [a for a in arrays if a.ndim == 4]
                biases = [a for a in arrays if a.ndim == 1]
                if len(kernels) == 1 and len(biases) == 1:
                    layers[name] = {"kernel": kernels[0], "bias": biases[0]}
    except OSError as e:
        raise StyleJaxError(f"{path}: not a readable HDF5 file ({e})") from None
    return layers


def _datasets(group, h5py) -> list[np.ndarray]:
    """Every array below an HDF5 group, in file order."""
    found = []

    def visit(_, obj):
        if isinstance(obj, h5py.Dataset):
            found.append(obj[()])

    group.visititems(visit)
    return found


def file_sha256(path: str | os.PathLike) -> str:
    """The SHA-256 of a file's bytes, read a megabyte at a time (ported weights and the style images a
    network was trained on are recorded by it)."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
