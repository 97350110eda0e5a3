"""Many images with few compiled programs, each checked against device memory: the mechanism a style
network's jobs (`network.inference.BucketedNetwork`) and one-pass transfer's jobs (`network.transfer_inference`)
share.

Images are grouped into shape buckets (`runtime.buckets.apply_bucket`): each is reflected (bottom and
right) up to its bucket's shape, run, and its output cropped back, so a bucket's images share one compiled
program. Before a bucket runs, its program is compiled for abstract inputs and XLA's memory analysis
compared with what one device can use (`runtime.memory`): a batch that does not fit is made smaller, down
to one image; one image that does not fit is shrunk when its size was the input's own, and refused when
the user asked for that size. A subclass says how a program is compiled (`lower`) and run (`forward`); one
that runs no XLA program (`network.inference.OnnxBucketedNetwork`) says what a batch needs (`need`) of which
memory (`available`) instead.
"""

from __future__ import annotations

import collections
import dataclasses
import math
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar

import numpy as np

from stylejax.errors import StyleJaxError
from stylejax.io import images
from stylejax.runtime import memory
from stylejax.runtime.buckets import BUCKET, apply_bucket
from stylejax.runtime.memory import describe

HEADROOM = 0.95  # of the available memory a lowered batch or a capped size aims at: XLA aligns buffers


@dataclasses.dataclass(frozen=True)
class BucketFit:
    """How a bucket runs: `rows` images per forward pass, or first shrunk to long side `cap` (None: as is)."""

    rows: int
    cap: int | None = None


