import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from stylejax import StyleJaxError, images


def _rgb(h=40, w=30):
    ys, xs = np.mgrid[0:h, 0:w]
    return np.stack([xs * 255 // w, ys * 255 // h, np.full((h, w), 90)], -1).astype(np.uint8)


def test_rgb_png_round_trips(tmp_path):
    pixels = _rgb()
    Image.fromarray(pixels).save(tmp_path / "a.png")
    np.testing.assert_allclose(images.load_image(tmp_path / "a.png"), pixels / 255.0, atol=1e-6)


@pytest.mark.parametrize("mode", ["L", "RGBA", "LA", "P", "CMYK", "I;16", "1"])
def test_other_modes_load_as_rgb(tmp_path, mode):
    pil = Image.fromarray(_rgb())
    if mode == "I;16":
        gray = (np.asarray(pil.convert("L"), np.uint16) * 257)
        pil = Image.fromarray(gray)
        assert pil.mode == "I;16"
    else:
        pil = pil.convert(mode)
    path = tmp_path / ("a.jpg" if mode == "CMYK" else "a.png")
    pil.save(path)
    image = images.load_image(path)
    assert image.shape == (40, 30, 3) and image.dtype == np.float32
    assert 0 <= image.min() and image.max() <= 1
    if mode == "I;16":  # the full 16-bit range maps to [0, 1], not clipped to 255/65535
        np.testing.assert_allclose(image[..., 0], np.asarray(Image.fromarray(_rgb()).convert("L")) / 255, atol=1e-3)


def test_transparent_pixels_become_white(tmp_path):
    rgba = np.zeros((8, 8, 4), np.uint8)
    Image.fromarray(rgba, "RGBA").save(tmp_path / "t.png")
    np.testing.assert_allclose(images.load_image(tmp_path / "t.png"), 1.0)


def test_exif_orientation_is_applied(tmp_path):
    pil = Image.fromarray(_rgb(40, 30))
    exif = Image.Exif()
    exif[0x0112] = 6  # stored sideways: rotate 90 degrees clockwise to display
    pil.save(tmp_path / "r.jpg", exif=exif.tobytes())
    assert images.load_image(tmp_path / "r.jpg").shape == (30, 40, 3)


def _png_with_size(width: int, height: int) -> bytes:
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    chunk = b"IHDR" + header
    ihdr = struct.pack(">I", len(header)) + chunk + struct.pack(">I", zlib.crc32(chunk))
    return b"\x89PNG\r\n\x1a\n" + ihdr + b"\x00\x00\x00\x00IEND\xaeB`\x82"


@pytest.mark.parametrize("make, message", [
    (lambda p: None, "no such file"),
    (lambda p: p.mkdir(), "is a directory"),
    (lambda p: p.write_bytes(b""), "empty file"),
    (lambda p: p.write_text("hello, not an image"), "not an image file"),
    (lambda p: p.write_bytes(_png_with_size(40_000, 40_000)), "decompression bomb"),
])
def test_bad_files_are_refused_in_one_clear_sentence(tmp_path, make, message):
    path = tmp_path / "bad.png"
    make(path)
    with pytest.raises(StyleJaxError, match=message):
        images.load_image(path)


def test_truncated_image_is_refused(tmp_path):
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (64, 64, 3), np.uint8)).save(tmp_path / "ok.png")
    data = (tmp_path / "ok.png").read_bytes()
    (tmp_path / "cut.png").write_bytes(data[: len(data) // 2])
    with pytest.raises(StyleJaxError, match="damaged or truncated"):
        images.load_image(tmp_path / "cut.png")


def test_fit_size_keeps_the_aspect_ratio():
    assert images.fit_size((300, 451), 256) == (170, 256)
    assert images.fit_size((512, 512), 64) == (64, 64)


def test_save_is_atomic_and_leaves_no_temporary_files(tmp_path):
    images.save_image(_rgb() / 255.0, tmp_path / "out.png")
    assert [p.name for p in tmp_path.iterdir()] == ["out.png"]


def test_check_output_refuses_to_lose_anything(tmp_path):
    existing = tmp_path / "exists.png"
    existing.write_bytes(b"precious")
    with pytest.raises(StyleJaxError, match="--overwrite"):
        images.check_output(existing)
    with pytest.raises(StyleJaxError, match="replace an input"):
        images.check_output(existing, inputs=(str(existing),), overwrite=True)
    with pytest.raises(StyleJaxError, match="does not exist"):
        images.check_output(tmp_path / "nowhere" / "out.png")
    with pytest.raises(StyleJaxError, match="unknown image extension"):
        images.check_output(tmp_path / "out.txt")
    assert existing.read_bytes() == b"precious"
