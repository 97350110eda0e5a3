"""`load_network`: a trained model folder as a plain JAX function of images, for `jit`, `vmap` and serving."""

from __future__ import annotations

import dataclasses
import functools
import os
from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from stylejax.errors import StyleJaxError
from stylejax.network.model_dir import load_model
from stylejax.nn.style_network import check_style_mix


@dataclasses.dataclass(frozen=True, eq=False)
class StyleNetworkFunction:
    """A trained style network: call it on images to stylize them in one forward pass.

    `net(images)` with images (h, w, 3) or (b, h, w, 3) in [0, 1] returns the same shape, stylized.
    It is a pure function of its inputs (the weights are fixed arrays), so it works inside `jax.jit`,
    `jax.vmap` and `jax.grad` in your own code.

    Attributes:
      graphdef: the network's structure.
      params: its trained weights.
      info: the model folder's model.json.
    """

    graphdef: nnx.GraphDef
    params: nnx.State
    info: dict

    @property
    def style_names(self) -> list[str]:
        """The style images' file names, in the network's style order."""
        return [s.get("name", f"style {i}") for i, s in enumerate(self.info.get("styles", []))]

    @property
    def num_styles(self) -> int:
        """How many styles the network holds."""
        return int(self.info["num_styles"])

    def style_weights(self, style: int | Sequence[float] | jax.Array | None = None) -> jax.Array:
        """(num_styles,) weights: None -> style 0; an index -> that style; a sequence -> a mix (checked); a jax
        array -> itself, unchecked (it may be a tracer under `jit`)."""
        if isinstance(style, jax.Array):
            return style
        if style is None:
            style = 0
        if isinstance(style, (int, np.integer)):
            if not 0 <= style < self.num_styles:
                raise StyleJaxError(f"style {style} does not exist: the network holds styles 0..{self.num_styles - 1}")
            return jax.nn.one_hot(style, self.num_styles, dtype=jnp.float32)
        return check_style_mix([float(v) for v in style], self.num_styles)

    def __call__(self, images: jax.Array, style: int | Sequence[float] | jax.Array | None = None, *,
                 sizes: jax.Array | None = None, rewrite: bool = True) -> jax.Array:
        """images (h, w, 3) or (b, h, w, 3) in [0, 1] -> stylized, same shape.

        `style`: a style index, a mix (one weight per style; a (num_styles,) array under `jit`), or None (style 0).
        `sizes`: (b, 2) each image's own (h, w) in a batch of images of several sizes, each reflected
        (bottom and right) to the batch's shape; crop each output to its own size (see `StyleNetwork`).
        `rewrite`: convolutions in `conv_rewrites`' faster exact forms (False: XLA's own; see `StyleNetwork`).
        """
        weights = self.style_weights(style)
        single = images.ndim == 3
        batch = images[None] if single else images
        out = nnx.merge(self.graphdef, self.params)(batch, weights, sizes, rewrite=rewrite)
        return out[0] if single else out


def load_network(path: str | os.PathLike) -> StyleNetworkFunction:
    """Loads a model folder written by `train_network` (or `stylejax train`).

    Reads model.json and the orbax arrays only: no code in the folder runs.

    Args:
      path: the model folder.

    Returns:
      A `StyleNetworkFunction`: `net(images, style=None)` stylizes (h, w, 3) or (b, h, w, 3) images in [0, 1].

    Raises:
      StyleJaxError: the folder is not a model, or is damaged.

    Example:
      >>> net = stylejax.load_network("starry-net")
      >>> out = jax.jit(net)(photo)            # (h, w, 3) in [0, 1]
      >>> mixed = net(photos, style=[0.5, 0.5])
    """
    network, info = load_model(path)
    graphdef, params = nnx.split(network)
    return StyleNetworkFunction(graphdef, params, info)


@functools.partial(jax.jit, static_argnums=0)  # the network's weights are constants of its program
def apply_network(net: StyleNetworkFunction, images: jax.Array, style: jax.Array,
                  sizes: jax.Array | None = None) -> jax.Array:
    """`net(images, style, sizes=sizes)` compiled once per network and input shapes.

    Args:
      net: a loaded network.
      images: (b, h, w, 3) in [0, 1].
      style: (num_styles,) weights (`net.style_weights(...)`).
      sizes: (b, 2) each image's own (h, w) in a padded batch, or None (see `StyleNetworkFunction.__call__`).

    Returns:
      (b, h, w, 3) stylized images in [0, 1].
    """
    return net(images, style, sizes=sizes)
