"""Region masks: which style goes where (Gatys et al. 2017, "Controlling Perceptual Factors").

One grayscale mask per style image, white where that style applies. Each scale resizes the masks to
its shape and pools them to every style layer (`losses.pooled_masks`); each region's Gram matrix of
the output is the guided Gram over its mask, pulled towards its own style's (`losses.guided_gram`),
so regions get different styles and a soft mask edge gives a soft seam. Masks may overlap (both
styles pull there); pixels under no mask get no style term and keep the content.

A mask may be any size of the content's aspect ratio: it is resized (bilinearly) to the content.
This module is the I/O edge: reading masks and finding them for batches and videos.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np

from stylejax.errors import StyleJaxError
from stylejax.io import images
from stylejax.io.images import ImageLike, as_image

ASPECT_TOLERANCE = 0.02  # a mask's aspect ratio may differ from the content's by this much (rounding)


def load_mask(source: ImageLike, what: str = "mask") -> np.ndarray:
    """A path or an array -> (h, w) float32 in [0, 1] (colour images are averaged over channels).

    Raises StyleJaxError for an unreadable or non-image file and for an all-black mask.
    """
    if isinstance(source, (str, os.PathLike)):
        what = str(source)
    mask = as_image(source, what).mean(axis=-1)
    if not mask.max() > 0:
        raise StyleJaxError(f"{what}: the mask is all black, so its style would go nowhere: "
                            "paint white where the style applies")
    return mask


def region_masks(masks: Sequence[ImageLike], styles: int, shape: tuple[int, int]) -> np.ndarray:
    """One mask per style, checked and resized to the content's (h, w) -> (r, h, w) float32.

    Raises StyleJaxError when the count differs from the styles', a mask's aspect ratio differs from
    the content's, or a mask is unreadable or all black.
    """
    if len(masks) != styles:
        raise StyleJaxError(f"{len(masks)} mask(s) for {styles} style image(s): give one mask per style, "
                            "in the same order")
    out = []
    for i, source in enumerate(masks):
        if source is None:
            raise StyleJaxError(f"mask {i + 1} is 'none': every style needs the mask of its region")
        mask = load_mask(source, f"mask {i + 1}")
        (mh, mw), (h, w) = mask.shape, shape
        if abs((mw / mh) / (w / h) - 1) > ASPECT_TOLERANCE:
            name = source if isinstance(source, (str, os.PathLike)) else f"mask {i + 1}"
            raise StyleJaxError(f"{name}: the mask is {mw}x{mh} but the content image is {w}x{h}: a mask needs "
                                "the content's aspect ratio (it is resized to the content)")
        out.append(np.asarray(images.resize_mask(mask, shape))[..., 0])
    return np.stack(out)


def style_masks(sources: Sequence[ImageLike | None] | None, styles: int, *, regions: bool = True
                ) -> list[np.ndarray | None] | None:
    """The parts of the paintings to take each style from: one entry per style, None for all of it.

    Without `regions` (no content masks: the styles are blended everywhere) there is nothing to take a
    part for: returns None, and refuses style masks given anyway.
    """
    if not regions:
        if sources is not None:
            raise StyleJaxError("style masks pick which part of each painting a region takes: give the regions' "
                                "masks too")
        return None
    if sources is None:
        return [None] * styles
    if len(sources) != styles:
        raise StyleJaxError(f"{len(sources)} style mask(s) for {styles} style image(s): give one per style "
                            "('none' for the whole painting)")
    return [None if s is None else load_mask(s, f"style mask {i + 1}") for i, s in enumerate(sources)]


def batch_mask_paths(masks_dir: Path, style_paths: Sequence[str | os.PathLike], name: str) -> list[Path]:
    """The masks of the input named `name` (its path relative to the input folder) in a masks folder.

    The folder has a subfolder per style, named by the style file's stem (`--style sky.jpg city.jpg`:
    `sky/` and `city/`), each mirroring the input folder with one mask per image, of any image format
    (`sky/trips/beach.png` for the input `trips/beach.jpg`). Raises StyleJaxError for a missing one.
    """
    if not masks_dir.is_dir():
        raise StyleJaxError(f"{masks_dir}: the masks folder does not exist")
    stems = [Path(s).stem for s in style_paths]
    if len(set(stems)) != len(stems):
        raise StyleJaxError(f"style images {', '.join(map(str, style_paths))} share a file name, and `masks_dir` "
                            "finds each style's masks in a folder named after it: rename one")
    paths = []
    for stem in stems:
        base = masks_dir / stem / Path(name).with_suffix("")
        found = sorted(p for p in base.parent.glob(base.name + ".*") if p.is_file()) if base.parent.is_dir() else []
        if not found:
            raise StyleJaxError(f"no mask for {name} in {masks_dir / stem}: expected {base}.png (or another image "
                                "format)")
        paths.append(found[0])
    return paths


def frame_masks(sources: Sequence[ImageLike], styles: int, shape: tuple[int, int]) -> Iterator[np.ndarray]:
    """A video's masks frame by frame: (r, h, w) for each frame, at the frames' (h, w).

    Each source is an image or array (the same mask for every frame) or a folder of frames (frame i's
    mask is its i-th file in natural order; the last one repeats past its end). The first frame's
    `region_masks` checks them (count, aspect ratio, content).
    """
    from stylejax.io.images import list_frame_files

    lists = [list_frame_files(s) if isinstance(s, (str, os.PathLike)) and Path(s).is_dir() else [s]
             for s in sources]
    current, masks = None, None
    for index in itertools.count():
        picks = tuple(min(index, len(files) - 1) for files in lists)
        if picks != current:  # a still mask is read once
            current = picks
            masks = region_masks([files[i] for files, i in zip(lists, picks, strict=True)], styles, shape)
        yield masks
