"""Two styles in two regions: the README's sky/ground example, with each region's style distance.

    python benchmarks/regions.py --sky STYLE --ground STYLE [--size 384] [-o docs/regions.jpg]

The content is scikit-image's cameraman photo (CC0). Its sky mask is made here from the photo (bright
pixels connected to the top edge, feathered); the ground mask is its complement. It prints, for each
region, the Gram distance of the result to each style, so the eye has a number beside it.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import skimage.data
from skimage import filters, measure

import stylejax
from stylejax.io import sheets
from stylejax.objective import targets


def sky_mask(photo: np.ndarray, feather: float = 3.0) -> np.ndarray:
    """(h, w) in [0, 1]: bright pixels connected to the top edge, with a soft edge."""
    bright = photo.mean(-1) > 0.62
    labels = measure.label(bright, connectivity=1)
    top = set(np.unique(labels[0])) - {0}
    sky = np.isin(labels, list(top)).astype(np.float32)
    return np.clip(filters.gaussian(sky, sigma=feather), 0, 1).astype(np.float32)


def style_distance(vgg, image: np.ndarray, mask: np.ndarray, style: np.ndarray) -> float:
    """The guided Gram distance of `image`'s masked region to `style` (the region's style term, weight 1)."""
    config = stylejax.StyleConfig(size=max(image.shape[:2]), style_weight=1.0)
    objective, args, pixels = stylejax.prepare(vgg, image, [style], config, masks=mask[None])
    return float(targets.terms_of(objective, pixels, args)["style"]) / float(mask.mean())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sky", required=True, help="style image for the sky")
    parser.add_argument("--ground", required=True, help="style image for the ground")
    parser.add_argument("--size", type=int, default=384)
    parser.add_argument("-o", "--output", default="docs/regions.jpg")
    args = parser.parse_args()

    photo = np.repeat(skimage.data.camera()[..., None], 3, -1).astype(np.float32) / 255
    sky = sky_mask(photo)
    masks = [sky, 1 - sky]
    styles = [stylejax.load_image(args.sky), stylejax.load_image(args.ground)]
    start = time.perf_counter()
    result = stylejax.stylize(photo, styles, size=args.size, masks=masks)
    print(f"{args.size} px, default schedule: {time.perf_counter() - start:.0f} s")
    vgg = stylejax.load_vgg("vgg16")
    small = [np.asarray(stylejax.io.images.resize_mask(m, result.image.shape[:2]))[..., 0] for m in masks]
    for region, mask in zip(("sky", "ground"), small, strict=True):
        distances = [style_distance(vgg, result.image, mask, s) for s in styles]
        print(f"{region}: Gram distance to the sky style {distances[0]:.4g}, to the ground style {distances[1]:.4g}")
    sheet = sheets.contact_sheet({"content": photo, "sky mask": np.repeat(sky[..., None], 3, -1),
                                "sky style": styles[0], "ground style": styles[1], "result": result.image},
                               height=min(args.size, 256))
    stylejax.save_image(result.image, args.output.rsplit(".", 1)[0] + "_result.png")
    stylejax.save_image(sheet, args.output)
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
