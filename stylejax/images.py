"""Image files in and out: decoding any common format safely, resizing, atomic writes."""

from __future__ import annotations

import functools
import os
import tempfile
import warnings
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from .errors import StyleJaxError

MAX_PIXELS = 100_000_000  # ~10k x 10k; larger files are refused as possible decompression bombs


def load_image(path: str | os.PathLike) -> np.ndarray:
    """Decodes an image file to (h, w, 3) float32 RGB in [0, 1].

    Handles grayscale, palette, RGBA/LA (composited on white), CMYK, 16-bit, and EXIF orientation.
    Raises StyleJaxError for a missing file, a directory, an empty, truncated or non-image file, or a
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


def check_output(path: str | os.PathLike, *, inputs: tuple = (), overwrite: bool = False) -> Path:
    """Checks, before any work, that `path` can be written: returns it, or raises StyleJaxError."""
    path = Path(path)
    if path.suffix.lower() not in Image.registered_extensions():
        raise StyleJaxError(f"{path}: unknown image extension {path.suffix!r}: use .png or .jpg")
    for source in inputs:
        if isinstance(source, (str, os.PathLike)) and Path(source).exists() and path.exists() \
                and path.resolve() == Path(source).resolve():
            raise StyleJaxError(f"{path}: output would replace an input image: choose another -o")
    if path.is_dir():
        raise StyleJaxError(f"{path}: is a directory: give a file name such as {path / 'out.png'}")
    if path.exists() and not overwrite:
        raise StyleJaxError(f"{path}: already exists: pass --overwrite to replace it")
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise StyleJaxError(f"{parent}: output directory does not exist: create it first")
    if not os.access(parent, os.W_OK):
        raise StyleJaxError(f"{parent}: output directory is not writable")
    return path


def save_image(image: np.ndarray | jax.Array, path: str | os.PathLike) -> Path:
    """Writes (h, w, 3) floats in [0, 1] to `path` atomically: a reader never sees a partial file."""
    path = Path(path)
    pixels = np.asarray(jnp.round(jnp.clip(jnp.asarray(image), 0, 1) * 255), np.uint8)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}-", suffix=path.suffix, dir=path.parent or ".")
    try:
        with os.fdopen(fd, "wb") as f:
            Image.fromarray(pixels).save(f, format=Image.registered_extensions()[path.suffix.lower()])
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
