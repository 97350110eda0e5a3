"""Many photos through the one-pass transfer with few compiled programs, each checked against device
memory (`runtime.bucket_programs`): the programs of `stylejax transfer`, one image or a bulk job.

Each photo is resized to its output shape and reflected (bottom and right) up to its shape bucket, as the
cascade itself pads a photo to its stride; its output is cropped back. The mirrored strip, under 1/16 of a
side, counts in the photo's feature statistics and moves them little; a photo whose output shape is its
bucket's comes out as `OnePassTransfer.run` gives it. The paintings are resized to `style_size`, else
`size`, else the bucket's long side, and their statistics (`Cascade.style_statistics`) computed once for
every photo that takes them at that size. Region masks travel with their photo as extra channels, resized
and reflected with it.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np

from stylejax.autoencoder.cascade import Cascade, CascadeWeights, PaintingStatistics
from stylejax.autoencoder.settings import TransferSettings
from stylejax.config import check_batch_size
from stylejax.errors import StyleJaxError
from stylejax.io import images
from stylejax.network.transfer import OnePassTransfer
from stylejax.nn.decoders import level_block
from stylejax.runtime.bucket_programs import BucketedPrograms
from stylejax.runtime.buckets import apply_bucket


def transfer_min_side(levels: Sequence[str]) -> int:
    """The shortest side a photo or painting may have for a cascade of `levels`: 2 positions at the deepest."""
    return 2 * 2 ** (max(level_block(level) for level in levels) - 1)


def transfer_bucket(target: tuple[int, int], min_side: int) -> tuple[int, int]:
    """The bucket an output of shape `target` is computed in: `apply_bucket`, each side at least `min_side`
    (a multiple of every stride a bucket side is)."""
    return tuple(max(side, min_side) for side in apply_bucket(target))


def check_transfer(settings: TransferSettings, levels: Sequence[str], styles: int, regions: int = 0) -> None:
    """Raises StyleJaxError, naming the parameter, for what no bucket can run: no painting, region masks not
    one per painting or with a style blend, a blend without one weight per painting, a `size` under the
    deepest of `levels`' minimum (`transfer_min_side`)."""
    if not styles:
        raise StyleJaxError("`style`: give at least one style image")
    if regions:
        if regions != styles:
            raise StyleJaxError(f"{regions} mask(s) for {styles} style image(s): give one mask per style, in the "
                                "same order")
        if settings.style_blend is not None:
            raise StyleJaxError("`style_blend` mixes the styles everywhere and `masks` give each region its own: "
                                "give one or the other")
    settings.blend_weights(styles)
    least = transfer_min_side(levels)
    if settings.size is not None and settings.size < least:
        raise StyleJaxError(f"`size` must be at least {least} px for {max(levels, key=level_block)}, "
                            f"got {settings.size}")


