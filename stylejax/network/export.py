"""A trained network as a serialized `jax.export` module (StableHLO) with one style (or mix) baked in.

The module takes images (b, h, w, 3) float32 in [0, 1] with symbolic b, h and w (h and w multiples of 4,
at least 12: pad other sizes by reflection first and crop after) and returns them
stylized; any JAX (`jax.export.deserialize(...).call`) or XLA runtime can run it without stylejax.
"""

from __future__ import annotations

import os
from pathlib import Path

import jax
import jax.numpy as jnp

from stylejax.network.loaded import StyleNetworkFunction


def export_network(net: StyleNetworkFunction, style: jax.Array) -> jax.export.Exported:
    """The network with `style` (num_styles,) weights baked in, exported for symbolic (b, h, w)."""
    # Height and width as multiples of 4 (the network halves them twice): a symbolic size's reflection
    # padding up to a multiple of 4 does not lower. At least 12 px: reflection pads need room.
    b, h, w = jax.export.symbolic_shape("b, 4*hq, 4*wq", constraints=("hq >= 3", "wq >= 3"))

    def stylize(images):
        return net(images, style)

    return jax.export.export(jax.jit(stylize))(jax.ShapeDtypeStruct((b, h, w, 3), jnp.float32))


def write_export(net: StyleNetworkFunction, style: jax.Array, path: str | os.PathLike) -> Path:
    """Writes `export_network(net, style).serialize()` to `path` (through a temporary file and a rename)."""
    path = Path(path)
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_bytes(export_network(net, style).serialize())
    os.replace(temporary, path)
    return path
