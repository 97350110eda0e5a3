"""A style network on onnxruntime's CPU provider: `stylejax apply --runtime onnx`'s forward pass, and
`onnx_forward` for a library user.

The network, its style or mix baked in, is converted once by `network.export.onnx_network` (jax2onnx, with
symbolic batch, height and width: one model for every shape) and run by one onnxruntime session: on a CPU,
1.2-1.9x faster than XLA at 512 px (the 2-core AVX-512 CPU of docs/network.md). Each image is reflected up
to a multiple of 4 (as the network does inside) and cropped after, so it comes out as the JAX network's
output to float rounding. Needs `pip install 'stylejax[onnx]'`.
"""

from __future__ import annotations

import dataclasses
import importlib.util
from collections.abc import Sequence
from typing import Any

import jax
import numpy as np
from flax import nnx

from stylejax.errors import StyleJaxError
from stylejax.network.export import onnx_network
from stylejax.network.function import StyleNetworkFunction
from stylejax.nn.style_network import DOWNSAMPLING

ONNX_PACKAGES = ("onnxruntime", "jax2onnx")
# The export's reflection pads need a side of 8 at least once reflected up to a multiple of 4 (4 px fails in
# onnxruntime), where the JAX network takes any side from 2.
ONNX_MIN_SIDE = 5
# Peak host memory onnxruntime 1.32 took for a forward pass, per output pixel per unit of the network's width:
# 32.5-34.7 B measured at widths 16 and 32, 256 and 512 px, batches of 1 and 2 (CPU arena, 2026-12-05).
BYTES_PER_PIXEL_PER_WIDTH = 36


def check_onnx_side(shape: tuple[int, int]) -> None:
    """Raises StyleJaxError for an image (h, w) with a side too short for the ONNX network (ONNX_MIN_SIDE)."""
    h, w = shape
    if min(h, w) < ONNX_MIN_SIDE:
        raise StyleJaxError(f"{w}x{h}: the ONNX network takes sides of at least {ONNX_MIN_SIDE} px: "
                            "use `runtime` jax or a larger `size`")


def check_onnx_installed() -> None:
    """Raises StyleJaxError, saying what to install, unless onnxruntime and jax2onnx can be imported."""
    missing = [name for name in ONNX_PACKAGES if importlib.util.find_spec(name) is None]
    if missing:
        raise StyleJaxError(f"`runtime` onnx needs {' and '.join(missing)}: pip install 'stylejax[onnx]'")


@dataclasses.dataclass(frozen=True, eq=False)
class OnnxForward:
    """A trained network with its style baked in, run by onnxruntime on the CPU: call it on images.

    `forward(images)` with images (h, w, 3) or (b, h, w, 3) float in [0, 1], sides of at least 5 px, returns
    float32 numpy images of the same shape, stylized: what the JAX network (`StyleNetworkFunction`) returns
    with the same style, to float rounding. A host function, not a JAX one: no `jit`, `vmap` or `grad`
    through it.

    Attributes:
      session: the `onnxruntime.InferenceSession`, input "images" and output "stylized".
      width: the network's width (its memory need grows with it).
    """

    session: Any
    width: int

    def __call__(self, images: np.ndarray | jax.Array) -> np.ndarray:
        """images (h, w, 3) or (b, h, w, 3) in [0, 1] -> stylized, the same shape (float32)."""
        images = np.asarray(images, np.float32)
        batch = images[None] if images.ndim == 3 else images
        h, w = batch.shape[1:3]
        check_onnx_side((h, w))
        padded = np.pad(batch, ((0, 0), (0, -h % DOWNSAMPLING), (0, -w % DOWNSAMPLING), (0, 0)), mode="reflect")
        (out,) = self.session.run(["stylized"], {"images": padded})
        out = out[:, :h, :w]
        return out[0] if images.ndim == 3 else out

    def need(self, shape: tuple[int, int], rows: int) -> int:
        """Bytes of host memory a forward pass of `rows` images of `shape` (h, w) takes (an estimate)."""
        h, w = (-(-side // DOWNSAMPLING) * DOWNSAMPLING for side in shape)
        return rows * h * w * self.width * BYTES_PER_PIXEL_PER_WIDTH


def onnx_forward(net: StyleNetworkFunction, style: int | Sequence[float] | jax.Array | None = None) -> OnnxForward:
    """The network with `style` baked in, converted to ONNX once and run by onnxruntime's CPU provider.

    On a CPU, onnxruntime ran the networks 1.2-1.9x faster than XLA at 512 px (docs/network.md); the
    conversion takes a few seconds, once. Any image size runs in the one session.

    Args:
      net: a loaded network (`load_network`).
      style: a style index, a mix (one weight per style) or None (style 0), as `net(images, style)` takes.

    Returns:
      An `OnnxForward`: `forward(images)` stylizes (h, w, 3) or (b, h, w, 3) images in [0, 1].

    Raises:
      StyleJaxError: onnxruntime or jax2onnx is not installed (`pip install 'stylejax[onnx]'`), or a style the
        network lacks.

    Example:
      >>> net = stylejax.load_network("starry-net")
      >>> forward = stylejax.onnx_forward(net, style=[0.5, 0.5])
      >>> out = forward(photo)                 # (h, w, 3) numpy in [0, 1]
    """
    check_onnx_installed()
    import onnxruntime

    model = onnx_network(net, net.style_weights(style))
    options = onnxruntime.SessionOptions()
    options.log_severity_level = 3  # errors only: it warns of shapes it cannot infer in a symbolic-size model
    session = onnxruntime.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
    return OnnxForward(session, nnx.merge(net.graphdef, net.params).width)
