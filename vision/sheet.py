"""Contact sheets: scans side by side with their boxes, to judge data by eye (simulated, projected, real)."""

from __future__ import annotations

import math
from collections.abc import Sequence

import cv2
import numpy as np

Box = tuple[int, int, int, int]


def contact_sheet(
    tiles: Sequence[tuple[np.ndarray, Sequence[Box], str]], columns: int = 4, tile_px: int = 360
) -> np.ndarray:
    """An RGB sheet of ``(image, boxes, caption)`` tiles: boxes ``x0, y0, x1, y1`` in red, caption below."""
    rows = max(1, math.ceil(len(tiles) / columns))
    tile_h = int(tile_px * 0.75)
    sheet = np.full((rows * (tile_h + 18), columns * tile_px, 3), 255, np.uint8)
    for k, (image, boxes, caption) in enumerate(tiles):
        img = image.copy()
        for x0, y0, x1, y1 in boxes:
            cv2.rectangle(img, (x0, y0), (x1, y1), (230, 0, 0), max(1, img.shape[1] // 400))
        scale = min(tile_px / img.shape[1], tile_h / img.shape[0])
        small = cv2.resize(
            img,
            (max(1, int(img.shape[1] * scale)), max(1, int(img.shape[0] * scale))),
            interpolation=cv2.INTER_AREA,
        )
        r, c = divmod(k, columns)
        top, left = r * (tile_h + 18), c * tile_px
        sheet[top : top + small.shape[0], left : left + small.shape[1]] = small
        cv2.putText(
            sheet, caption[:48], (left + 2, top + tile_h + 13), cv2.FONT_HERSHEY_SIMPLEX, 0.38, (0, 0, 0), 1,
            cv2.LINE_AA,
        )  # fmt: skip
    return sheet
