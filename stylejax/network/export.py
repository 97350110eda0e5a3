"""For serving without stylejax: a serialized `jax.export` module (StableHLO) or an ONNX model of a trained network
(one style or mix baked in), or of the one-pass transfer (the painting an input: any style at serving time).

A network's module takes images (b, h, w, 3) float32 in [0, 1] with symbolic b, h and w (h and w multiples of
4, at least 12: pad other sizes by reflection first and crop after) and returns them stylized. The transfer's
takes photos (b, h, w, 3), a painting (h', w', 3) and alpha () (style strength in [0, 1]), with symbolic b,
h, w, h' and w': h and w multiples of the deepest level's stride (8 at relu4_1), at least twice it; h' and w'
any size from twice the stride. Any JAX (`jax.export.deserialize(...).call`) or XLA runtime runs the first
kind of file; any ONNX runtime (onnxruntime, ...) the second, converted by jax2onnx
(`pip install 'stylejax[onnx]'`). jax2onnx has no eigendecomposition beyond 2x2: an ONNX WCT takes its matrix
square roots by Newton-Schulz; and jax2onnx 0.12 converts a cascade of one level, or of the deepest and relu1_1,
but not one whose later levels pool again (`onnx_transfer`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import logging
import os
from collections.abc import Callable, Sequence
from pathlib import Path

import jax
import jax.numpy as jnp

from stylejax.autoencoder.settings import TransferSettings
from stylejax.errors import StyleJaxError
from stylejax.io.atomic import atomic_output
from stylejax.network.function import StyleNetworkFunction
from stylejax.network.transfer import OnePassTransfer

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

    return to_onnx(stylize, [jax.ShapeDtypeStruct((b, h, w, 3), jnp.float32)], ["images"], ["stylized"])


def write_export(net: StyleNetworkFunction, style: jax.Array, path: str | os.PathLike) -> Path:
    """Writes the network with `style` baked in to `path`: an ONNX model if it ends in .onnx, else
    `export_network(net, style).serialize()`, atomically (`io.atomic`)."""
    return write_atomically(path, lambda: onnx_network(net, style).SerializeToString(),
                            lambda: export_network(net, style).serialize())


def transfer_export_settings(path: str | os.PathLike, method: str = "adain", sqrt: str | None = None,
                             levels: str | Sequence[str] | None = None) -> TransferSettings:
    """The settings of the one-pass transfer exported to `path`.

    Args:
      path: the file to write (ONNX if it ends in .onnx).
      method: "adain" or "wct".
      sqrt: WCT's matrix square roots; None: "eigh" for jax.export, "newton_schulz" for ONNX (no eigh there).
      levels: the levels to run ("relu4_1,relu1_1" or a sequence), or None for the method's default among the
        decoders'.

    Raises:
      StyleJaxError: a bad setting.
    """
    if sqrt is None:
        sqrt = "newton_schulz" if Path(path).suffix.lower() == ONNX_SUFFIX else "eigh"
    return TransferSettings(method=method, sqrt=sqrt, levels=levels)


def export_transfer(transfer: OnePassTransfer, settings: TransferSettings | None = None) -> jax.export.Exported:
    """The one-pass transfer as a `jax.export` module of (photos, painting, alpha), symbolic sizes (module doc).

    `settings`' method, sqrt, levels and colours are baked in; its alpha, blend and sizes are not used.
    """
    cascade, weights, stride = _export_cascade(transfer, settings)
    b, h, w, hs, ws = jax.export.symbolic_shape(
        f"b, {stride}*hq, {stride}*wq, hs, ws", constraints=("hq >= 2", "wq >= 2", f"hs >= {2 * stride}",
                                                              f"ws >= {2 * stride}"))

    def stylize(photos, painting, alpha):
        return jax.vmap(lambda photo: cascade(weights, photo, (painting,), alpha))(photos)

    return jax.export.export(jax.jit(stylize))(*_transfer_inputs(b, h, w, hs, ws))


def onnx_transfer(transfer: OnePassTransfer, settings: TransferSettings | None = None):
    """The one-pass transfer as an ONNX model (an `onnx.ModelProto`): inputs "photos" (b, h, w, 3), "painting"
    (h', w', 3) and "alpha" (), output "stylized" (b, h, w, 3), all float32, sizes as the module doc says.

    Raises:
      StyleJaxError: WCT or painting colours with `sqrt` "eigh" (jax2onnx converts no eigendecomposition beyond
        2x2: use "newton_schulz"), levels jax2onnx 0.12 converts wrongly (a level after the first other than
        relu1_1), or jax2onnx is not installed.
    """
    settings = settings if settings is not None else TransferSettings(sqrt="newton_schulz")
    if settings.sqrt == "eigh" and (settings.method == "wct" or settings.painting_colors):
        raise StyleJaxError("`sqrt` 'eigh' cannot go to ONNX (jax2onnx converts no eigendecomposition beyond 2x2): "
                            "use newton_schulz")
    cascade, weights, stride = _export_cascade(transfer, settings)
    if any(level != "relu1_1" for level in cascade.levels[1:]):
        # jax2onnx 0.12's stand-in for nnx.max_pool keeps a symbolic size unhalved: harmless for the first
        # encoding, but a later level's encoding of a decoded image then asks onnxruntime for wrong shapes.
        raise StyleJaxError(f"`levels` {','.join(cascade.levels)} cannot go to ONNX (jax2onnx 0.12 gets the sizes "
                            "wrong where a later level pools again): give one level, or the deepest and relu1_1 "
                            "(e.g. relu4_1,relu1_1), or write a jax.export module")
    # "mod(h, 8) == 0" rather than "8*hq": jax2onnx reads each symbol's size off an input dimension.
    sides = ("h", "w", "hs", "ws")
    b, h, w, hs, ws = jax.export.symbolic_shape("b, h, w, hs, ws", constraints=(
        f"mod(h, {stride}) == 0", f"mod(w, {stride}) == 0", *(f"{side} >= {2 * stride}" for side in sides)))

    def stylize(photos, painting, alpha):
        # lax.map, not vmap: some of jax2onnx 0.12's batching rules fail with this jax.
        return jax.lax.map(lambda photo: cascade(weights, photo, (painting,), alpha), photos)

    return to_onnx(stylize, _transfer_inputs(b, h, w, hs, ws), ["photos", "painting", "alpha"], ["stylized"])


def write_transfer_export(transfer: OnePassTransfer, settings: TransferSettings, path: str | os.PathLike) -> Path:
    """Writes the one-pass transfer to `path`: an ONNX model if it ends in .onnx (`onnx_transfer`), else
    `export_transfer(transfer, settings).serialize()`, atomically (`io.atomic`).

    Raises:
      StyleJaxError: as `onnx_transfer`, or levels without a decoder.
    """
    return write_atomically(path, lambda: onnx_transfer(transfer, settings).SerializeToString(),
                            lambda: export_transfer(transfer, settings).serialize())


def to_onnx(function: Callable, inputs: Sequence[jax.ShapeDtypeStruct], input_names: Sequence[str],
            output_names: Sequence[str]):
    """`function` of `inputs` (symbolic shapes allowed) converted by jax2onnx, quietly.

    Raises:
      StyleJaxError: jax2onnx is not installed.
    """
    # Quiet: jax2onnx logs a traceback for each plugin whose library (dm_pix) fails to import with this
    # jax, and onnx_ir a warning for each shape tensor it cannot type; its convolutions print a debug line.
    loggers = [logging.getLogger(name) for name in ("jax2onnx", "onnx_ir")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.ERROR)
    try:
        try:
            from jax2onnx import to_onnx as convert
        except ImportError:
            raise StyleJaxError("ONNX export needs jax2onnx: pip install 'stylejax[onnx]'") from None
        # jax2onnx traces nnx.Conv as its own `y + bias`, which rank promotion "raise" would refuse.
        with jax.numpy_rank_promotion("allow"), contextlib.redirect_stdout(io.StringIO()):
            return convert(function, list(inputs), model_name="stylejax", input_names=list(input_names),
                           output_names=list(output_names))
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)


def write_atomically(path: str | os.PathLike, onnx: Callable[[], bytes], exported: Callable[[], bytes]) -> Path:
    """Writes `onnx()` to `path` if it ends in .onnx, else `exported()`, atomically (nothing on failure)."""
    path = Path(path)
    data = onnx() if path.suffix.lower() == ONNX_SUFFIX else exported()
    with atomic_output(path) as tmp:
        tmp.write_bytes(data)
    return path


def _export_cascade(transfer: OnePassTransfer, settings: TransferSettings | None):
    """(the cascade in its plain layers, its weights, its stride): sizes are symbolic."""
    cascade, weights = transfer.cascade(settings if settings is not None else TransferSettings())
    return dataclasses.replace(cascade, rewrite=False), weights, cascade.stride


def _transfer_inputs(b, h, w, hs, ws) -> list[jax.ShapeDtypeStruct]:
    return [jax.ShapeDtypeStruct((b, h, w, 3), jnp.float32), jax.ShapeDtypeStruct((hs, ws, 3), jnp.float32),
            jax.ShapeDtypeStruct((), jnp.float32)]
