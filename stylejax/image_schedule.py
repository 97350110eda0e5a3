"""`stylize`: one content image through a schedule of scales, coarse to fine, tiled where it must be.

Before any long work, `sizing.fit` checks that the largest scale fits in memory (turning on remat or
tiles where they make it fit). Each scale starts from the previous result upsampled, with the
optimizer state carried over (`schedule.carry_state`); a scale larger than the tile is optimised as
overlapping tiles (`tiles.stylize_tiles`).
"""

from __future__ import annotations

import dataclasses
import functools
import time
from collections.abc import Callable, Sequence

import jax.numpy as jnp
import numpy as np

from . import color, images, schedule, sizing, tiles
from . import masks as masks_io
from .config import MIN_SIDE, StyleConfig
from .engine import (
    Callback,
    ImageLike,
    as_image,
    finish,
    initial_image,
    prepare,
    resolve_optimizer,
    run_scale,
    step_bytes,
    style_list,
    terms_of,
    working_shape,
)
from .errors import StyleJaxError
from .optimize import averaged_image, init_state_jit
from .schedule import Scale
from .weights import load_vgg


@dataclasses.dataclass(frozen=True)
class StyleResult:
    """What `stylize` returns.

    Attributes:
      image: (h, w, 3) float32 in [0, 1], the content image's aspect ratio, longest side = config.size.
      loss_history: (total steps,) float32, the total loss at the start of each step, every scale's in turn
        (each scale has its own objective: losses of different scales are not comparable).
      scale_histories: each scale's part of `loss_history`, coarsest first.
      scales: the longest side of each scale, coarsest first.
      evaluations: loss-and-gradient evaluations used (line-search evaluations included).
      losses: {"content", "style", "tv", "total"}: weighted terms of the final image at full size.
      seconds: wall time of the optimisation, compilation included.
      remat: whether VGG activations were recomputed in the backward pass (chosen by the memory check).
      tile: the tile side the largest scales were optimised in, or None.
    """

    image: np.ndarray
    loss_history: np.ndarray
    evaluations: int
    losses: dict[str, float]
    seconds: float
    scale_histories: tuple[np.ndarray, ...] = ()
    scales: tuple[int, ...] = ()
    remat: bool = False
    tile: int | None = None


