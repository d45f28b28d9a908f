"""One byte layout for a .safetensors file's header, so the same tensors give the same sha256.

safetensors keeps `__metadata__` in a Rust HashMap and writes its keys in a random order on
every save; `sort_metadata` rewrites the header with the keys sorted. The tensors' entries
and bytes are left as they are (safetensors already writes those in a fixed order).
Layout: an 8-byte little-endian header size, the JSON header padded with spaces to a
multiple of 8, then the tensor data (offsets are relative to the data, so they hold).
"""

from __future__ import annotations

import json
import os
import struct
from pathlib import Path

METADATA = "__metadata__"
ALIGNMENT = 8


def sort_metadata(path: str | os.PathLike[str]) -> None:
    """Rewrite `path`'s header with its metadata keys in sorted order (no-op without metadata)."""
    path = Path(path)
    data = path.read_bytes()
    (size,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + size])
    metadata = header.get(METADATA)
    if not metadata:
        return
    ordered = {METADATA: dict(sorted(metadata.items()))} | {
        k: v for k, v in header.items() if k != METADATA
    }
    text = json.dumps(ordered, separators=(",", ":"), ensure_ascii=False).encode()
    text += b" " * (-len(text) % ALIGNMENT)
    path.write_bytes(struct.pack("<Q", len(text)) + text + data[8 + size :])
