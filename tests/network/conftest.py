"""Training photos for the network tests: scikit-image's, small, in a nested folder with a broken file."""

import numpy as np
import pytest
from PIL import Image


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    """Read only: a module's tests share it."""
    import skimage.data

    folder = tmp_path_factory.mktemp("photos")
    (folder / "nested").mkdir(parents=True)
    for i, name in enumerate(("astronaut", "coffee", "chelsea", "rocket", "camera")):
        image = Image.fromarray(np.asarray(getattr(skimage.data, name)()))
        image.thumbnail((64, 64))
        image.save(folder / ("nested" if i % 2 else "") / f"{name}.png")
    (folder / "broken.png").write_text("not an image")
    return folder
