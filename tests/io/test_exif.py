"""`io.exif`: each EXIF orientation's transpose, and the displayed size read from the header."""

import numpy as np
import pytest
from PIL import Image, ImageOps

from stylejax.io import exif


def _stored(tmp_path, orientation: int | None) -> Image.Image:
    """A 3x2 image (w x h) of distinct pixels, saved with `orientation` and opened again."""
    pixels = np.arange(18, dtype=np.uint8).reshape(2, 3, 3) * 14
    tags = Image.Exif()
    if orientation is not None:
        tags[exif.ORIENTATION_TAG] = orientation
    Image.fromarray(pixels).save(tmp_path / "i.png", exif=tags.tobytes())
    return Image.open(tmp_path / "i.png")


@pytest.mark.parametrize("orientation", [None, 1, 2, 3, 4, 5, 6, 7, 8])
def test_upright_and_displayed_size_agree_with_pillow_s_exif_transpose(tmp_path, orientation):
    with _stored(tmp_path, orientation) as image:
        transpose = exif.upright(image)
        ours = image if transpose is None else image.transpose(transpose)
        size = exif.displayed_size(image)
        pillows = ImageOps.exif_transpose(image)
        np.testing.assert_array_equal(np.asarray(ours), np.asarray(pillows))
        assert size == pillows.size == ((2, 3) if orientation in (5, 6, 7, 8) else (3, 2))
