"""SHA-256 of files, read in blocks (model files and image folders can be large)."""

from __future__ import annotations

import hashlib
import os

from charfolio.core.regular_file import open_regular

BLOCK = 1 << 20


def sha256_file(path: str | os.PathLike[str]) -> str:
    """Hex SHA-256 of a regular file's bytes (NotRegularFile, an OSError, for anything else)."""
    digest = hashlib.sha256()
    with open_regular(path) as fh:
        while block := fh.read(BLOCK):
            digest.update(block)
    return digest.hexdigest()
