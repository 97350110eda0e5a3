"""`refine`: an optimised stylization that starts from one pass (a style network's output, or the one-pass
transfer's with the run's own paintings), for a fraction of the steps.

A trained network gets close to the Gatys optimum in one forward pass; optimising from there spends the
steps on what the network missed (its blur, its colours, the detail of this content) instead of on laying
down the style from the photo. The one-pass transfer (WCT, AdaIN) lays down any painting's feature statistics
the same way, without a network trained for it. The start is the pass's output at the run's working size, and
the run optimises at that size only (`refine_config`): a coarse-to-fine schedule would first shrink the
stylised start to its coarsest scale and spend its steps there re-deriving what the pass already drew
(measured in docs/network.md).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from stylejax.autoencoder.settings import TransferSettings
from stylejax.config import MIN_SIDE, StyleConfig
from stylejax.errors import StyleJaxError
from stylejax.io import images
from stylejax.io.images import ImageLike, as_image, working_shape
from stylejax.network.function import StyleNetworkFunction, apply_network
from stylejax.network.transfer import OnePassTransfer
from stylejax.solve.scales import Scale
from stylejax.solve.stylize import Callback, StyleResult, stylize


def refine_config(config: StyleConfig) -> StyleConfig:
    """The config a refinement runs: one scale at full size unless `config.min_size` asks for more.

    Raises:
      StyleJaxError: `config.init` names another start (noise or an image).
    """
    if config.init != "content":
        raise StyleJaxError(f"`init` {config.init!r} and a one-pass output (a network's, the transfer's) are two "
                            "starting points: give one")
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


def transfer_start(transfer: OnePassTransfer, content: ImageLike, style: ImageLike | Sequence[ImageLike],
                   config: StyleConfig, settings: TransferSettings | None = None, *,
                   masks: Sequence[ImageLike] | None = None) -> np.ndarray:
    """The one-pass transfer's output for `content` at a run's working shape, with the run's own paintings.

    Args:
      transfer: the encoder and decoders (`load_transfer`).
      content: a path or an (h, w, 3) array.
      style: the run's style image(s), resized as the objective's (`config.size * config.style_scale`).
      config: the run's settings: its size, style scale, and style blend unless `settings` has one.
      settings: the transfer's method, alpha, levels and colours (default `TransferSettings()`); its sizes
        are the run's.
      masks: the run's region masks (one per style), or None.

    Returns:
      (h, w, 3) float32 in [0, 1], the content's aspect ratio.

    Raises:
      StyleJaxError: an image the transfer cannot take, or a bad setting.
    """
    settings = settings if settings is not None else TransferSettings()
    blend = settings.style_blend if settings.style_blend is not None else config.style_blend
    style_size = max(MIN_SIDE, round(config.size * config.style_scale))  # the objective's (`targets`)
    settings = dataclasses.replace(settings, size=None, style_size=style_size,
                                   style_blend=None if masks is not None else blend)  # regions, not a blend
    image = as_image(content, "content image")
    shape = working_shape(image.shape[:2], config.size, "content image")
    return transfer(np.asarray(images.resize(image, shape)), style, masks, settings=settings)


def refine(content: ImageLike, style: ImageLike | Sequence[ImageLike], net: StyleNetworkFunction | OnePassTransfer,
           config: StyleConfig | None = None, *, model_style: int | Sequence[float] | None = None,
           transfer_settings: TransferSettings | None = None, masks: Sequence[ImageLike] | None = None,
           style_masks: Sequence[ImageLike | None] | None = None, callback: Callback | None = None,
           on_scale: Callable[[Scale], None] | None = None, log: Callable[[str], None] | None = None,
           **overrides) -> StyleResult:
    """Stylizes `content` by optimisation (`stylize`), starting from one pass instead of the content: a style
    network's output, or the one-pass transfer's with `style` itself (any painting, `--init wct|adain`).

    The same objective as `stylize` (the style images and `config`'s weights, not the network's training
    settings), at `refine_config(config)`'s scales: the final scale only, unless `config.min_size` is set.
    `loss_history[0]` is the Gatys loss of the start. Equivalent to
    `stylize(content, style, refine_config(config), init_image=network_start(net, content, config.size))`,
    or with `init_image=transfer_start(transfer, content, style, config, transfer_settings, masks=masks)`.

    Args:
      content: a path or an (h, w, 3) array (float in [0, 1] or uint8).
      style: a path or array, or a sequence of them: the objective's style images (and the transfer's).
      net: a loaded network (`load_network`), or the one-pass transfer (`load_transfer`).
      config: settings; defaults to `StyleConfig()`. `**overrides` change its fields, e.g. `steps=20`.
      model_style: a network's style to start from: an index, a mix (one weight per style), or None (0).
      transfer_settings: the one-pass transfer's method, alpha, levels (default `TransferSettings()`).
      masks: as `stylize`'s; the transfer's start takes them too.
      style_masks: as `stylize`'s.
      callback: as `stylize`'s.
      on_scale: as `stylize`'s.
      log: as `stylize`'s.

    Returns:
      A StyleResult, as `stylize`'s.

    Raises:
      StyleJaxError: as `stylize`, or a `config.init` other than "content", a style the network lacks, or
        settings of the other kind of start (`transfer_settings` with a network, `model_style` with the transfer).

    Example:
      >>> net = stylejax.load_network("starry-net")
      >>> result = stylejax.refine("cat.jpg", "starry_night.jpg", net, size=512, steps=20)
      >>> result = stylejax.refine("cat.jpg", "starry_night.jpg", stylejax.load_transfer(), size=512, steps=20)
    """
    config = refine_config((config or StyleConfig()).replace(**overrides))
    if isinstance(net, OnePassTransfer):
        if model_style is not None:
            raise StyleJaxError("`model_style` picks a style network's style: the one-pass transfer takes the style "
                                "images themselves")
        start = transfer_start(net, content, style, config, transfer_settings, masks=masks)
    else:
        if transfer_settings is not None:
            raise StyleJaxError("`transfer_settings` are the one-pass transfer's: give a network's `model_style`")
        start = network_start(net, content, config.size, model_style)
    return stylize(content, style, config, masks=masks, style_masks=style_masks, init_image=start,
                   callback=callback, on_scale=on_scale, log=log)
