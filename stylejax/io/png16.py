"""16-bit-per-channel RGB PNGs, written and read at full precision (Pillow keeps one byte of each sample)."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np
from PIL import Image

from stylejax.io import exif

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def _png_chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    """(type, body) of each chunk after the signature; ValueError if the file is cut short."""
    chunks, at = [], len(_PNG_SIGNATURE)
    while at + 8 <= len(data):
        (length,), kind = struct.unpack(">I", data[at:at + 4]), data[at + 4:at + 8]
        if at + 12 + length > len(data):
            raise ValueError(f"{kind.decode('latin-1')} chunk cut short")
        chunks.append((kind, data[at + 8:at + 8 + length]))
        at += 12 + length
        if kind == b"IEND":
            break
    return chunks


def png16_bytes(pixels: np.ndarray) -> bytes:
    """A 16-bit-per-channel RGB PNG file of pixels: (h, w, 3) uint16.

    Every row uses filter type 0 (none); samples are big-endian, as PNG requires.
    """
    h, w, _ = pixels.shape
    samples = np.ascontiguousarray(pixels, ">u2").reshape(h, 3 * w).view(np.uint8)
    rows = np.concatenate([np.zeros((h, 1), np.uint8), samples], axis=1)  # a filter-type byte per row
    header = struct.pack(">IIBBBBB", w, h, 16, 2, 0, 0, 0)  # depth 16, colour type 2 (RGB), no interlace
    return (_PNG_SIGNATURE + _png_chunk(b"IHDR", header) + _png_chunk(b"IDAT", zlib.compress(rows.tobytes(), 6))
            + _png_chunk(b"IEND", b""))


def read_png16(path: Path, image: Image.Image) -> np.ndarray | None:
    """A 16-bit RGB or RGBA PNG as (h, w, 3) float32 at full precision; None for any other file."""
    if image.format != "PNG":
        return None
    data = path.read_bytes()
    width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", data[16:29])
    if depth != 16 or colour not in (2, 6) or interlace:  # Adam7-interlaced ones stay 8-bit (Pillow's path)
        return None
    mode = "RGB" if colour == 2 else "RGBA"
    idat = b"".join(body for kind, body in _png_chunks(data) if kind == b"IDAT")
    # Pillow's PNG decoder unfilters 16-bit rows correctly but keeps one byte of each sample: decode twice,
    # keeping the high bytes (";16B") and then the low ones (";16L" takes the other byte of each pair).
    high, low = (Image.frombytes(mode, (width, height), idat, "zip", f"{mode};16{order}") for order in "BL")
    if (transpose := exif.upright(image)) is not None:
        high, low = high.transpose(transpose), low.transpose(transpose)
    samples = (np.asarray(high, np.uint16) << 8 | np.asarray(low, np.uint16)).astype(np.float32) / 65535.0
    if colour == 6:  # composited on white, as 8-bit RGBA is
        return samples[..., :3] * samples[..., 3:] + (1.0 - samples[..., 3:])
    return samples
