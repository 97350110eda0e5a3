"""`refine`: an optimised stylization that starts from a style network's output, for a fraction of the steps.

A trained network gets close to the Gatys optimum in one forward pass; optimising from there spends the
steps on what the network missed (its blur, its colours, the detail of this content) instead of on laying
down the style from the photo. The start is the network's output at the run's working size, and the run
optimises at that size only (`refine_config`): a coarse-to-fine schedule would first shrink the stylised
start to its coarsest scale and spend its steps there re-deriving what the network already drew (measured
in docs/network.md).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from stylejax.config import StyleConfig
from stylejax.errors import StyleJaxError
from stylejax.io import images
from stylejax.io.images import ImageLike, as_image, working_shape
from stylejax.network.function import StyleNetworkFunction, apply_network
from stylejax.solve.scales import Scale
from stylejax.solve.stylize import Callback, StyleResult, stylize


def refine_config(config: StyleConfig) -> StyleConfig:
    """The config a refinement runs: one scale at full size unless `config.min_size` asks for more.

    Raises:
      StyleJaxError: `config.init` names another start (noise or an image).
    """
    if config.init != "content":
        raise StyleJaxError(f"`init` {config.init!r} and a network's output are two starting points: give one")
    return config if config.min_size is not None else config.replace(min_size=config.size)


def network_start(net: StyleNetworkFunction, content: ImageLike, size: int,
                  style: int | Sequence[float] | jax.Array | None = None) -> np.ndarray:
    """The network's output for `content` at a run's working shape (the longest side `size`).

    Args:
      net: a loaded network (`load_network`).
      content: a path or an (h, w, 3) array.
      size: the run's longest side (`StyleConfig.size`).
      style: the network's style: an index, a mix, or None (style 0).

    Returns:
      (h, w, 3) float32 in [0, 1], the content's aspect ratio.
    """
    image = as_image(content, "content image")
    shape = working_shape(image.shape[:2], size, "content image")
    weights = net.style_weights(style)
    return np.asarray(apply_network(net, jnp.asarray(images.resize(image, shape))[None], weights)[0])


def refine(content: ImageLike, style: ImageLike | Sequence[ImageLike], net: StyleNetworkFunction,
           config: StyleConfig | None = None, *, model_style: int | Sequence[float] | None = None,
           masks: Sequence[ImageLike] | None = None, style_masks: Sequence[ImageLike | None] | None = None,
           callback: Callback | None = None, on_scale: Callable[[Scale], None] | None = None,
           log: Callable[[str], None] | None = None, **overrides) -> StyleResult:
    """Stylizes `content` by optimisation (`stylize`), starting from `net`'s output instead of the content.

    The same objective as `stylize` (the style images and `config`'s weights, not the network's training
    settings), at `refine_config(config)`'s scales: the final scale only, unless `config.min_size` is set.
    `loss_history[0]` is the Gatys loss of the network's output. Equivalent to
    `stylize(content, style, refine_config(config), init_image=network_start(net, content, config.size))`.

    Args:
      content: a path or an (h, w, 3) array (float in [0, 1] or uint8).
      style: a path or array, or a sequence of them: the objective's style images.
      net: a loaded network (`load_network`).
      config: settings; defaults to `StyleConfig()`. `**overrides` change its fields, e.g. `steps=20`.
      model_style: the network's style to start from: an index, a mix (one weight per style), or None (0).
      masks: as `stylize`'s.
      style_masks: as `stylize`'s.
      callback: as `stylize`'s.
      on_scale: as `stylize`'s.
      log: as `stylize`'s.

    Returns:
      A StyleResult, as `stylize`'s.

    Raises:
      StyleJaxError: as `stylize`, or a `config.init` other than "content", or a style the network lacks.

    Example:
      >>> net = stylejax.load_network("starry-net")
      >>> result = stylejax.refine("cat.jpg", "starry_night.jpg", net, size=512, steps=20)
    """
    config = refine_config((config or StyleConfig()).replace(**overrides))
    start = network_start(net, content, config.size, model_style)
    return stylize(content, style, config, masks=masks, style_masks=style_masks, init_image=start,
                   callback=callback, on_scale=on_scale, log=log)