def stylize(content: ImageLike, style: ImageLike | Sequence[ImageLike], config: StyleConfig | None = None, *,
            masks: Sequence[ImageLike] | None = None, style_masks: Sequence[ImageLike | None] | None = None,
            init_image: ImageLike | None = None, callback: Callback | None = None,
            on_scale: Callable[[Scale], None] | None = None, log: Callable[[str], None] | None = None,
            **overrides) -> StyleResult:
    """Renders `content` in the style of `style` by optimising pixels (Gatys, Ecker & Bethge), coarse to fine.

    Args:
      content: a path or an (h, w, 3) array (float in [0, 1] or uint8).
      style: a path or array, or a sequence of them (blended by `config.style_blend`).
      config: settings; defaults to `StyleConfig()`.
      masks: one grayscale mask per style (path or array, the content's aspect ratio): style i goes
        where mask i is white, with a soft seam where it fades (see `stylejax.masks`); pixels under no
        mask keep the content. None: the styles are blended everywhere.
      style_masks: with `masks`, one entry per style: a mask of the part of that painting to take the
        style from, or None for all of it.
      init_image: a starting image (path or array), overriding `config.init`.
      callback: called between compiled chunks with (steps done over all scales, image, loss history so far).
      on_scale: called with each `Scale` as the run reaches it.
      log: receives one line on what the largest scale needs in memory and how it was made to fit.
      **overrides: StyleConfig fields, e.g. `stylize(c, s, steps=30, size=256)`.

    Returns:
      A StyleResult with the image, the loss history (per scale too) and the loss evaluations used.

    Raises:
      StyleJaxError: on unreadable images, invalid settings, a size that cannot fit in memory, or a
        diverging optimisation.

    Example:
      >>> result = stylejax.stylize("cat.jpg", "starry_night.jpg", size=1024, tile="auto")
    """
    config = (config or StyleConfig()).replace(**overrides)
    content_image = as_image(content, "content image")
    style_images = style_list(style)
    if config.color_transfer != "none":  # once, against the whole content image: tiles share the result
        style_images = [np.asarray(color.transfer_colors(s, content_image, config.color_transfer))
                        for s in style_images]
        config = config.replace(color_transfer="none")
    regions = None
    if masks is not None:
        regions = _check_regions(config, masks, len(style_images), content_image.shape[:2])
        style_masks = masks_io.style_masks(style_masks, len(style_images))
    elif style_masks is not None:
        raise StyleJaxError("style masks pick which part of each painting a region takes: give the regions' masks too")
    vgg = load_vgg(config.model, pooling=config.pooling)
    prepared = functools.partial(prepare, masks=regions, style_masks=style_masks)

    start = time.perf_counter()
    scales = schedule.plan_scales(config)
    shapes = _scale_shapes(content_image.shape[:2], scales)
    fit = sizing.fit(lambda shape, remat: step_bytes(vgg, style_images, config.replace(remat=remat), shape,
                                                     prepared),
                     shapes[-1], config, log=log)
    config = config.replace(remat=fit.remat)
    optimizer = resolve_optimizer(config)
    image, state, histories, evaluations, done, terms = None, None, [], 0, 0, {}
    for scale, shape in zip(scales, shapes, strict=True):
        if on_scale is not None:
            on_scale(scale)
        scale_config = schedule.at_scale(config, scale)
        content_resized = images.resize(content_image, shape)
        if image is None:
            image = initial_image(config, content_resized, init_image)
        if fit.tile is not None and max(shape) > fit.tile:
            tiled = tiles.stylize_tiles(content_resized, image, style_images, scale_config, fit.tile)
            image, history = jnp.asarray(tiled.image), tiled.loss_history
            terms = {k: v for k, v in tiled.losses.items() if k != "total"}
            evaluations += tiled.evaluations
            state = None  # tiles keep no whole-image optimizer state to carry
        else:
            objective, args, content_resized = prepared(vgg, content_resized, style_images, scale_config)
            fresh = init_state_jit(objective, optimizer, schedule.upsample(image, shape), args)
            state = fresh if state is None else schedule.carry_state(state, fresh)

            def report(step, pixels, losses, done=done, content=content_resized):
                callback(done + step, finish(pixels, content, config), np.concatenate(histories + [losses]))

            state, history = run_scale(objective, optimizer, state, args, scale_config,
                                       report if callback is not None else None, offset=done)
            image = averaged_image(state, config.ema_decay)
            evaluations += int(state.evaluations)
            if scale.last:
                terms = {k: float(v) for k, v in terms_of(objective, image, args).items()}
        histories.append(history)
        done += scale.steps
        if callback is not None:
            callback(done, finish(image, content_resized, config), np.concatenate(histories))
    terms["total"] = sum(terms.values())
    if not np.isfinite(terms["total"]):
        raise StyleJaxError("the loss diverged on the last step: lower the learning rate or the style weight")
    return StyleResult(
        image=finish(image, content_resized, config),
        loss_history=np.concatenate(histories).astype(np.float32),
        scale_histories=tuple(h.astype(np.float32) for h in histories),
        scales=tuple(scale.size for scale in scales),
        evaluations=evaluations,
        losses=terms,
        seconds=time.perf_counter() - start,
        remat=fit.remat,
        tile=fit.tile,
    )


def _check_regions(config: StyleConfig, masks: Sequence[ImageLike], styles: int, shape: tuple[int, int]
                   ) -> np.ndarray:
    """The masks as (r, h, w) at the content's shape; refuses what regions do not combine with."""
    if config.style_blend is not None:
        raise StyleJaxError("--style-blend mixes the styles everywhere, --masks puts each in its own region: "
                            "use one of them")
    if config.tile is not None:
        raise StyleJaxError("masks do not work with tiles yet: drop --tile (lower --size, or use --remat on)")
    return masks_io.region_masks(masks, styles, shape)


def _scale_shapes(shape: tuple[int, int], scales: Sequence[Scale]) -> list[tuple[int, int]]:
    """The (h, w) the content is optimised at in each scale; refuses a short side VGG cannot work with."""
    working_shape(shape, scales[-1].size, "content image")
    shapes = [images.fit_size(shape, scale.size) for scale in scales]
    if min(shapes[0]) < MIN_SIDE:  # a wide panorama at the first scale: a larger first scale helps
        raise StyleJaxError(f"content image is too narrow for the first scale: {shape[1]}x{shape[0]} becomes "
                            f"{shapes[0][1]}x{shapes[0][0]} at {scales[0].size} px, and VGG needs >= {MIN_SIDE} px "
                            "on the short side: raise --min-size")
    return shapes
