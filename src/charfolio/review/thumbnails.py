"""Grid thumbnails made with Pillow and kept in memory (an LRU): nothing is written to disk."""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from pathlib import Path

from charfolio.core.imaging import DEFAULT_MAX_PIXELS
from charfolio.core.thumbnail import jpeg_thumbnail

Key = tuple[str, int, int]  # path, mtime_ns, size: a regenerated image gets a new thumbnail


class ThumbnailCache:
    def __init__(
        self, size: int = 192, entries: int = 4096, max_pixels: int = DEFAULT_MAX_PIXELS
    ) -> None:
        self.size, self.entries, self.max_pixels = size, entries, max_pixels
        self._cache: OrderedDict[Key, bytes | None] = OrderedDict()
        self._lock = threading.Lock()  # endpoints run in a thread pool

    def jpeg(self, path: Path) -> bytes | None:
        """A JPEG thumbnail of `path`; None when it is missing, not a file, too big or broken."""
        try:
            facts = os.stat(path)
        except OSError:
            return None
        key = (str(path), facts.st_mtime_ns, facts.st_size)
        with self._lock:
            if key in self._cache:
                self._cache.move_to_end(key)
                return self._cache[key]
        thumb = jpeg_thumbnail(
            path, self.size, self.max_pixels, quality=80
        )  # unlocked: in parallel
        with self._lock:
            self._cache[key] = thumb
            while len(self._cache) > self.entries:
                self._cache.popitem(last=False)
        return thumb
