"""A trained network as a serialized `jax.export` module (StableHLO) or an ONNX model, one style (or mix) baked in.

Both take images (b, h, w, 3) float32 in [0, 1] with symbolic b, h and w (h and w multiples of 4, at
least 12: pad other sizes by reflection first and crop after) and return them stylized. Any JAX
(`jax.export.deserialize(...).call`) or XLA runtime runs the first without stylejax; any ONNX runtime
(onnxruntime, ...) the second, converted by jax2onnx (`pip install 'stylejax[onnx]'`).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import jax
import jax.numpy as jnp

from stylejax.errors import StyleJaxError
from stylejax.io.atomic import atomic_output
from stylejax.network.function import StyleNetworkFunction

ONNX_SUFFIX = ".onnx"


def export_network(net: StyleNetworkFunction, style: jax.Array) -> jax.export.Exported:
    """The network with `style` (num_styles,) weights baked in, exported for symbolic (b, h, w)."""
    # Height and width as multiples of 4 (the network halves them twice): a symbolic size's reflection
    # padding up to a multiple of 4 does not lower. At least 12 px: reflection pads need room.
    b, h, w = jax.export.symbolic_shape("b, 4*hq, 4*wq", constraints=("hq >= 3", "wq >= 3"))

    def stylize(images):
        return net(images, style, rewrite=False)  # symbolic sizes: the plain layers

    return jax.export.export(jax.jit(stylize))(jax.ShapeDtypeStruct((b, h, w, 3), jnp.float32))


def onnx_network(net: StyleNetworkFunction, style: jax.Array):
    """The network with `style` (num_styles,) weights baked in as an ONNX model (an `onnx.ModelProto`).

    Input "images" and output "stylized", both (b, h, w, 3) float32 with symbolic b, h and w; h and w
    must be multiples of 4 and at least 12.

    Raises:
      StyleJaxError: jax2onnx is not installed.
    """
    # "mod(h, 4) == 0" rather than "4*hq": jax2onnx reads each symbol's size off an input dimension.
    b, h, w = jax.export.symbolic_shape(
        "b, h, w", constraints=("mod(h, 4) == 0", "mod(w, 4) == 0", "h >= 12", "w >= 12"))

    def stylize(images):
        return net(images, style, rewrite=False)  # symbolic sizes: the plain layers

    # Quiet: jax2onnx logs a traceback for each plugin whose library (dm_pix) fails to import with this
    # jax, and onnx_ir a warning for each shape tensor it cannot type; neither touches this network.
    loggers = [logging.getLogger(name) for name in ("jax2onnx", "onnx_ir")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.ERROR)
    try:
        try:
            from jax2onnx import to_onnx
        except ImportError:
            raise StyleJaxError("ONNX export needs jax2onnx: pip install 'stylejax[onnx]'") from None
        # jax2onnx traces nnx.Conv as its own `y + bias`, which rank promotion "raise" would refuse.
        with jax.numpy_rank_promotion("allow"):
            return to_onnx(stylize, [jax.ShapeDtypeStruct((b, h, w, 3), jnp.float32)], model_name="stylejax",
                           input_names=["images"], output_names=["stylized"])
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)


def write_export(net: StyleNetworkFunction, style: jax.Array, path: str | os.PathLike) -> Path:
    """Writes the network with `style` baked in to `path`: an ONNX model if it ends in .onnx, else
    `export_network(net, style).serialize()`, atomically (`io.atomic`)."""
    path = Path(path)
    if path.suffix.lower() == ONNX_SUFFIX:
        data = onnx_network(net, style).SerializeToString()
    else:
        data = export_network(net, style).serialize()
    with atomic_output(path) as tmp:
        tmp.write_bytes(data)
    return path
