"""Many images through a style network with few compiled programs, each checked against device memory.

Images are grouped into shape buckets and checked against device memory as `runtime.bucket_programs`
says; each is reflected (bottom and right) up to its bucket's shape and run with its own size
(`StyleNetwork`'s `sizes`), so a bucket's images share one compiled program and each comes out as it
would alone.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np

from stylejax.config import check_batch_size
from stylejax.errors import StyleJaxError
from stylejax.network.function import StyleNetworkFunction, apply_network
from stylejax.nn.style_network import NETWORK_MIN_SIDE
from stylejax.runtime.bucket_programs import BucketedPrograms


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
