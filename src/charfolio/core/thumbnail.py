"""A small JPEG of an image file, as reports and the review page show it."""

from __future__ import annotations

import io
import os

from PIL import Image

from charfolio.core.regular_file import open_regular


def jpeg_thumbnail(
    path: str | os.PathLike[str], size: int, max_pixels: int, quality: int
) -> bytes | None:
    """JPEG bytes at most `size` pixels a side; None when the file is missing, not a regular
    file (a FIFO would block the reader for ever), above `max_pixels` or broken: callers show
    a placeholder, and the stages' tables already say why."""
    try:
        with open_regular(path) as handle, Image.open(handle) as image:
            if image.width * image.height > max_pixels:
                return None
            image.draft("RGB", (size * 2, size * 2))  # fast JPEG decode at scale
            thumb = image.convert("RGB")
    except Exception:  # incl. DecompressionBombError, which is not an OSError
        return None
    thumb.thumbnail((size, size), Image.Resampling.LANCZOS)
    buffer = io.BytesIO()
    thumb.save(buffer, "JPEG", quality=quality, optimize=True, progressive=False)
    return buffer.getvalue()
