import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from stylejax import StyleJaxError
from stylejax.io import images


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


def test_header_shape_is_the_displayed_shape_without_decoding(tmp_path):
    exif = Image.Exif()
    exif[0x0112] = 6  # stored 30 wide and 40 high, displayed 40 wide and 30 high
    Image.fromarray(_rgb(40, 30)).save(tmp_path / "r.jpg", exif=exif.tobytes())
    Image.fromarray(_rgb(40, 30)).save(tmp_path / "upright.jpg")
    assert images.header_shape(tmp_path / "r.jpg") == (30, 40) == images.load_image(tmp_path / "r.jpg").shape[:2]
    assert images.header_shape(tmp_path / "upright.jpg") == (40, 30)
    (tmp_path / "text.png").write_text("not an image")
    with pytest.raises(StyleJaxError, match="text.png: not an image file"):
        images.header_shape(tmp_path / "text.png")


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
    with pytest.raises(StyleJaxError, match="`overwrite`"):
        images.check_output(existing)
    with pytest.raises(StyleJaxError, match="replace an input"):
        images.check_output(existing, inputs=(str(existing),), overwrite=True)
    with pytest.raises(StyleJaxError, match="does not exist"):
        images.check_output(tmp_path / "nowhere" / "out.png")
    with pytest.raises(StyleJaxError, match="unknown image extension"):
        images.check_output(tmp_path / "out.txt")
    assert existing.read_bytes() == b"precious"


def _gradient(h=24, w=64):
    """A smooth gradient with far more than 256 levels per channel."""
    ys, xs = np.mgrid[0:h, 0:w]
    t = (ys * w + xs) / (h * w - 1)
    return np.stack([t, 1 - t, 0.25 + 0.5 * t ** 2], -1).astype(np.float32)


def _parse_png(data: bytes) -> tuple[bytes, np.ndarray]:
    """An independent reader of a filter-0, non-interlaced PNG: (IHDR body, rows of samples as uint8)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    at, chunks = 8, []
    while at < len(data):
        (length,) = struct.unpack(">I", data[at:at + 4])
        kind, body = data[at + 4:at + 8], data[at + 8:at + 8 + length]
        (crc,) = struct.unpack(">I", data[at + 8 + length:at + 12 + length])
        assert crc == zlib.crc32(kind + body), kind
        chunks.append((kind, body))
        at += 12 + length
    assert [k for k, _ in chunks][0] == b"IHDR" and chunks[-1] == (b"IEND", b"")
    raw = zlib.decompress(b"".join(body for kind, body in chunks if kind == b"IDAT"))
    w, h = struct.unpack(">II", chunks[0][1][:8])
    rows = np.frombuffer(raw, np.uint8).reshape(h, -1)
    assert np.all(rows[:, 0] == 0)  # filter type 0 on every row
    return chunks[0][1], rows[:, 1:]


def test_16_bit_png_round_trips_a_smooth_gradient(tmp_path):
    image = _gradient()
    images.save_image(image, tmp_path / "g.png", bit_depth=16)
    back = images.load_image(tmp_path / "g.png")
    assert back.shape == image.shape and back.dtype == np.float32
    np.testing.assert_allclose(back, image, rtol=0, atol=1 / 65535 * 1.01)
    assert len(np.unique(back[..., 0])) > 256
    assert [p.name for p in tmp_path.iterdir()] == ["g.png"]  # written atomically, nothing left over


def test_16_bit_png_holds_what_an_independent_reader_expects(tmp_path):
    image = _gradient(5, 7)
    images.save_image(image, tmp_path / "g.png", bit_depth=16)
    header, rows = _parse_png((tmp_path / "g.png").read_bytes())
    assert header == struct.pack(">IIBBBBB", 7, 5, 16, 2, 0, 0, 0)  # 16 bits, RGB, no interlace
    samples = rows.view(">u2").reshape(5, 7, 3)
    np.testing.assert_array_equal(samples, np.round(image * 65535).astype(np.uint16))
    with Image.open(tmp_path / "g.png") as pil:  # Pillow reads it too, keeping the high bytes
        np.testing.assert_array_equal(np.asarray(pil.convert("RGB")), samples >> 8)


def _paeth(a: int, b: int, c: int) -> int:
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    return a if pa <= pb and pa <= pc else b if pb <= pc else c


def _png16_from_another_writer(samples: np.ndarray, exif: bytes | None = None) -> bytes:
    """A 16-bit PNG (RGB or RGBA) whose rows cycle through all five filter types, as libpng writes them."""
    h, w, c = samples.shape
    bpp = 2 * c
    raw = samples.astype(">u2").reshape(h, -1).view(np.uint8)
    rows, previous = [], bytes(w * bpp)
    for y in range(h):
        current, kind, filtered = raw[y].tobytes(), y % 5, bytearray()
        for x, value in enumerate(current):
            left, up = current[x - bpp] if x >= bpp else 0, previous[x]
            upper_left = previous[x - bpp] if x >= bpp else 0
            guess = [0, left, up, (left + up) // 2, _paeth(left, up, upper_left)][kind]
            filtered.append((value - guess) % 256)
        rows.append(bytes([kind]) + bytes(filtered))
        previous = current

    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", w, h, 16, 2 if c == 3 else 6, 0, 0, 0)
    extra = chunk(b"eXIf", exif) if exif else b""
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + extra + chunk(b"IDAT", zlib.compress(b"".join(rows)))
            + chunk(b"IEND", b""))


@pytest.mark.parametrize("kind", ["rgb", "rgba", "rotated"])
def test_16_bit_pngs_from_other_writers_load_at_full_precision(tmp_path, kind):
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 65536, (7, 9, 3), np.uint16)
    want = rgb / 65535.0
    if kind == "rgba":
        alpha = rng.integers(0, 65536, (7, 9, 1), np.uint16)
        data = _png16_from_another_writer(np.concatenate([rgb, alpha], -1))
        want = want * (alpha / 65535.0) + (1 - alpha / 65535.0)  # on white
    elif kind == "rotated":
        exif = Image.Exif()
        exif[0x0112] = 6  # rotate 90 degrees clockwise to display
        data = _png16_from_another_writer(rgb, exif.tobytes()[6:])  # eXIf holds the TIFF part, no "Exif\0\0"
        want = np.rot90(want, k=-1)
    else:
        data = _png16_from_another_writer(rgb)
    (tmp_path / "x.png").write_bytes(data)
    np.testing.assert_allclose(images.load_image(tmp_path / "x.png"), want, rtol=0, atol=1e-6)


def test_16_bit_output_needs_png_and_other_depths_are_refused(tmp_path):
    with pytest.raises(StyleJaxError, match="16-bit output needs a .png file"):
        images.save_image(_gradient(), tmp_path / "g.jpg", bit_depth=16)
    with pytest.raises(StyleJaxError, match="bit depth 12 is not supported: use 8 or 16"):
        images.save_image(_gradient(), tmp_path / "g.png", bit_depth=12)
    assert list(tmp_path.iterdir()) == []
    images.check_bit_depth(tmp_path / "g.PNG", 16)  # any case of .png is fine
