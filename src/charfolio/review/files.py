"""The files the review page may serve, looked up by key, never by a path from a request.

A request names a key (a file as the catalog, a storyboard or a checkpoint folder lists it,
relative to results/{character}/). A key that is not listed is unknown; a listed key whose
resolved path leaves the character's results (a planted symlink, a `..` in a hostile table)
is refused too. An ingested-folder character's images live behind its `source` link, so the
resolved target of that link is the one other allowed root.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from charfolio.core.layout import SOURCE_LINK
from charfolio.core.regular_file import open_regular

MEDIA_TYPES = {
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".webp": "image/webp",
    ".gif": "image/gif",
    ".bmp": "image/bmp",
    ".tif": "image/tiff",
    ".tiff": "image/tiff",
}


def allowed_roots(character_root: Path) -> tuple[Path, ...]:
    """results/{character}/ resolved, and the resolved target of its `source` link if any."""
    roots = [Path(os.path.realpath(character_root))]
    source = character_root / SOURCE_LINK
    if source.is_symlink() or source.is_dir():
        roots.append(Path(os.path.realpath(source)))
    return tuple(roots)


class ServedFiles:
    """Keys -> paths under the allowed roots; anything else is None (the caller says 404)."""

    def __init__(self, character_root: Path, keys: Iterable[str]) -> None:
        self.root = character_root
        self.roots = allowed_roots(character_root)
        self.keys = frozenset(keys)

    def path(self, key: str) -> Path | None:
        if (
            key not in self.keys
            or Path(key).is_absolute()
            or Path(key).suffix.lower() not in MEDIA_TYPES
        ):
            return None
        resolved = Path(os.path.realpath(self.root / key))
        if not any(resolved.is_relative_to(root) for root in self.roots):
            return None
        return resolved

    def read(self, key: str) -> tuple[bytes, str] | None:
        """(bytes, media type) of a servable regular file; None when unknown or unreadable."""
        path = self.path(key)
        if path is None:
            return None
        try:
            with open_regular(path) as handle:
                return handle.read(), MEDIA_TYPES[path.suffix.lower()]
        except OSError:
            return None
