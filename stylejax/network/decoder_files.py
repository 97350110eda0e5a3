"""Trained decoders on disk: a folder of DECODERS/decoders.json and one DECODERS/<level>.npz per level.

A level may also have a decoder trained with AdaIN's objective (`autoencoder.adain_objective`),
DECODERS/<level>-adain.npz, recorded under its level's "adain" key: `load_decoders(objective="adain")`
takes it where a level has one and the reconstruction decoder elsewhere.

The arrays are plain `.npz` (read with `allow_pickle=False`: no code runs), half precision by default:
rounding the weights to float16 changed the reconstructions by less than 0.05 dB PSNR (weights/decoders/
README.md), and halves the repository's share. decoders.json records, per level, the decoder's width, its
file's sha256, and how it was trained; loading checks all of it and raises one StyleJaxError for anything
missing or damaged. The decoders stylejax ships live in the checkout's weights/decoders/ (`shipped_decoders`).
"""

from __future__ import annotations

import io
import json
import os
from pathlib import Path

import numpy as np
from flax import nnx

from stylejax.errors import StyleJaxError
from stylejax.io.atomic import atomic_output
from stylejax.nn.decoders import LEVELS, Decoder
from stylejax.nn.readers import file_sha256

DECODERS_JSON = "decoders.json"
FORMAT = "stylejax-decoders"
FORMAT_VERSION = 1
DTYPES = ("float16", "float32")  # the precisions a decoder's arrays are saved in
OBJECTIVES = ("reconstruction", "adain")  # what a decoder was trained for


def shipped_decoders() -> Path:
    """The trained decoders stylejax ships: $STYLEJAX_DECODERS, or the checkout's weights/decoders/vgg16."""
    if env := os.environ.get("STYLEJAX_DECODERS"):
        return Path(env).expanduser()
    return Path(__file__).resolve().parents[2] / "weights" / "decoders" / "vgg16"


def read_decoders_json(folder: str | os.PathLike) -> dict:
    """decoders.json of a decoders folder; raises StyleJaxError if it is missing, damaged or not ours."""
    path = Path(folder) / DECODERS_JSON
    try:
        record = json.loads(path.read_text())
    except FileNotFoundError:
        raise StyleJaxError(f"{folder}: not a decoders folder (no {DECODERS_JSON}): give a folder written by "
                            "`stylejax train-decoders`") from None
    except (OSError, ValueError) as e:
        raise StyleJaxError(f"{path}: damaged ({e}): train the decoders again or restore the folder") from None
    if not isinstance(record, dict) or record.get("format") != FORMAT or not isinstance(record.get("levels"), dict):
        raise StyleJaxError(f"{path}: not a stylejax decoders file: give a folder written by `stylejax train-decoders`")
    return record


def check_dtype(dtype: str) -> None:
    """Raises StyleJaxError for a precision decoders are not saved in (see DTYPES)."""
    if dtype not in DTYPES:
        raise StyleJaxError(f"`dtype` must be one of {', '.join(DTYPES)}, got {dtype!r}")


def save_decoder(folder: Path, decoder: Decoder, info: dict, *, dtype: str = "float16",
                 objective: str = "reconstruction") -> Path:
    """Writes `folder`/<level>.npz (<level>-adain.npz) and adds it to `folder`/decoders.json (both atomically).

    Args:
      folder: the decoders folder (made if missing; for "adain", holding the level's reconstruction decoder).
      decoder: the trained decoder.
      info: what decoders.json records for the level beside its width, file and hash (steps, PSNR, ...).
      dtype: the arrays' precision on disk, "float16" or "float32".
      objective: what the decoder was trained for, "reconstruction" or "adain".

    Returns:
      The .npz file.

    Raises:
      StyleJaxError: a `dtype` not in DTYPES, an unknown objective, or an AdaIN decoder for a level the folder
        has no reconstruction decoder for; nothing is written then.
    """
    check_dtype(dtype)
    path = folder / DECODERS_JSON
    record = read_decoders_json(folder) if path.exists() else dict(format=FORMAT, format_version=FORMAT_VERSION,
                                                                    encoder=decoder.arch, levels={})
    if objective not in OBJECTIVES:
        raise StyleJaxError(f"`objective` must be one of {', '.join(OBJECTIVES)}, got {objective!r}")
    if objective == "adain" and decoder.level not in record["levels"]:
        raise StyleJaxError(f"{folder} has no {decoder.level} decoder: train it for reconstruction first")
    folder.mkdir(parents=True, exist_ok=True)
    arrays = {".".join(map(str, path)): np.asarray(value, dtype)
              for path, value in nnx.to_flat_state(nnx.state(decoder, nnx.Param))
              for value in [value.get_value() if hasattr(value, "get_value") else value]}
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    file = folder / (f"{decoder.level}.npz" if objective == "reconstruction" else f"{decoder.level}-adain.npz")
    with atomic_output(file) as tmp:
        tmp.write_bytes(buffer.getvalue())
    entry = dict(width=decoder.width, file=file.name, sha256=file_sha256(file), dtype=dtype) | info
    if objective == "adain":
        record["levels"][decoder.level]["adain"] = entry
    else:  # a retrained reconstruction decoder keeps the level's AdaIN one, if any
        adain = record["levels"].get(decoder.level, {}).get("adain")
        record["levels"][decoder.level] = entry if adain is None else entry | {"adain": adain}
    record["levels"] = {level: record["levels"][level] for level in LEVELS if level in record["levels"]}
    with atomic_output(path) as tmp:
        tmp.write_text(json.dumps(record, indent=2) + "\n")
    return file


