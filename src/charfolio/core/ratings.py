"""Human 1-5 ratings of storyboard frames and checkpoint images: `{character}_ratings.csv`.

In the config's `review_dir`, written by `charfolio review` or by hand:

    file,rating,reviewer,rated_at,sha256
    story/first_day/frames/frame_00.png,4,ana,2026-12-03T10:12:00Z,9f86d0...

`file` is relative to results/{character}/. `sha256` is of the image rated: a rating of an
image that has since been re-rendered is stale, and reports leave it out of their means.
The ablation and checkpoint reports show each board's or run's mean rating beside its
metrics (specs/003: people rate storyboards 1-5).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path

from charfolio.core.keyed_csv import Row, read_keyed_csv, update_keyed_csv

RATING_COLUMNS = ("file", "rating", "reviewer", "rated_at", "sha256")
RATINGS = (1, 2, 3, 4, 5)
_SHA256 = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class Rating:
    file: str
    rating: int
    reviewer: str = ""
    rated_at: str = ""
    sha256: str = ""

    def row(self) -> Row:
        return {c: str(v) for c, v in asdict(self).items()}


def rating_problem(row: Row) -> str | None:
    if row["rating"] not in {str(r) for r in RATINGS}:
        return f"rating {row['rating']!r} is not a whole number from 1 to 5"
    if row["sha256"] and not _SHA256.fullmatch(row["sha256"]):
        return f"sha256 {row['sha256']!r} is not 64 lowercase hex digits (or empty)"
    if row["rated_at"]:
        try:
            dt.datetime.fromisoformat(row["rated_at"].replace("Z", "+00:00"))
        except ValueError:
            return f"rated_at {row['rated_at']!r} is not an ISO 8601 time"
    return None


def read_ratings(path: str | os.PathLike[str]) -> dict[str, Rating]:
    """file -> Rating; a missing file is no ratings. Raises CsvFileError naming the line."""
    rows = read_keyed_csv(path, RATING_COLUMNS, rating_problem)
    return {f: Rating(**dict(row, rating=int(row["rating"]))) for f, (_, row) in rows.items()}


def update_ratings(
    path: str | os.PathLike[str], changes: Mapping[str, Rating | None]
) -> dict[str, Rating]:
    """Record ratings (None: withdraw the file's rating) in the file as it is now."""
    rows = update_keyed_csv(
        path,
        RATING_COLUMNS,
        {f: None if r is None else r.row() for f, r in changes.items()},
        rating_problem,
    )
    return {f: Rating(**dict(row, rating=int(row["rating"]))) for f, row in rows.items()}


def file_sha256(path: str | os.PathLike[str]) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@dataclass(frozen=True)
class MeanRating:
    mean: float | None  # None: no current rating
    count: int  # current ratings averaged
    stale: int  # ratings of an earlier render of these images, left out


def mean_rating(
    ratings: Mapping[str, Rating], files: Iterable[str], character_root: str | os.PathLike[str]
) -> MeanRating:
    """The mean current rating of `files` (relative to the character root)."""
    root = Path(character_root)
    values, stale = [], 0
    for f in files:
        r = ratings.get(f)
        if r is None:
            continue
        if r.sha256 and (not (root / f).is_file() or file_sha256(root / f) != r.sha256):
            stale += 1
            continue
        values.append(r.rating)
    mean = round(sum(values) / len(values), 2) if values else None
    return MeanRating(mean, len(values), stale)
