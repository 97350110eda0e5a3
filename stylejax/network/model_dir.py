"""A trained style network on disk: MODEL/model.json (what it is) and MODEL/params (orbax arrays).

Loading reads JSON and arrays only (no pickle, no code runs), checks the arrays against the network
model.json describes, and raises one StyleJaxError for anything damaged or missing.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import jax
import numpy as np
from flax import nnx

from stylejax.errors import StyleJaxError
from stylejax.io.atomic import atomic_output
from stylejax.nn.style_network import StyleNetwork

FORMAT = "stylejax-style-network"
FORMAT_VERSION = 1
ARCHITECTURE = "johnson2016-reflect-instancenorm-upsample"
MODEL_JSON = "model.json"
PARAMS = "params"


def save_model(folder: Path, network: StyleNetwork, info: dict, *, primary: bool = True) -> None:
    """Writes `folder`/params and `folder`/model.json (info plus the format, architecture, width, styles).

    model.json is written last, atomically (`io.atomic`): a folder with it is complete.
    After `jax.distributed.initialize`, every process must call this with the same network: orbax's save
    is collective (its barriers wait for every process; process 0 writes the arrays).

    Args:
      folder: the model folder (exists).
      network: the network whose parameters are written.
      info: what model.json records beside the format, architecture, width and styles.
      primary: whether this process writes model.json (one process of a multi-process job).
    """
    from importlib.metadata import version  # not stylejax.__version__: the package root imports every layer

    import orbax.checkpoint as ocp

    params = nnx.to_pure_dict(nnx.state(network, nnx.Param))
    target = (folder / PARAMS).absolute()
    with ocp.StandardCheckpointer() as checkpointer:  # closing it joins orbax's background thread
        # force: replaces an earlier params folder (process 0 deletes it, between orbax's barriers)
        checkpointer.save(target, jax.tree.map(np.asarray, params), force=True)
        checkpointer.wait_until_finished()
    if not primary:
        return
    record = dict(format=FORMAT, format_version=FORMAT_VERSION, architecture=ARCHITECTURE, width=network.width,
                  num_styles=network.num_styles, stylejax_version=version("stylejax")) | info
    with atomic_output(folder / MODEL_JSON) as tmp:
        tmp.write_text(json.dumps(record, indent=2) + "\n")


def read_model_json(folder: str | os.PathLike) -> dict:
    """model.json of a model folder, checked; raises StyleJaxError if it is missing, damaged or not ours."""
    folder = Path(folder)
    path = folder / MODEL_JSON
    if not path.is_file():
        raise StyleJaxError(f"{folder}: not a style network (no {MODEL_JSON}); train one with `stylejax train`")
    try:
        record = json.loads(path.read_text())
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise StyleJaxError(f"{path}: damaged ({e}); train the model again") from None
    if not isinstance(record, dict) or record.get("format") != FORMAT:
        raise StyleJaxError(f"{path}: not a stylejax style network's {MODEL_JSON}")
    if record.get("format_version") != FORMAT_VERSION or record.get("architecture") != ARCHITECTURE:
        raise StyleJaxError(f"{path}: format {record.get('format_version')} / {record.get('architecture')} is not "
                            f"one this stylejax reads ({FORMAT_VERSION} / {ARCHITECTURE})")
    for key in ("width", "num_styles"):
        if not isinstance(record.get(key), int) or record[key] < 1:
            raise StyleJaxError(f"{path}: damaged ({key} is {record.get(key)!r})")
    return record


def load_model(folder: str | os.PathLike) -> tuple[StyleNetwork, dict]:
    """(the network with its trained weights, model.json) of a model folder.

    Raises:
      StyleJaxError: not a model folder, or its model.json or parameters are damaged.
    """
    import orbax.checkpoint as ocp

    folder = Path(folder)
    record = read_model_json(folder)
    # The structure only (no weights drawn: drawing them eagerly compiles dozens of small programs).
    network = nnx.eval_shape(lambda: StyleNetwork(record["width"], record["num_styles"]))
    expected = jax.tree.map(lambda a: np.zeros(a.shape, a.dtype), nnx.to_pure_dict(nnx.state(network, nnx.Param)))
    try:
        with ocp.StandardCheckpointer() as checkpointer:
            params = checkpointer.restore((folder / PARAMS).absolute(), expected)
    except Exception as e:  # orbax raises many kinds (missing files, bad metadata, shape mismatch)
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise StyleJaxError(f"{folder / PARAMS}: damaged or not this network's parameters ({first[:200]})") from None
    shapes_ok = jax.tree.all(jax.tree.map(lambda a, b: np.shape(a) == np.shape(b), params, expected))
    finite = all(np.all(np.isfinite(np.asarray(a))) for a in jax.tree.leaves(params))
    if not shapes_ok or not finite:
        raise StyleJaxError(f"{folder / PARAMS}: damaged (wrong shapes or non-finite values); train the model again")
    state = nnx.state(network, nnx.Param)
    nnx.replace_by_pure_dict(state, params)
    nnx.update(network, state)
    return network, record