@dataclasses.dataclass(eq=False)
class BucketedTransfer(BucketedPrograms):
    """The one-pass transfer's compiled programs for a job: one per shape bucket, sized to fit one device.

    Called with photos (h, w, 3), or (h, w, 3 + regions) with each region's mask after the colours, it
    returns their outputs (`BucketedPrograms.__call__`).

    Attributes:
      transfer: the encoder and decoders, loaded.
      styles: the paintings, (h_i, w_i, 3) float32 in [0, 1] at their own size.
      settings: the transfer's settings; its `size` is the outputs' long side.
      regions: 0, or len(styles) when each photo carries one region mask per painting.
      lockstep: a batch's photos under `vmap`, or one after another in one program (`transfer_rows`);
        None: in lockstep unless the device is a CPU.
      batch_size, log: keyword-only, see `BucketedPrograms` (`size` is `settings.size`).
    """

    transfer: OnePassTransfer
    styles: tuple[np.ndarray, ...]
    settings: TransferSettings
    regions: int = 0
    lockstep: bool | None = None
    cascade: Cascade = dataclasses.field(init=False)
    weights: CascadeWeights = dataclasses.field(init=False)
    blend: jax.Array = dataclasses.field(init=False)
    resized: dict = dataclasses.field(init=False, default_factory=dict)  # style long side -> the paintings

    def __post_init__(self):
        check_batch_size(self.batch_size)
        self.size = self.settings.size
        if self.lockstep is None:
            self.lockstep = jax.default_backend() != "cpu"

        self.cascade, self.weights = self.transfer.cascade(self.settings)
        check_transfer(self.settings, self.cascade.levels, len(self.styles), self.regions)
        self.blend = jnp.asarray(self.settings.blend_weights(len(self.styles)), jnp.float32)

    def padded(self, target: tuple[int, int]) -> tuple[int, int]:
        """`transfer_bucket`."""
        return transfer_bucket(target, self.cascade.min_side)

    def paintings(self, bucket: tuple[int, int]) -> tuple[tuple[jax.Array, ...], tuple]:
        """(the paintings as the photos of `bucket` take them, their `Cascade.style_statistics`), made once
        per long side: every photo of a job shares the paintings' VGG pass and square roots.

        Raises:
          StyleJaxError: a painting too small there for the deepest level (the message names `style`).
        """
        side = self.settings.style_size or self.size or max(bucket)
        if side not in self.resized:
            styles = tuple(images.resize(s, images.fit_size(s.shape[:2], side)) for s in self.styles)
            self.cascade.check((*bucket, 3), [s.shape for s in styles])
            self.resized[side] = styles, style_statistics(self.cascade, self.weights, styles)
        return self.resized[side]

    def lower(self, bucket: tuple[int, int], rows: int):
        """`transfer_rows` compiled for `rows` photos of `bucket`."""
        styles, statistics = self.paintings(bucket)
        return transfer_rows.lower(self.cascade, self.regions, self.weights,
                                   jax.ShapeDtypeStruct((rows, *bucket, 3 + self.regions), jnp.float32), styles,
                                   statistics=statistics, alpha=jnp.float32(self.settings.alpha),
                                   blend=self.blend, lockstep=self.lockstep).compile()

    def forward(self, bucket: tuple[int, int], rows: int, pixels: np.ndarray,
                sizes: Sequence[tuple[int, int]]) -> np.ndarray:
        """The cascade on reflected photos (their sizes unused: the padding is part of each photo)."""
        styles, statistics = self.paintings(bucket)
        return np.asarray(self.program(bucket, rows)(self.weights, jnp.asarray(pixels), styles, statistics=statistics,
                                                     alpha=jnp.float32(self.settings.alpha), blend=self.blend))


@functools.partial(jax.jit, static_argnums=0)
def style_statistics(cascade: Cascade, weights: CascadeWeights, styles: tuple[jax.Array, ...]
                     ) -> PaintingStatistics:
    """`cascade.style_statistics(weights, styles)`, compiled once per cascade and paintings' shapes."""
    return cascade.style_statistics(weights, styles)


@functools.partial(jax.jit, static_argnums=(0, 1), static_argnames="lockstep")
def transfer_rows(cascade: Cascade, regions: int, weights: CascadeWeights, pixels: jax.Array,
                  styles: tuple[jax.Array, ...], *, statistics: PaintingStatistics, alpha: jax.Array,
                  blend: jax.Array, lockstep: bool = False) -> jax.Array:
    """(rows, h, w, 3 + regions) photos, each with its region masks after the colours -> (rows, h, w, 3), with
    the paintings' `statistics` (`style_statistics`; the paintings themselves only give their shapes).

    `lockstep`: the photos under `vmap` (GPU/TPU, where wide convolutions pay) or else one after another in
    the same program (`lax.map`, the CPU default). Measured on this 2-core CPU at 256x192, batches of 4,
    width-0.5 decoders, the paintings' statistics computed once, median of 5 repeats with other jobs sharing
    the cores: AdaIN at relu4_1 0.52 s a photo by `lax.map`, 0.45 s in a loop of one-photo calls, 0.73 s under
    `vmap`; WCT at relu4_1..relu1_1 1.96, 1.93 and 2.16 s.
    """

    def one(image: jax.Array) -> jax.Array:
        masks = jnp.moveaxis(image[..., 3:], -1, 0) if regions else None
        return cascade(weights, image[..., :3], styles, alpha, blend, masks, statistics=statistics)

    return jax.vmap(one)(pixels) if lockstep else jax.lax.map(one, pixels)
