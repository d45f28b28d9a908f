"""Small JPEG thumbnails as data URIs, so contact sheets live inside the one HTML file."""

from __future__ import annotations

import base64
import io
from pathlib import Path

from PIL import Image

from charfolio.core.imaging import DEFAULT_MAX_PIXELS
from charfolio.core.regular_file import open_regular


class Thumbnails:
    """Thumbnails of images under `root`, made once per file however often they are shown."""

    def __init__(
        self, root: Path, size: int = 112, quality: int = 72, max_pixels: int = DEFAULT_MAX_PIXELS
    ) -> None:
        self.root, self.size, self.quality, self.max_pixels = root, size, quality, max_pixels
        self._cache: dict[str, str | None] = {}

    def uri(self, file: str) -> str | None:
        """data:image/jpeg;base64,... for `file` (relative to root); None if unreadable."""
        if file not in self._cache:
            self._cache[file] = self._make(self.root / file)
        return self._cache[file]

    def _make(self, path: Path) -> str | None:
        # Missing, not a regular file (a FIFO would block the report forever), too large or
        # broken: the sheet shows a placeholder; the stages' tables already say why.
        try:
            with open_regular(path) as handle, Image.open(handle) as image:
                if image.width * image.height > self.max_pixels:
                    return None
                image.draft("RGB", (self.size * 2, self.size * 2))  # fast JPEG decode at scale
                thumb = image.convert("RGB")
        except Exception:  # incl. DecompressionBombError, which is not an OSError
            return None
        thumb.thumbnail((self.size, self.size), Image.Resampling.LANCZOS)
        buffer = io.BytesIO()
        thumb.save(buffer, "JPEG", quality=self.quality, optimize=True, progressive=False)
        return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")
