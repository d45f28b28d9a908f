"""Exact and near-duplicate images: threshold-free hashes, and the grouping that applies one.

`hash_images` records, per image, the sha256 of the file's bytes (exact copies) and a
64-bit DCT perceptual hash (near copies: the same picture re-encoded, resized or slightly
retouched). `hash_pairs` lists the images whose hashes match (same sha256, or pHash Hamming
distance <= max_distance); `DuplicateGroups` joins matching pairs, these and the
near-identity rule's (charfolio.curate.near_duplicates), into groups transitively and keeps the
best-scored image of each; `find_duplicates` does both for the hashes alone. Changing
max_distance reruns only selection.

pHash: grey image, area-resized to 32x32, 2-D DCT, the 8x8 lowest frequencies, one bit per
coefficient: above the median of the 63 non-DC ones. Bits are row-major, most significant
first, written as 16 hex digits. Identical pictures give distance 0; JPEG re-encoding or a
resize typically changes 0-4 bits; unrelated images differ in about 32.
"""

from __future__ import annotations

import functools
import math
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pyarrow as pa

from charfolio.core import tables
from charfolio.core.digest import sha256_file
from charfolio.core.imaging import DEFAULT_MAX_PIXELS, map_images, read_rgb
from charfolio.core.progress import Progress

DEFAULT_MAX_DISTANCE = 6  # out of 64 bits
# What made two images duplicates, strongest evidence first: the same bytes, the same pHash
# within the distance, or near-identical face and embedding (charfolio.curate.near_duplicates).
DUPLICATE_KINDS = ("sha256", "phash", "face_embedding")
_STRENGTH = {kind: i for i, kind in enumerate(DUPLICATE_KINDS)}


def phash(rgb: np.ndarray) -> int:
    """The 64-bit DCT perceptual hash of an HxWx3 uint8 RGB image."""
    grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    small = cv2.resize(grey, (32, 32), interpolation=cv2.INTER_AREA).astype(np.float32)
    low = cv2.dct(small)[:8, :8].flatten()
    bits = low > np.median(low[1:])  # the DC term only measures brightness
    return int.from_bytes(np.packbits(bits).tobytes(), "big")


def hamming(a: int, b: int) -> int:
    return bin(a ^ b).count("1")


def _sha256_or_none(path: str | os.PathLike[str]) -> str | None:
    try:
        return sha256_file(path)
    except OSError:
        return None


def _hash_file(path: str, max_pixels: int) -> tuple[str | None, str | None]:
    read = read_rgb(path, max_pixels=max_pixels)
    perceptual = f"{phash(read.array):016x}" if read.ok else None
    return _sha256_or_none(path), perceptual


def hash_images(
    paths: Sequence[str],
    root: str | os.PathLike[str],
    workers: int = 1,
    log: Callable[[str], None] = print,
    *,
    max_pixels: int = DEFAULT_MAX_PIXELS,
) -> list[dict[str, Any]]:
    """One DUPLICATES row per image, in input order (sha256/phash null when unreadable)."""
    root = Path(root)
    progress = Progress(len(paths), "duplicate hashes", log)
    work = functools.partial(_hash_file, max_pixels=max_pixels)
    hashes = map_images(work, [str(root / p) for p in paths], workers, progress)
    return [
        {"file": file, "sha256": sha, "phash": perceptual}
        for file, (sha, perceptual) in zip(paths, hashes, strict=True)
    ]


def write_duplicates(path: str | os.PathLike[str], rows: Sequence[Mapping[str, Any]]) -> pa.Table:
    return tables.write_table(path, rows, tables.DUPLICATES)


def _popcount(values: np.ndarray) -> np.ndarray:
    if hasattr(np, "bitwise_count"):  # numpy >= 2
        return np.bitwise_count(values)
    table = np.array([bin(i).count("1") for i in range(256)], dtype=np.uint8)
    return table[values.view(np.uint8).reshape(-1, 8)].sum(axis=1)


