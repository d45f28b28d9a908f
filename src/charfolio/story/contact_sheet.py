"""A storyboard's contact sheet: the frames in a grid, each labelled with its number and score."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from PIL import Image, ImageDraw, ImageFont

TILE = 256  # the longest side of a frame on the sheet, in pixels
LABEL_HEIGHT = 26
GAP = 8
PASSED, FAILED, INK = (34, 120, 70), (181, 71, 8), (31, 41, 51)


@dataclass(frozen=True)
class SheetFrame:
    image: Image.Image
    index: int  # the frame number shown
    score: float | None
    passed: bool | None


def columns_for(n: int) -> int:
    """One row up to 5 frames, else two rows (6 -> 3x2, 8 -> 4x2, 10 -> 5x2)."""
    return n if n <= 5 else math.ceil(n / 2)


def _label(frame: SheetFrame) -> tuple[str, tuple[int, int, int]]:
    if frame.score is None:
        return f"{frame.index}", INK
    verdict = "" if frame.passed is None else (" passed" if frame.passed else " below threshold")
    colour = INK if frame.passed is None else (PASSED if frame.passed else FAILED)
    return f"{frame.index}  CLIP {frame.score:.2f}{verdict}", colour


def _fit(image: Image.Image, tile: int) -> Image.Image:
    """`image` scaled so its longer side is `tile`; small frames are enlarged pixel by pixel
    (nearest neighbour), so the sheet shows what was rendered, not an interpolation."""
    scale = tile / max(image.size)
    size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    up = scale > 1
    return image.resize(size, Image.Resampling.NEAREST if up else Image.Resampling.LANCZOS)


def contact_sheet(frames: Sequence[SheetFrame], tile: int = TILE) -> Image.Image:
    """An RGB image of `frames` in story order, left to right, top to bottom."""
    if not frames:
        raise ValueError("a contact sheet needs at least one frame")
    cols = columns_for(len(frames))
    rows = math.ceil(len(frames) / cols)
    cell_w, cell_h = tile, tile + LABEL_HEIGHT
    sheet = Image.new(
        "RGB", (GAP + cols * (cell_w + GAP), GAP + rows * (cell_h + GAP)), (255, 255, 255)
    )
    draw = ImageDraw.Draw(sheet)
    font = ImageFont.load_default(size=15)
    for k, frame in enumerate(frames):
        x = GAP + (k % cols) * (cell_w + GAP)
        y = GAP + (k // cols) * (cell_h + GAP)
        thumb = _fit(frame.image.convert("RGB"), tile)
        sheet.paste(thumb, (x + (tile - thumb.width) // 2, y + (tile - thumb.height) // 2))
        text, colour = _label(frame)
        draw.text((x + 2, y + tile + 5), text, fill=colour, font=font)
    return sheet
