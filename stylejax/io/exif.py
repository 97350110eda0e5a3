"""EXIF orientation: how a camera's stored pixels turn to display upright (as `ImageOps.exif_transpose`)."""

from __future__ import annotations

from PIL import Image

ORIENTATION_TAG = 0x0112
# EXIF orientation -> the transpose that displays the image upright; 5 to 8 turn it on its side.
_UPRIGHT = {2: Image.Transpose.FLIP_LEFT_RIGHT, 3: Image.Transpose.ROTATE_180, 4: Image.Transpose.FLIP_TOP_BOTTOM,
            5: Image.Transpose.TRANSPOSE, 6: Image.Transpose.ROTATE_270, 7: Image.Transpose.TRANSVERSE,
            8: Image.Transpose.ROTATE_90}
_SIDEWAYS = (5, 6, 7, 8)


def upright(image: Image.Image) -> Image.Transpose | None:
    """The transpose that displays an opened image upright, or None when it is stored upright."""
    return _UPRIGHT.get(image.getexif().get(ORIENTATION_TAG))


def displayed_size(image: Image.Image) -> tuple[int, int]:
    """(width, height) of an opened image as displayed, from its header alone (no pixels decoded)."""
    width, height = image.size
    return (height, width) if image.getexif().get(ORIENTATION_TAG) in _SIDEWAYS else (width, height)
