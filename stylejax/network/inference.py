"""Many images through a style network with few compiled programs, each checked against device memory.

Images are grouped into shape buckets and checked against device memory as `runtime.bucket_programs`
says; each is reflected (bottom and right) up to its bucket's shape and run with its own size
(`StyleNetwork`'s `sizes`), so a bucket's images share one compiled program and each comes out as it
would alone. The runtime is a choice (`bucketed_network`): XLA's compiled programs (`BucketedNetwork`), or
one onnxruntime session for every shape (`OnnxBucketedNetwork`, `network.onnx_forward`), the rest the same.
"""

from __future__ import annotations

import dataclasses
import functools
import sys
from collections.abc import Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from stylejax.config import check_batch_size
from stylejax.errors import StyleJaxError
from stylejax.network.function import StyleNetworkFunction, apply_network
from stylejax.network.onnx_forward import OnnxForward, check_onnx_installed, check_onnx_side, onnx_forward
from stylejax.nn.style_network import NETWORK_MIN_SIDE
from stylejax.runtime import memory
from stylejax.runtime.bucket_programs import BucketedPrograms

RUNTIMES = ("jax", "onnx")  # XLA on this machine's device; onnxruntime's CPU provider


def check_runtime(runtime: str) -> None:
    """Raises StyleJaxError for a runtime not in RUNTIMES, or "onnx" without its packages installed."""
    if runtime not in RUNTIMES:
        raise StyleJaxError(f"`runtime` must be one of {', '.join(RUNTIMES)}, got {runtime!r}")
    if runtime == "onnx":
        check_onnx_installed()


def check_apply(size: int | None, batch_size: int) -> None:
    """Raises StyleJaxError for an output size the network cannot take or a batch size that is not positive."""
    if size is not None and (not isinstance(size, int) or size < NETWORK_MIN_SIDE):
        raise StyleJaxError(f"`size` must be at least {NETWORK_MIN_SIDE} px, got {size}")
    check_batch_size(batch_size)


@dataclasses.dataclass(eq=False)
class BucketedNetwork(BucketedPrograms):
    """A network's compiled programs for a job: one per shape bucket, sized to fit one device
    (`runtime.bucket_programs.BucketedPrograms`).

    Attributes:
      net: the loaded network.
      style: (num_styles,) style weights.
      size, batch_size, log: keyword-only, see `BucketedPrograms`.
    """

    net: StyleNetworkFunction
    style: jax.Array

    def __post_init__(self):
        check_apply(self.size, self.batch_size)

    def lower(self, bucket: tuple[int, int], rows: int):
        """`apply_network` compiled for `rows` images of `bucket`, each with its own size."""
        return apply_network.lower(
            self.net, jax.ShapeDtypeStruct((rows, *bucket, 3), jnp.float32),
            jax.ShapeDtypeStruct(self.style.shape, jnp.float32),
            jax.ShapeDtypeStruct((rows, 2), jnp.int32)).compile()

    def forward(self, bucket: tuple[int, int], rows: int, pixels: np.ndarray,
                sizes: Sequence[tuple[int, int]]) -> np.ndarray:
        """The network on reflected images, each run with its own size: each comes out as it would alone."""
        return np.asarray(self.program(bucket, rows)(jnp.asarray(pixels), self.style, jnp.asarray(sizes, jnp.int32)))


@dataclasses.dataclass(eq=False)
class OnnxBucketedNetwork(BucketedPrograms):
    """A network's forward pass on onnxruntime for a job: the buckets, sizes and memory fits of
    `BucketedPrograms`, but one session for every shape, so nothing is compiled per bucket and a short batch
    is not filled up. Its memory is the host's, its need an estimate (`OnnxForward.need`).

    Attributes:
      net: the loaded network.
      style: (num_styles,) style weights, baked into the ONNX model.
      size, batch_size, log: keyword-only, see `BucketedPrograms`.
    """

    net: StyleNetworkFunction
    style: jax.Array
    fills_batch = False

    def __post_init__(self):
        check_runtime("onnx")
        check_apply(self.size, self.batch_size)

    @functools.cached_property
    def onnx(self) -> OnnxForward:
        """The network converted to ONNX on first use (a few seconds): a job with nothing left converts nothing."""
        return onnx_forward(self.net, self.style)

    def target(self, shape: tuple[int, int]) -> tuple[int, int]:
        """`BucketedPrograms.target`, refused (StyleJaxError) before any work where a side is too short for ONNX."""
        target = super().target(shape)
        check_onnx_side(target)
        return target

    def need(self, bucket: tuple[int, int], rows: int) -> int:
        """Bytes of host memory `rows` images in `bucket` take at most (`OnnxForward.need`)."""
        return self.onnx.need(bucket, rows)

    def available(self) -> int | None:
        """The host's memory: onnxruntime's CPU provider runs there whatever JAX's device is."""
        return memory.host_available_bytes()

    def forward(self, bucket: tuple[int, int], rows: int, pixels: np.ndarray,
                sizes: Sequence[tuple[int, int]]) -> np.ndarray:
        """The network on each image at its own size (reflected up to a multiple of 4, as alone), images of
        one size together -> (len(pixels), *bucket, 3), zero past each image's size."""
        out = np.zeros((*pixels.shape[:3], 3), np.float32)
        groups: dict[tuple[int, int], list[int]] = {}
        for i, size in enumerate(sizes):
            groups.setdefault(tuple(size), []).append(i)
        for (h, w), rows_of_size in groups.items():
            out[rows_of_size, :h, :w] = self.onnx(pixels[rows_of_size, :h, :w, :3])
        return out


def bucketed_network(net: StyleNetworkFunction, style: jax.Array, *, runtime: str = "jax", size: int | None = None,
                     batch_size: int = 8,
                     log: Callable[[str], None] = lambda line: print(line, file=sys.stderr)) -> BucketedPrograms:
    """The network's forward pass for a job on `runtime`: "jax" (`BucketedNetwork`) or "onnx"
    (`OnnxBucketedNetwork`).

    Args:
      net: the loaded network.
      style: (num_styles,) style weights.
      runtime: one of RUNTIMES.
      size, batch_size, log: see `BucketedPrograms`.

    Raises:
      StyleJaxError: a bad runtime, size or batch size, or "onnx" without its packages.
    """
    check_runtime(runtime)
    network = OnnxBucketedNetwork if runtime == "onnx" else BucketedNetwork
    return network(net, style, size=size, batch_size=batch_size, log=log)
