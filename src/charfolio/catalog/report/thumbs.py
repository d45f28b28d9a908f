"""Small JPEG thumbnails as data URIs, so contact sheets live inside the one HTML file."""

from __future__ import annotations

import base64
from pathlib import Path

from charfolio.core.imaging import DEFAULT_MAX_PIXELS
from charfolio.core.thumbnail import jpeg_thumbnail


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
        jpeg = jpeg_thumbnail(path, self.size, self.max_pixels, self.quality)
        if jpeg is None:
            return None
        return "data:image/jpeg;base64," + base64.b64encode(jpeg).decode("ascii")