class DuplicateGroups:
    """Images joined into groups by matching pairs, transitively (union-find).

    Each image also remembers the strongest kind of match it took part in (DUPLICATE_KINDS
    order), so a copy that joined its group through another copy can say how it matched.
    """

    def __init__(self, n: int) -> None:
        self.parent = list(range(n))
        self.kind: list[str | None] = [None] * n

    def find(self, i: int) -> int:
        while self.parent[i] != i:
            self.parent[i] = self.parent[self.parent[i]]
            i = self.parent[i]
        return i

    def add(self, i: int, j: int, kind: str) -> None:
        self.parent[self.find(i)] = self.find(j)
        for k in (i, j):
            if self.kind[k] is None or _STRENGTH[kind] < _STRENGTH[self.kind[k]]:
                self.kind[k] = kind

    def kept(self, files: Sequence[str], scores: Mapping[str, float]) -> dict[int, int]:
        """Every grouped image but the best of its group -> that best image (all indices).

        The best is the highest-scored (ties: the first file name in lexicographic order;
        a file without a score ranks last).
        """

        def rank(i: int) -> tuple[float, str]:
            score = scores.get(files[i])
            usable = score is not None and not math.isnan(score)
            return (-score if usable else math.inf, files[i])  # type: ignore[operator]

        members: dict[int, list[int]] = {}
        for i in range(len(files)):
            members.setdefault(self.find(i), []).append(i)
        out: dict[int, int] = {}
        for group in members.values():
            if len(group) > 1:
                best, *others = sorted(group, key=rank)
                out.update(dict.fromkeys(others, best))
        return out


def hash_pairs(
    rows: Sequence[Mapping[str, Any]], max_distance: int
) -> Iterator[tuple[int, int, str]]:
    """(i, j, kind) for rows with the same sha256, and for rows within max_distance pHash bits.

    Same bytes are linked to the first row with them, so n copies give n - 1 pairs.
    """
    first_with_sha: dict[str, int] = {}
    for i, row in enumerate(rows):
        sha = row.get("sha256")
        if sha is not None and first_with_sha.setdefault(sha, i) != i:
            yield i, first_with_sha[sha], "sha256"
    hashed = [i for i, row in enumerate(rows) if row.get("phash") is not None]
    values = np.array([int(rows[i]["phash"], 16) for i in hashed], dtype=np.uint64)
    for k in range(len(hashed) - 1):
        distances = _popcount(values[k + 1 :] ^ values[k])
        for offset in np.flatnonzero(distances <= max_distance):
            yield hashed[k], hashed[k + 1 + int(offset)], "phash"


def phash_distance(a: Mapping[str, Any], b: Mapping[str, Any]) -> int | None:
    """pHash bits between two DUPLICATES rows: 0 for the same bytes, None when one is unhashed."""
    if a.get("sha256") is not None and a.get("sha256") == b.get("sha256"):
        return 0
    if a.get("phash") is None or b.get("phash") is None:
        return None
    return hamming(int(a["phash"], 16), int(b["phash"], 16))


def find_duplicates(
    rows: Sequence[Mapping[str, Any]],
    scores: Mapping[str, float],
    max_distance: int = DEFAULT_MAX_DISTANCE,
) -> dict[str, tuple[str, int]]:
    """Map every duplicate to (the kept image of its group, the pHash distance to it).

    Groups join exact copies (same sha256) and near copies (pHash distance <= max_distance),
    transitively. Each group keeps its highest-scored image (`DuplicateGroups.kept`); all
    others are returned. The distance is 0 for a byte-identical copy of the kept image.
    """
    groups = DuplicateGroups(len(rows))
    for i, j, kind in hash_pairs(rows, max_distance):
        groups.add(i, j, kind)
    files = [row["file"] for row in rows]
    # A member without a pHash was unreadable and joined only through its bytes: distance 0.
    return {
        files[i]: (files[k], phash_distance(rows[i], rows[k]) or 0)
        for i, k in groups.kept(files, scores).items()
    }


def hash_images_in_tables(
    image_tables: Sequence[str | os.PathLike[str]],
    root: str | os.PathLike[str],
    out_path: str | os.PathLike[str],
    *,
    workers: int = 1,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    log: Callable[[str], None] = print,
) -> pa.Table:
    """Exact and perceptual hashes of a character's images (no threshold applied here)."""
    rows = hash_images(tables.image_files(image_tables), root, workers, log, max_pixels=max_pixels)
    return write_duplicates(out_path, rows)
