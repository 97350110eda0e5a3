"""Image files in and out: decoding any common format safely, resizing, writing atomically (`io.atomic`).

16-bit RGB PNGs are read and written at full precision by a little PNG code here: Pillow writes no
16-bit RGB at all and reads it keeping only the high byte of each sample.
"""

from __future__ import annotations

import functools
import os
import re
import warnings
from collections.abc import Sequence
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from stylejax.config import MIN_SIDE
from stylejax.errors import StyleJaxError
from stylejax.io import exif, png16
from stylejax.io.atomic import atomic_output

FRAME_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")

MAX_PIXELS = 100_000_000  # ~10k x 10k; larger files are refused as possible decompression bombs


def load_image(path: str | os.PathLike) -> np.ndarray:
    """Decodes an image file to (h, w, 3) float32 RGB in [0, 1].

    Handles grayscale, palette, RGBA/LA (composited on white), CMYK, 16-bit, and EXIF orientation.

    Args:
      path: the image file.

    Returns:
      (h, w, 3) float32 RGB in [0, 1]; a 16-bit PNG at full precision.

    Raises:
      StyleJaxError: a missing file, a directory, an empty, truncated or non-image file, or a
        decompression bomb.
    """
    path = Path(path)
    if not path.exists():
        raise StyleJaxError(f"{path}: no such file")
    if path.is_dir():
        raise StyleJaxError(f"{path}: is a directory, not an image")
    if path.stat().st_size == 0:
        raise StyleJaxError(f"{path}: empty file (0 bytes)")
    previous = Image.MAX_IMAGE_PIXELS
    try:
        Image.MAX_IMAGE_PIXELS = MAX_PIXELS
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                image.load()
                wide = png16.read_png16(path, image)
                if wide is not None:
                    return wide
                image = ImageOps.exif_transpose(image)
                return _to_rgb_float(image)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise StyleJaxError(f"{path}: over {MAX_PIXELS:,} pixels (possible decompression bomb): "
                            "downscale it first") from None
    except UnidentifiedImageError:
        raise StyleJaxError(f"{path}: not an image file Pillow can read") from None
    except (OSError, SyntaxError, ValueError) as e:
        raise StyleJaxError(f"{path}: damaged or truncated image ({e})") from None
    finally:
        Image.MAX_IMAGE_PIXELS = previous


def header_shape(path: str | os.PathLike) -> tuple[int, int]:
    """(h, w) of an image file as displayed (EXIF orientation applied), from its header: no pixels decoded.

    Raises:
      StyleJaxError: a file Pillow cannot open as an image.
    """
    try:
        with Image.open(path) as image:
            width, height = exif.displayed_size(image)
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as e:
        raise StyleJaxError(f"{path}: not an image file Pillow can read ({type(e).__name__})") from None
    return height, width


def _to_rgb_float(image: Image.Image) -> np.ndarray:
    if image.mode in ("I", "I;16", "I;16B", "I;16L", "I;16N"):  # 16-bit grayscale: keep the full range
        gray = np.asarray(image, np.float32)
        gray /= 65535.0 if gray.max() > 255 else 255.0
        return np.repeat(np.clip(gray, 0, 1)[..., None], 3, axis=-1)
    if image.mode == "F":
        gray = np.asarray(image, np.float32)
        return np.repeat(np.clip(gray, 0, 1)[..., None], 3, axis=-1)
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        image = Image.alpha_composite(background, rgba)
    return np.asarray(image.convert("RGB"), np.float32) / 255.0


def fit_size(shape: tuple[int, int], longest: int) -> tuple[int, int]:
    """(h, w) scaled so the longer side is `longest`, keeping the aspect ratio."""
    h, w = shape
    scale = longest / max(h, w)
    return max(1, round(h * scale)), max(1, round(w * scale))