@dataclasses.dataclass(eq=False, kw_only=True)
class BucketedPrograms:
    """A job's compiled programs: one per shape bucket and batch rows, sized to fit one device.

    Attributes:
      size: the outputs' long side, or None for each input's own (shrunk where it does not fit).
      batch_size: images per forward pass at most.
      log: where memory lines and the notes of lowered batches and capped sizes go.
    """

    size: int | None = None
    batch_size: int = 8
    log: Callable[[str], None] = lambda line: print(line, file=sys.stderr)
    programs: dict = dataclasses.field(default_factory=dict)  # (bucket, rows) -> compiled program
    fits: dict = dataclasses.field(default_factory=dict)  # bucket -> BucketFit
    # A compiled program's batch is fixed: a short batch is filled up to its rows with copies of its last image.
    fills_batch: ClassVar[bool] = True

    def lower(self, bucket: tuple[int, int], rows: int) -> Any:
        """The compiled program of `rows` images in `bucket` (`jax.jit(...).lower(...).compile()`)."""
        raise NotImplementedError

    def forward(self, bucket: tuple[int, int], rows: int, pixels: np.ndarray,
                sizes: Sequence[tuple[int, int]]) -> np.ndarray:
        """Runs `program(bucket, rows)` on (rows, *bucket, c) reflected images whose own (h, w) are `sizes`
        -> (rows, *bucket, 3) outputs (cropped by the caller)."""
        raise NotImplementedError

    def target(self, shape: tuple[int, int]) -> tuple[int, int]:
        """(h, w) of the output of an input of `shape` (before any cap for memory)."""
        return shape if self.size is None else images.fit_size(shape, self.size)

    def padded(self, target: tuple[int, int]) -> tuple[int, int]:
        """The bucket an output of shape `target` is computed in (`apply_bucket`)."""
        return apply_bucket(target)

    def bucket_of(self, shape: tuple[int, int]) -> tuple[int, int]:
        """The bucket an input of `shape` is planned in, before any shrinking for memory."""
        return self.padded(self.target(shape))

    def program(self, bucket: tuple[int, int], rows: int) -> Any:
        """The compiled forward pass of `rows` images in `bucket` (compiled once, then reused)."""
        key = (bucket, rows)
        if key not in self.programs:
            self.programs[key] = self.lower(bucket, rows)
        return self.programs[key]

    def need(self, bucket: tuple[int, int], rows: int) -> int:
        """Bytes one device needs to run `rows` images in `bucket` (XLA's memory analysis)."""
        return memory.compiled_bytes(self.program(bucket, rows))

    def available(self) -> int | None:
        """Bytes the programs may use: one device's (`runtime.memory.available_bytes`), or None if unknown."""
        return memory.available_bytes()

    def fit(self, bucket: tuple[int, int], count: int | None = None) -> BucketFit:
        """How `bucket` runs within one device's memory, decided once per bucket: `count` images there
        (None: many) make batches of at most that many.

        Raises:
          StyleJaxError: one image of an asked-for `size` does not fit.
        """
        if bucket in self.fits:
            return self.fits[bucket]
        rows = self.batch_size if count is None else max(1, min(self.batch_size, count))
        limit = self.available()
        side = f"{bucket[1]}x{bucket[0]}"
        fit = BucketFit(rows)
        if limit is not None:
            need = self.need(bucket, rows)
            if need > limit:  # says what it decides, or refuses in one line
                fit = self._smaller(bucket, rows, need, limit)
            else:
                self.log(f"a batch of {rows} at {side} needs {describe(need)} per device (of {describe(limit)})")
        self.fits[bucket] = fit
        return fit

    def _smaller(self, bucket: tuple[int, int], rows: int, need: int, limit: int) -> BucketFit:
        """The largest batch that fits, from a line through one image's need and `need`; else a cap."""
        side = f"{bucket[1]}x{bucket[0]}"
        one = need if rows == 1 else self.need(bucket, 1)
        if one > limit:
            return self._capped(bucket, one, limit)
        per_row = max(1, -(-(need - one) // max(1, rows - 1)))
        fitting = max(1, min(rows - 1, 1 + (int(limit * HEADROOM) - one) // per_row))
        while fitting > 1 and self.need(bucket, fitting) > limit:
            fitting //= 2
        self.log(f"a batch of {rows} at {side} does not fit: batches of {fitting} there")
        return BucketFit(fitting)

    def _capped(self, bucket: tuple[int, int], one: int, limit: int) -> BucketFit:
        side = f"{bucket[1]}x{bucket[0]}"
        if self.size is not None:
            raise StyleJaxError(f"`size` {self.size} ({side}) needs {describe(one)} for one image but "
                                f"{describe(limit)} is available: use a smaller `size`")
        cap, need = max(bucket), one
        while need > limit:  # memory grows with pixels: shrink the long side by the square root of the excess
            cap = int(cap * min(0.95, math.sqrt(limit * HEADROOM / need)))
            if cap < 2 * BUCKET:
                raise StyleJaxError(f"{side}: not even a {2 * BUCKET} px image fits in {describe(limit)}")
            need = self.need(self.padded(images.fit_size(bucket, cap)), 1)
        self.log(f"{side} images do not fit in {describe(limit)}: shrunk to {cap} px on the long side")
        return BucketFit(1, cap)

    def check(self, counts: Mapping[tuple[int, int], int]) -> None:
        """Decides (and logs) how each bucket runs, before any work; raises StyleJaxError as `fit` does.

        Args:
          counts: {bucket: how many images there}.
        """
        for bucket in sorted(counts):
            fit = self.fit(bucket, counts[bucket])
            if fit.cap is not None:
                self.fit(self.padded(images.fit_size(bucket, fit.cap)), 1)

    def __call__(self, batch: Sequence[np.ndarray]) -> list[np.ndarray]:
        """Runs images (h, w, c) in [0, 1], any shapes, bucket by bucket -> their (h', w', 3) outputs, in order.

        Each is resized to its target (`size`, or a cap for memory) with all its channels: a subclass may
        carry more than the 3 colours (e.g. region masks).
        """
        targets = [self.target(image.shape[:2]) for image in batch]
        planned = [self.padded(shape) for shape in targets]
        self.check(collections.Counter(planned))
        targets = [shape if (cap := self.fits[bucket].cap) is None or max(shape) <= cap
                   else images.fit_size(shape, cap) for shape, bucket in zip(targets, planned, strict=True)]
        groups: dict[tuple[int, int], list[int]] = {}
        for i, shape in enumerate(targets):
            groups.setdefault(self.padded(shape), []).append(i)
        outputs: list[np.ndarray] = [np.empty(0)] * len(batch)
        for bucket, rows in groups.items():
            step = self.fit(bucket, len(rows)).rows
            for first in range(0, len(rows), step):
                chunk = rows[first:first + step]
                pixels = [images.resize_on_host(batch[i], targets[i]) for i in chunk]  # no compile per shape
                for i, out in zip(chunk, self._run(bucket, step, pixels), strict=True):
                    outputs[i] = out
        return outputs

    def _run(self, bucket: tuple[int, int], rows: int, pixels: list[np.ndarray]) -> list[np.ndarray]:
        """One forward pass: `pixels` reflected up to `bucket`, the batch filled up to `rows` with copies
        (one program per bucket) if `fills_batch`, each output cropped back to its own shape."""
        padded = [np.pad(p, ((0, bucket[0] - p.shape[0]), (0, bucket[1] - p.shape[1]), (0, 0)), mode="reflect")
                  for p in pixels]
        sizes = [p.shape[:2] for p in pixels]
        if self.fills_batch:
            padded += [padded[-1]] * (rows - len(padded))
            sizes += [sizes[-1]] * (rows - len(sizes))
        out = np.asarray(self.forward(bucket, rows, np.stack(padded), sizes))
        return [out[i, :p.shape[0], :p.shape[1]] for i, p in enumerate(pixels)]
