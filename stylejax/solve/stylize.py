"""`stylize` and `stylize_batch`: content images through the coarse-to-fine driver.

`stylize` is one image on one device at its own shape: before any long work, `sizing.fit` checks that
the largest scale fits in memory (turning on remat or tiles where they make it fit). `stylize_batch`
groups many images by bucket shape and runs each group in batches over every local device.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Sequence

import jax
import numpy as np
from jax.sharding import Mesh

from stylejax.config import MIN_SIDE, StyleConfig, check_batch_size
from stylejax.errors import StyleJaxError
from stylejax.io import images
from stylejax.io import masks as masks_io
from stylejax.io.images import ImageLike, as_image, style_list, working_shape
from stylejax.objective import color
from stylejax.runtime.buckets import bucket_shape
from stylejax.runtime.meshes import local_mesh
from stylejax.solve import scales, sizing
from stylejax.solve.batch import BatchSolver
from stylejax.solve.coarse_to_fine import CoarseToFineSolver
from stylejax.solve.problem import finish, finish_image
from stylejax.solve.scales import Scale

# Called between compiled chunks with (steps done, current image (h, w, 3), loss history so far).
Callback = Callable[[int, np.ndarray, np.ndarray], None]


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
        where mask i is white, with a soft seam where it fades (see `stylejax.io.masks`); pixels under no
        mask keep the content. None: the styles are blended everywhere.
      style_masks: with `masks`, one entry per style: a mask of the part of that painting to take the
        style from, or None for all of it.
      init_image: a starting image (path or array, any size: resized to the first scale's shape), overriding
        `config.init`. A style network's output works (`init_image=net(content)`); to refine it at full
        size only, as `stylejax.refine` does, also pass `min_size=size`: a coarse first scale would shrink it.
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
    style_masks = masks_io.style_masks(style_masks, len(style_images), regions=masks is not None)

    start = time.perf_counter()
    plan = scales.plan_scales(config)
    shapes = _scale_shapes(content_image.shape[:2], plan)
    mesh = local_mesh(jax.local_devices()[:1])  # one image: one device, nothing padded

    def measure(shape, remat):
        return memory_needed(style_images, scales.at_scale(config.replace(remat=remat), plan[-1]), shape,
                             style_masks=style_masks)

    fit = sizing.fit(measure, shapes[-1], config, log=log)
    config = config.replace(remat=fit.remat)
    solver = CoarseToFineSolver(style_images, config, mesh, 1, style_masks=style_masks, tile=fit.tile)

    def report(done, pixels, history):
        callback(done, finish(pixels[0], images.resize(content_image, pixels.shape[1:3]), config), history[0])

    outcome = solver.solve([content_image], shapes, masks=None if regions is None else [regions],
                           init_images=None if init_image is None else [init_image],
                           on_chunk=report if callback is not None else None, on_scale=on_scale)
    terms = outcome.losses[0]
    if not np.isfinite(terms["total"]):
        raise StyleJaxError("the loss diverged on the last step: lower the learning rate or the style weight")
    history = outcome.loss_history[0].astype(np.float32)
    ends = np.cumsum([scale.steps for scale in plan])[:-1]
    return StyleResult(
        image=finish(outcome.images[0], images.resize(content_image, shapes[-1]), config),
        loss_history=history,
        scale_histories=tuple(np.split(history, ends)),
        scales=tuple(scale.size for scale in plan),
        evaluations=int(outcome.evaluations[0]),
        losses=terms,
        seconds=time.perf_counter() - start,
        remat=fit.remat,
        tile=fit.tile,
    )


def memory_needed(style: ImageLike | Sequence[ImageLike], config: StyleConfig, shape: tuple[int, int], *,
                  style_masks: Sequence[np.ndarray | None] | None = None) -> int:
    """Bytes of device memory `stylize` needs to optimise an image of `shape` (h, w) at one scale of `config`.

    XLA's count for the run's own program, compiled for abstract inputs: nothing is computed, and the run
    reuses the compiled program.
    """
    mesh = local_mesh(jax.local_devices()[:1])
    return BatchSolver.abstract(style_list(style), config, mesh, 1, style_masks=style_masks).memory_needed(shape, 1)


def _check_regions(config: StyleConfig, masks: Sequence[ImageLike], styles: int, shape: tuple[int, int]
                   ) -> np.ndarray:
    """The masks as (r, h, w) at the content's shape; refuses what regions do not combine with."""
    if config.style_blend is not None:
        raise StyleJaxError("`style_blend` mixes the styles everywhere, `masks` puts each in its own region: "
                            "use one of them")
    if config.tile is not None:
        raise StyleJaxError("masks do not work with tiles yet: drop `tile` (lower `size`, or turn on `remat`)")
    return masks_io.region_masks(masks, styles, shape)