def resize(image: np.ndarray | jax.Array, shape: tuple[int, int]) -> jax.Array:
    """(h, w, 3) -> (*shape, 3), antialiased when shrinking, clipped to [0, 1]."""
    if tuple(image.shape[:2]) == tuple(shape):
        return jnp.asarray(image, jnp.float32)
    return _resize(jnp.asarray(image, jnp.float32), tuple(shape))


@functools.partial(jax.jit, static_argnums=1)
def _resize(image: jax.Array, shape: tuple[int, int]) -> jax.Array:
    return jnp.clip(jax.image.resize(image, (*shape, 3), "lanczos3", antialias=True), 0.0, 1.0)


def resize_on_host(image: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """(h, w, 3) -> (*shape, 3) float32 with Pillow's Lanczos (antialiased), clipped to [0, 1].

    For many images of many shapes (bulk jobs): `resize` compiles one small program per pair of shapes.
    """
    image = np.asarray(image, np.float32)
    if tuple(image.shape[:2]) == tuple(shape):
        return image
    channels = [Image.fromarray(np.ascontiguousarray(image[..., c]), mode="F").resize((shape[1], shape[0]),
                                                                                      Image.LANCZOS)
                for c in range(image.shape[2])]
    return np.clip(np.stack([np.asarray(c) for c in channels], axis=-1), 0.0, 1.0)


def resize_mask(mask: np.ndarray | jax.Array, shape: tuple[int, int]) -> jax.Array:
    """Masks (..., h, w) in [0, 1] -> (..., *shape, 1), bilinear (area-averaged when shrinking)."""
    return _resize_mask(jnp.asarray(mask, jnp.float32), tuple(shape))[..., None]


@functools.partial(jax.jit, static_argnums=1)
def _resize_mask(mask: jax.Array, shape: tuple[int, int]) -> jax.Array:
    if mask.shape[-2:] == shape:
        return mask
    return jnp.clip(jax.image.resize(mask, (*mask.shape[:-2], *shape), "linear", antialias=True), 0.0, 1.0)


def check_output(path: str | os.PathLike, *, inputs: tuple = (), overwrite: bool = False) -> Path:
    """Checks, before any work, that `path` can be written: returns it, or raises StyleJaxError."""
    path = Path(path)
    if path.suffix.lower() not in Image.registered_extensions():
        raise StyleJaxError(f"{path}: unknown image extension {path.suffix!r}: use .png or .jpg")
    for source in inputs:
        if isinstance(source, (str, os.PathLike)) and Path(source).exists() and path.exists() \
                and path.resolve() == Path(source).resolve():
            raise StyleJaxError(f"{path}: output would replace an input image: choose another `output`")
    if path.is_dir():
        raise StyleJaxError(f"{path}: is a directory: give a file name such as {path / 'out.png'}")
    if path.exists() and not overwrite:
        raise StyleJaxError(f"{path}: already exists: pass `overwrite` to replace it")
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise StyleJaxError(f"{parent}: output directory does not exist: create it first")
    if not os.access(parent, os.W_OK):
        raise StyleJaxError(f"{parent}: output directory is not writable")
    return path


def check_bit_depth(path: str | os.PathLike, bit_depth: int) -> None:
    """Raises StyleJaxError, before any work, if `path` cannot be written with `bit_depth` bits per channel."""
    if bit_depth not in (8, 16):
        raise StyleJaxError(f"bit depth {bit_depth} is not supported: use 8 or 16")
    if bit_depth == 16 and Path(path).suffix.lower() != ".png":
        raise StyleJaxError(f"{path}: 16-bit output needs a .png file: name it .png or write 8 bits")


def save_image(image: np.ndarray | jax.Array, path: str | os.PathLike, *, bit_depth: int = 8) -> Path:
    """Writes (h, w, 3) floats in [0, 1] to `path` atomically: a reader never sees a partial file.

    Args:
      image: (h, w, 3) float in [0, 1]; values outside are clipped.
      path: any extension Pillow writes (.png, .jpg, ...); 16 bits need .png.
      bit_depth: 8, or 16 for a 16-bit-per-channel RGB PNG (round(x * 65535)).

    Returns:
      `path`.

    Raises:
      StyleJaxError: a bit depth other than 8 or 16, or 16 bits to a file that is not a .png.
    """
    path = Path(path)
    check_bit_depth(path, bit_depth)
    clipped = np.clip(np.asarray(image, np.float32), 0.0, 1.0)
    with atomic_output(path) as tmp, open(tmp, "wb") as f:
        if bit_depth == 16:
            f.write(png16.png16_bytes(np.round(clipped * 65535.0).astype(np.uint16)))
        else:
            pixels = np.round(clipped * 255.0).astype(np.uint8)
            Image.fromarray(pixels).save(f, format=Image.registered_extensions()[path.suffix.lower()])
    return path


def check_output_dir(path: str | os.PathLike) -> Path:
    """`path` as an output folder (it may not exist yet); refused in one line if it is something else."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise StyleJaxError(f"{path}: exists and is not a directory")
    return path


ImageLike = str | os.PathLike | np.ndarray | jax.Array


def as_image(source: ImageLike, what: str) -> np.ndarray:
    """A path or an array -> (h, w, 3) float32 in [0, 1]. uint8 arrays are scaled; gray is repeated."""
    if isinstance(source, (str, os.PathLike)):
        return load_image(source)
    array = np.asarray(source)
    if array.dtype == np.uint8:
        array = array.astype(np.float32) / 255.0
    if array.ndim == 2:
        array = np.repeat(array[..., None], 3, axis=-1)
    if array.ndim != 3 or array.shape[-1] not in (3, 4):
        raise StyleJaxError(f"{what} must be (h, w, 3) RGB, got shape {array.shape}")
    array = np.asarray(array[..., :3], np.float32)
    if not np.all(np.isfinite(array)) or array.min() < 0 or array.max() > 1:
        raise StyleJaxError(f"{what} must hold finite values in [0, 1] (or be uint8)")
    return array


def style_list(style: ImageLike | Sequence[ImageLike]) -> list[np.ndarray]:
    """One style image or several -> a non-empty list of (h, w, 3) float32 arrays."""
    styles = [style] if isinstance(style, (str, os.PathLike, np.ndarray, jax.Array)) else list(style)
    if not styles:
        raise StyleJaxError("give at least one style image")
    return [as_image(s, "style image") for s in styles]


def list_frame_files(folder: str | os.PathLike, *, required: bool = True) -> list[Path]:
    """The image files in `folder` (FRAME_SUFFIXES, hidden ones skipped), natural-sorted: frame2 before frame10.

    Args:
      folder: a folder.
      required: raise if it holds no images; False returns an empty list instead.

    Raises:
      StyleJaxError: `folder` is not a folder, or (if `required`) holds no images.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise StyleJaxError(f"{folder}: not a folder")
    # Hidden files include half-written frames (save_image's temporaries) and macOS ._* shadows.
    files = [p for p in folder.iterdir()
             if p.suffix.lower() in FRAME_SUFFIXES and not p.name.startswith(".") and p.is_file()]
    if not files and required:
        raise StyleJaxError(f"{folder}: no images in this folder (looked for {', '.join(FRAME_SUFFIXES)})")
    return sorted(files, key=natural_key)


def natural_key(path: Path) -> list:
    # re.split with a group alternates text and digits, so keys compare str with str and int with int.
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", path.name)]


def working_shape(shape: tuple[int, int], longest: int, what: str) -> tuple[int, int]:
    size = fit_size(shape, longest)
    if min(size) < MIN_SIDE or min(shape) < MIN_SIDE:  # upscaling a thumbnail invents no detail either
        raise StyleJaxError(f"{what} is too small: {shape[1]}x{shape[0]} becomes {size[1]}x{size[0]}, and VGG needs "
                            f">= {MIN_SIDE} px on the short side: use a larger image or a larger size")
    return size
