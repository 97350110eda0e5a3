"""What a decoder's training sees (`DecoderData`): its photos, for AdaIN's objective its styles too, batch by
batch, the styles' colours jittered (`jittered_styles`) reproducibly from the step, so a resumed run sees the
same batches."""

from __future__ import annotations

import contextlib
import dataclasses
import json

import numpy as np

from stylejax.autoencoder.adain_objective import DEFAULT_STYLE_WEIGHT
from stylejax.network.data import TrainingImages


@dataclasses.dataclass(frozen=True)
class DecoderData:
    """What a level's training sees: its objective, its photos (and styles) and so each step's batch."""

    objective: str  # "reconstruction" or "adain"
    data: TrainingImages
    styles: TrainingImages | None = None
    style_weight: float = DEFAULT_STYLE_WEIGHT

    def key(self, level: str, settings) -> str:
        """The training's identity for its checkpoints: the level, the `DecoderSettings`, the data's order."""
        # The steps are not part of it: a training asked for more steps continues from its checkpoint.
        extra = {} if self.styles is None else dict(styles=self.styles.order_key(), style_weight=self.style_weight)
        return json.dumps(dict(level=level, settings=dataclasses.asdict(settings), data=self.data.order_key())
                          | extra)

    def sample_styles(self, photos: int) -> np.ndarray | None:
        """The sample sheets' styles for AdaIN, one for each of `photos` sample photos: photo i takes the style
        folder's sample i + 1 (the same folder may give both); None for reconstruction."""
        if self.styles is None:
            return None
        styles = self.styles.sample_crops()
        return styles[np.arange(1, photos + 1) % len(styles)]

    def batches(self, start: int, stop: int, rows: range, seed: int):
        """(step, batch): images (rows, s, s, 3), or for AdaIN pairs (rows, 2, s, s, 3) of a photo and a style."""
        if self.styles is None:
            yield from self.data.batches(start, stop, rows=rows)
            return
        with contextlib.closing(self.data.batches(start, stop, rows=rows)) as photos, \
                contextlib.closing(self.styles.batches(start, stop, rows=rows)) as styles:
            for (step, photo), (_, style) in zip(photos, styles, strict=True):
                yield step, np.stack([photo, jittered_styles(style, seed, step, rows)], axis=1)


def jittered_styles(styles: np.ndarray, seed: int, step: int, rows: range) -> np.ndarray:
    """Style crops (n, s, s, 3) with their colour channels permuted and their saturation raised 1-2x at random,
    each row by a generator seeded by (seed, step, row): a resumed run sees the same ones."""
    out = np.empty_like(styles)
    for i, row in enumerate(rows):
        rng = np.random.default_rng([seed, step, row, 1])
        image = styles[i][..., rng.permutation(3)]
        grey = image.mean(axis=-1, keepdims=True)
        out[i] = np.clip(grey + rng.uniform(1.0, 2.0) * (image - grey), 0.0, 1.0)
    return out