def adain_levels(folder: str | os.PathLike | None = None) -> tuple[str, ...]:
    """The levels of a folder (default: the shipped ones) that have an AdaIN-trained decoder."""
    folder = Path(folder) if folder is not None else shipped_decoders()
    return tuple(level for level, entry in read_decoders_json(folder)["levels"].items() if "adain" in entry)


def load_decoders(folder: str | os.PathLike | None = None, levels: tuple[str, ...] | None = None, *,
                  objective: str = "reconstruction") -> dict[str, Decoder]:
    """The decoders of a folder (default: the shipped ones), {level: Decoder} in float32, deepest last.

    Args:
      folder: a folder written by `train_decoders` / `save_decoder`.
      levels: the levels wanted (default: every level the folder has).
      objective: "adain" takes each level's AdaIN-trained decoder where it has one (its reconstruction
        decoder elsewhere); "reconstruction" the reconstruction decoders.

    Raises:
      StyleJaxError: the folder, a wanted level or a file is missing, damaged or not what decoders.json says.
    """
    folder = Path(folder) if folder is not None else shipped_decoders()
    record = read_decoders_json(folder)
    available = record["levels"]
    wanted = tuple(levels) if levels is not None else tuple(available)
    if not wanted:
        raise StyleJaxError(f"{folder}: holds no decoder yet: finish `stylejax train-decoders` first")
    missing = [level for level in wanted if level not in available]
    if missing:
        have = ", ".join(available) or "none"
        raise StyleJaxError(f"{folder} has no decoder for {', '.join(missing)} (it has {have}): train them or use "
                            "the levels it has")
    decoders = {}
    for level in sorted(wanted, key=LEVELS.index):
        entry = available[level].get("adain", available[level]) if objective == "adain" else available[level]
        file = folder / str(entry.get("file"))
        if not file.is_file() or file_sha256(file) != entry.get("sha256"):
            raise StyleJaxError(f"{file}: missing or changed since it was written (sha256 differs): "
                                "train the decoders again or restore the folder")
        decoder = Decoder(level, arch=record.get("encoder", "vgg16"), width=entry["width"])
        _load_arrays(decoder, file)
        decoders[level] = decoder
    return decoders


def _load_arrays(decoder: Decoder, file: Path) -> None:
    state = nnx.state(decoder, nnx.Param)
    expected = dict(nnx.to_flat_state(state))
    try:
        with np.load(file, allow_pickle=False) as stored:
            arrays = {key: stored[key] for key in stored.files}
    except (OSError, ValueError) as e:
        raise StyleJaxError(f"{file}: damaged ({e}): train the decoders again or restore the folder") from None
    names = {".".join(map(str, path)): path for path in expected}
    if set(arrays) != set(names) or any(arrays[n].shape != expected[p].get_value().shape for n, p in names.items()):
        raise StyleJaxError(f"{file}: its arrays do not fit a {decoder.level} decoder of width {decoder.width}: "
                            "train the decoders again or restore the folder")
    flat = [(path, np.asarray(arrays[name], np.float32)) for name, path in names.items()]
    nnx.update(decoder, nnx.from_flat_state(flat))
