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

from stylejax.objective import losses

# What VGG's convolutions and the Gram products multiply in. Pixels, optimizer state and every loss
# reduction stay f32 whatever this is: line searches compare nearby losses.
COMPUTE_DTYPES = {"f32": jnp.float32, "bf16": jnp.bfloat16}


class Temporal(NamedTuple):
    """A video frame's pull towards the previous frame's output (Ruder et al. 2016), per image.

    Attributes:
      warped: (h, w, 3) the previous output warped into this frame by the content's optical flow.
      reliability: (h, w, 1) in [0, 1], how far to trust it: 0 where the flow is not reliable.
    """

    warped: jax.Array
    reliability: jax.Array


class Targets(NamedTuple):
    """What the image is pulled towards.

    Content, temporal and region targets are per image; style targets are shared by a batch.

    Attributes:
      content: {layer: (1, h, w, c)} activations of the content image.
      style: {layer: (c, c)} blended Gram matrices of the style images or, with regions, {layer: (r, c, c)}
        one per style (its guided Gram where a style mask picks part of the painting).
      temporal: a video frame's warped previous output and its reliability, or None (no temporal term).
      regions: {layer: (r, h, w, 1)} where each style applies (`losses.pooled_masks` of the content's
        masks), or None: the style applies everywhere.
    """

    content: dict[str, jax.Array]
    style: dict[str, jax.Array]
    temporal: Temporal | None = None
    regions: dict[str, jax.Array] | None = None


class LossWeights(NamedTuple):
    """Per-layer weights (already multiplied by the content/style weight), the TV and temporal weights.

    Attributes:
      content: {layer: f32 scalar} the content weight, shared equally by the content layers.
      style: {layer: f32 scalar} the style weight times each style layer's weight.
      tv: the total-variation weight.
      temporal: the temporal weight of a video frame, or None (read only when the targets have a temporal part).
    """

    content: dict[str, jax.Array]
    style: dict[str, jax.Array]
    tv: jax.Array
    temporal: jax.Array | None = None  # read only when the targets have a temporal part


class ObjectiveArgs(NamedTuple):
    """Everything the objective reads besides the pixels: passed as arguments, never baked in.

    Attributes:
      vgg: the VGG's weights (the `nnx.State` half of the model).
      backward_kernels: `VGG.backward_kernels()`, computed once outside the loop.
      targets: the `Targets` the image is pulled towards.
      weights: the `LossWeights`.
    """

    vgg: nnx.State
    backward_kernels: tuple[jax.Array, ...]  # VGG.backward_kernels(), computed once outside the loop
    targets: Targets
    weights: LossWeights


@dataclasses.dataclass(frozen=True)
class Objective:
    """Total loss of an image (h, w, 3) in [0, 1]; hashable, so it can be a static jit argument.

    Call it as `objective(image, args)` with the `ObjectiveArgs` from `stylejax.prepare`.

    Attributes:
      graphdef: the VGG's structure (the `nnx.GraphDef` half of the model; its weights are in the args).
      content_layers: the ReLU names of the content term.
      style_layers: the ReLU names of the style term.
      remat: recompute VGG activations block by block in the backward pass: less memory, more time.
      precision: "f32", or "bf16": VGG and Gram products in bfloat16, accumulated and reduced in f32.
    """

    graphdef: nnx.GraphDef
    content_layers: tuple[str, ...]
    style_layers: tuple[str, ...]
    remat: bool = False  # recompute VGG activations block by block in the backward pass: less memory
    precision: str = "f32"  # "bf16": VGG and Gram products in bfloat16, accumulated and reduced in f32

    def terms(self, image: jax.Array, args: ObjectiveArgs) -> dict[str, jax.Array]:
        """{"content", "style", "tv"} and, for a video frame, "temporal": each weighted term, as f32 scalars."""
        vgg = nnx.merge(self.graphdef, args.vgg)
        layers = tuple(dict.fromkeys(self.content_layers + self.style_layers))
        features = vgg(image[None], layers, args.backward_kernels, remat=self.remat,
                       dtype=COMPUTE_DTYPES[self.precision])
        targets = args.targets
        style = (losses.style_loss(features, targets.style, args.weights.style) if targets.regions is None
                 else losses.guided_style_loss(features, targets.style, targets.regions, args.weights.style))
        terms = {
            "content": losses.content_loss(features, targets.content, args.weights.content),
            "style": style,
            "tv": args.weights.tv * losses.total_variation(image),
        }
        temporal = targets.temporal
        if temporal is not None:
            terms["temporal"] = args.weights.temporal * losses.temporal_loss(image, temporal.warped,
                                                                             temporal.reliability)
        return terms

    def __call__(self, image: jax.Array, args: ObjectiveArgs) -> jax.Array:
        """The scalar loss minimised: the sum of `terms`."""
        return sum(self.terms(image, args).values()).astype(jnp.float32)