def _scale_shapes(shape: tuple[int, int], scales: Sequence[Scale]) -> list[tuple[int, int]]:
    """The (h, w) the content is optimised at in each scale; refuses a short side VGG cannot work with."""
    working_shape(shape, scales[-1].size, "content image")
    shapes = [images.fit_size(shape, scale.size) for scale in scales]
    if min(shapes[0]) < MIN_SIDE:  # a wide panorama at the first scale: a larger first scale helps
        raise StyleJaxError(f"content image is too narrow for the first scale: {shape[1]}x{shape[0]} becomes "
                            f"{shapes[0][1]}x{shapes[0][0]} at {scales[0].size} px, and VGG needs >= {MIN_SIDE} px "
                            "on the short side: raise `min_size`")
    return shapes


@dataclasses.dataclass(frozen=True)
class BatchResult:
    """What `stylize_batch` returns, one entry per content image, in input order.

    Attributes:
      images: (h_i, w_i, 3) float32 in [0, 1], each with its content image's aspect ratio.
      loss_histories: (n, total steps) float32, every scale's in turn.
      evaluations: (n,) int: loss evaluations per image.
      losses: per image, {"content", "style", "tv", "total"} of the final image.
      seconds: wall time, compilation included.
    """

    images: list[np.ndarray]
    loss_histories: np.ndarray
    evaluations: np.ndarray
    losses: list[dict[str, float]]
    seconds: float


def stylize_batch(contents: Sequence[ImageLike], style: ImageLike | Sequence[ImageLike],
                  config: StyleConfig | None = None, *, masks: Sequence[Sequence[ImageLike]] | None = None,
                  style_masks: Sequence[ImageLike | None] | None = None, batch_size: int = 8,
                  mesh: Mesh | None = None, vmap_size: int | str | None = "auto",
                  callback: Callable[[int], None] | None = None, **overrides) -> BatchResult:
    """Stylizes many content images, each independently, in parallel over this process's devices.

    Images are resized to `config.size` and grouped by `bucket_shape`; each group runs in batches of
    `batch_size` (padded to a multiple of the device count; the padding is discarded), coarse to fine
    through `config`'s scales. Outputs keep each content image's aspect ratio. Per image, the result
    matches `stylize` with the same config when the image's shape is a bucket shape at every scale.

    Args:
      contents: paths or (h, w, 3) arrays.
      style: a path or array, or a sequence of them.
      config: settings; `**overrides` change its fields.
      masks: per content image, one region mask per style (see `stylejax.stylize`); None blends the styles.
      style_masks: with `masks`, per style the part of the painting to take from (None: all of it).
      batch_size: images per compiled batch, across all devices.
      mesh: a 1-D ("data",) mesh; default: all local devices.
      vmap_size: images per device optimised in lockstep with vmap, the rest of a device's share in
        sequence within the same program; None: all of them. "auto": `default_vmap_size` (1 on CPU,
        None on GPU/TPU). Smaller needs less device memory.
      callback: called with the number of images finished so far, after each batch.

    Returns:
      A BatchResult in input order.
    """
    config = (config or StyleConfig()).replace(**overrides)
    check_batch_size(batch_size)
    start = time.perf_counter()
    content_images = [as_image(c, f"content image {i}") for i, c in enumerate(contents)]
    styles = style_list(style)
    regions = None
    if masks is not None:
        if len(masks) != len(content_images):
            raise StyleJaxError(f"masks for {len(masks)} images but {len(content_images)} content images: "
                                "give each content image its masks")
        regions = [masks_io.region_masks(m, len(styles), image.shape[:2])
                   for m, image in zip(masks, content_images, strict=True)]
    style_masks = masks_io.style_masks(style_masks, len(styles), regions=masks is not None)
    CoarseToFineSolver.check_batchable(config)
    solver = CoarseToFineSolver(styles, config, mesh, vmap_size, style_masks=style_masks)
    buckets: dict[tuple[int, int], list[int]] = {}
    for i, image in enumerate(content_images):
        for scale in solver.scales:
            working_shape(image.shape[:2], scale.size, f"content image {i}")
        buckets.setdefault(bucket_shape(image.shape[:2], config.size), []).append(i)

    results: dict[int, tuple] = {}
    for shape, members in buckets.items():
        for first in range(0, len(members), batch_size):
            batch = members[first:first + batch_size]
            outcome = solver.solve([content_images[i] for i in batch], solver.bucket_shapes(shape),
                                   masks=None if regions is None else [regions[i] for i in batch])
            for row, i in enumerate(batch):  # rows past the batch are padding
                results[i] = (finish_image(outcome.images[row], content_images[i], config),
                              outcome.loss_history[row], int(outcome.evaluations[row]), outcome.losses[row])
            if callback is not None:
                callback(len(results))
    ordered = [results[i] for i in range(len(content_images))]
    return BatchResult(
        images=[r[0] for r in ordered],
        loss_histories=np.stack([r[1] for r in ordered]).astype(np.float32),
        evaluations=np.array([r[2] for r in ordered]),
        losses=[r[3] for r in ordered],
        seconds=time.perf_counter() - start,
    )
