"""VGG features of an image too large for one forward pass, computed crop by crop with real context.

A 2048 px style image's forward pass alone needs ~3.4 GB (its first activations are 64 channels at
full size); tiles exist so that nothing at full size is ever computed at once. Each crop carries a
MARGIN of picture around the part that is kept, so features there see what the whole image's would:
VGG's receptive field up to relu5_1 is 132 px, so at the default layers the kept features are the
whole image's, to float rounding.
"""

from __future__ import annotations

from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from stylejax.nn.vgg import extract_features

MARGIN = 64  # px of picture around a crop's kept part (a multiple of VGG's largest stride, 16)


def layer_stride(layer: str) -> int:
    """Pixels per feature position at `layer` ("reluB_N": block B comes after B - 1 2x2 poolings)."""
    return 2 ** (int(layer[4]) - 1)


def pooled(side: int, stride: int) -> int:
    """Feature positions along a side of `side` px at `stride`: each 2x2 pooling floors."""
    while stride > 1:
        side, stride = side // 2, stride // 2
    return side


def cut(features: dict[str, jax.Array], offset: tuple[int, int], size: tuple[int, int]) -> dict[str, jax.Array]:
    """Feature maps (..., h', w', c) of crops cut to the positions of a (h, w) part `offset` px into them.

    `offset` must be a multiple of every layer's stride, so the part's pooling cells are the crop's.
    """
    out = {}
    for name, f in features.items():
        stride = layer_stride(name)
        top, left = offset[0] // stride, offset[1] // stride
        out[name] = f[..., top:top + pooled(size[0], stride), left:left + pooled(size[1], stride), :]
    return out


def grams_by_crops(graphdef: nnx.GraphDef, state: nnx.State, image: np.ndarray | jax.Array,
                   layers: Sequence[str], tile: int) -> dict[str, jax.Array]:
    """Gram matrices {layer: (c, c)} of `image` (h, w, 3), computed over crops of about `tile` px.

    A Gram is a mean over positions, so it is the sum of every part's unnormalised Gram over the
    whole position count: the parts are a grid of non-overlapping squares, each run with MARGIN px
    of the picture around it (clipped at the image's edges, where the whole image's forward pass
    pads with zeros too). Equal to `gram` of the whole image's features for layers up to relu5_1.
    """
    image = jnp.asarray(image, jnp.float32)
    h, w = image.shape[:2]
    step = max(16, tile // 16 * 16)  # parts start on every layer's pooling grid
    sums = {name: 0.0 for name in layers}
    for y in range(0, h, step):
        for x in range(0, w, step):
            y0, x0 = max(0, y - MARGIN), max(0, x - MARGIN)
            crop = image[None, y0:min(h, y + step + MARGIN), x0:min(w, x + step + MARGIN)]
            part = (min(step, h - y), min(step, w - x))
            kept = cut(extract_features(graphdef, state, crop, tuple(layers)), (y - y0, x - x0), part)
            for name, f in kept.items():
                sums[name] = sums[name] + _unnormalised_gram(f[0])
    return {name: sums[name] / (pooled(h, layer_stride(name)) * pooled(w, layer_stride(name))) for name in layers}


@jax.jit
def _unnormalised_gram(features: jax.Array) -> jax.Array:
    flat = features.reshape(-1, features.shape[-1])
    return jnp.einsum("pc,pd->cd", flat, flat, preferred_element_type=jnp.float32)
