"""The Gatys objective: content, style and total-variation terms of one image. Pure and jit-able.

`Objective` holds only what is static (the network's structure and the layer names), so it can be a
static argument of a compiled program; weights, targets and loss weights are array arguments.
"""

from __future__ import annotations

import dataclasses
from typing import NamedTuple

import jax
import jax.numpy as jnp
from flax import nnx

from . import losses


class Targets(NamedTuple):
    """What the image is pulled towards.

    content: {layer: (1, h, w, c)} activations of the content image.
    style: {layer: (c, c)} blended Gram matrices of the style images.
    """

    content: dict[str, jax.Array]
    style: dict[str, jax.Array]


class LossWeights(NamedTuple):
    """Per-layer weights (already multiplied by the content/style weight) and the TV weight."""

    content: dict[str, jax.Array]
    style: dict[str, jax.Array]
    tv: jax.Array


class ObjectiveArgs(NamedTuple):
    """Everything the objective reads besides the pixels: passed as arguments, never baked in."""

    vgg: nnx.State
    backward_kernels: tuple[jax.Array, ...]  # VGG.backward_kernels(), computed once outside the loop
    targets: Targets
    weights: LossWeights


@dataclasses.dataclass(frozen=True)
class Objective:
    """Total loss of an image (h, w, 3) in [0, 1]; hashable, so it can be a static jit argument."""

    graphdef: nnx.GraphDef
    content_layers: tuple[str, ...]
    style_layers: tuple[str, ...]
    remat: bool = False  # recompute VGG activations block by block in the backward pass: less memory

    def terms(self, image: jax.Array, args: ObjectiveArgs) -> dict[str, jax.Array]:
        """{"content", "style", "tv"}: each weighted term, as scalars (f32)."""
        vgg = nnx.merge(self.graphdef, args.vgg)
        layers = tuple(dict.fromkeys(self.content_layers + self.style_layers))
        features = vgg(image[None], layers, args.backward_kernels, remat=self.remat)
        return {
            "content": losses.content_loss(features, args.targets.content, args.weights.content),
            "style": losses.style_loss(features, args.targets.style, args.weights.style),
            "tv": args.weights.tv * losses.total_variation(image),
        }

    def __call__(self, image: jax.Array, args: ObjectiveArgs) -> jax.Array:
        """The scalar loss minimised: the sum of `terms`."""
        return sum(self.terms(image, args).values()).astype(jnp.float32)
