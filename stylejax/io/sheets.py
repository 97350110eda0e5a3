"""Contact sheets: labelled images side by side, for the demo, sweeps and benchmark reports."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw


def contact_sheet(panels: dict[str, np.ndarray], height: int = 256, columns: int | None = None) -> np.ndarray:
    """Images at one height, each labelled, in rows of `columns` (default: one row):
    {"content": ..., "style": ..., "result": ...}."""
    label_band, gap = 22, 8
    tiles = []
    for label, image in panels.items():
        pil = Image.fromarray(np.asarray(np.clip(image, 0, 1) * 255, np.uint8))
        pil = pil.resize((max(1, round(pil.width * height / pil.height)), height), Image.LANCZOS)
        tile = Image.new("RGB", (pil.width, height + label_band), "white")
        tile.paste(pil, (0, label_band))
        ImageDraw.Draw(tile).text((6, 5), label, fill="black")
        tiles.append(tile)
    columns = columns or len(tiles)
    rows = [tiles[i:i + columns] for i in range(0, len(tiles), columns)]
    width = max(sum(t.width for t in row) + gap * (len(row) - 1) for row in rows)
    sheet = Image.new("RGB", (width, len(rows) * (height + label_band) + gap * (len(rows) - 1)), "white")
    for r, row in enumerate(rows):
        x = 0
        for tile in row:
            sheet.paste(tile, (x, r * (height + label_band + gap)))
            x += tile.width + gap
    return np.asarray(sheet, np.float32) / 255.0
