"""How strongly an output is stylized and how much of the photo it keeps, by VGG feature statistics.

One scale for every method (optimisation, style networks, encoder–decoders, a peer's program), so their
outputs can be compared side by side:
- **style gain**: the Gram style distance of the photo to the painting over that of the output (the default
  style layers, the painting at the output's long side). 1 is the photo's own; 3 means three times closer.
- **content ratio**: the content distance of the output to the photo over that of the painting (resized to
  the photo's shape) to the photo, at the default content layer. 0 is the photo; 1 is as far as the painting.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from stylejax.config import StyleConfig
from stylejax.io import images
from stylejax.nn.vgg import VGG, extract_features
from stylejax.objective import losses


class StylizationScores(NamedTuple):
    """The two ratios of one output (module docstring), and the distances they come from."""

    style_gain: float
    content_ratio: float
    style_distance: float
    content_distance: float


def _features(vgg: VGG, image: np.ndarray | jax.Array, layers: tuple[str, ...]) -> dict[str, jax.Array]:
    graphdef, state = nnx.split(vgg)
    return {name: f[0] for name, f in extract_features(graphdef, state, jnp.asarray(image)[None], layers).items()}


def _gram_distance(a: dict[str, jax.Array], b: dict[str, jax.Array]) -> float:
    return float(sum(jnp.mean((losses.gram(a[n]) - losses.gram(b[n])) ** 2) for n in a))


def _content_distance(a: dict[str, jax.Array], b: dict[str, jax.Array]) -> float:
    return float(sum(jnp.mean((a[n] - b[n]) ** 2) for n in a))


def score_stylization(vgg: VGG, photo: np.ndarray, painting: np.ndarray, output: np.ndarray,
                      config: StyleConfig | None = None) -> StylizationScores:
    """Scores `output` (h, w, 3), made from `photo` (any size; resized to the output's) and `painting`.

    Args:
      vgg: the loss network, e.g. `stylejax.load_vgg()`.
      photo, painting, output: (h, w, 3) float images in [0, 1]; photo and painting any size.
      config: whose `style_layers` and `content_layers` to use (default: `StyleConfig()`'s).

    Returns:
      The style gain and content ratio (module docstring) and the output's two distances.
    """
    config = config or StyleConfig()
    shape = output.shape[:2]
    style_layers, content_layers = tuple(config.style_layers), tuple(config.content_layers)
    both = tuple(dict.fromkeys(style_layers + content_layers))  # one VGG pass per image for both distances
    photo_features = _features(vgg, images.resize(photo, shape), both)
    output_features = _features(vgg, output, both)
    target = _features(vgg, images.resize(painting, images.fit_size(painting.shape[:2], max(shape))), style_layers)
    painting_content = _features(vgg, images.resize(painting, shape), content_layers)

    def pick(features, layers):
        return {name: features[name] for name in layers}

    style_distance = _gram_distance(pick(output_features, style_layers), target)
    photo_distance = _gram_distance(pick(photo_features, style_layers), target)
    photo_content = pick(photo_features, content_layers)
    output_distance = _content_distance(pick(output_features, content_layers), photo_content)
    painting_distance = _content_distance(painting_content, photo_content)
    return StylizationScores(style_gain=photo_distance / style_distance if style_distance else float("inf"),
                             content_ratio=output_distance / painting_distance,
                             style_distance=style_distance, content_distance=output_distance)
