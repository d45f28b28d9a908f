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

import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path

from charfolio.core.digest import sha256_file
from charfolio.core.keyed_csv import (
    Row,
    read_keyed_csv,
    sha256_problem,
    text_problem,
    time_problem,
    update_keyed_csv,
)

RATING_COLUMNS = ("file", "rating", "reviewer", "rated_at", "sha256")
RATINGS = (1, 2, 3, 4, 5)


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
    return (
        sha256_problem(row["sha256"])
        or time_problem("rated_at", row["rated_at"])
        or text_problem("reviewer", row["reviewer"])
    )


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


# A report's rating columns: the mean of the current ratings (None: unrated), how many, and
# how many ratings of earlier renders were left out.
RATING_FIELDS = ("rating_mean", "rating_count", "rating_stale")


@dataclass(frozen=True)
class MeanRating:
    mean: float | None  # None: no current rating
    count: int  # current ratings averaged
    stale: int  # ratings of an earlier render of these images, left out

    def fields(self) -> dict[str, float | int | None]:
        """The columns a report table and JSON carry (RATING_FIELDS)."""
        return dict(zip(RATING_FIELDS, (self.mean, self.count, self.stale), strict=True))


def _sha256_or_none(path: Path) -> str | None:
    return sha256_file(path) if path.is_file() else None


def mean_rating(
    ratings: Mapping[str, Rating],
    files: Iterable[str],
    character_root: str | os.PathLike[str],
    sha256_of: Callable[[Path], str | None] = _sha256_or_none,
) -> MeanRating:
    """The mean current rating of `files` (relative to the character root)."""
    root = Path(character_root)
    values, stale = [], 0
    for f in files:
        r = ratings.get(f)
        if r is None:
            continue
        if r.sha256 and sha256_of(root / f) != r.sha256:
            stale += 1
            continue
        values.append(r.rating)
    mean = round(sum(values) / len(values), 2) if values else None
    return MeanRating(mean, len(values), stale)


@dataclass
class RatedImages:
    """A character's ratings, for a report that averages them over groups of its images
    (a board's frames, a checkpoint's renders); each image is hashed once."""

    ratings: Mapping[str, Rating]
    character_root: Path
    _hashes: dict[Path, str | None] = field(default_factory=dict, repr=False)

    @classmethod
    def load(
        cls, ratings_file: str | os.PathLike[str] | None, character_root: str | os.PathLike[str]
    ) -> RatedImages:
        """No ratings file (None, or not written yet): every group is unrated."""
        ratings = {} if ratings_file is None else read_ratings(ratings_file)
        return cls(ratings, Path(character_root))

    def _sha256(self, path: Path) -> str | None:
        if path not in self._hashes:
            self._hashes[path] = _sha256_or_none(path)
        return self._hashes[path]

    def mean(self, files: Iterable[str]) -> MeanRating:
        return mean_rating(self.ratings, files, self.character_root, self._sha256)

    def key(self, path: str | os.PathLike[str]) -> str:
        """The ratings key of an image: its path relative to the character root."""
        return Path(os.path.relpath(path, self.character_root)).as_posix()


def rating_text(fields: Mapping[str, object]) -> tuple[str, str]:
    """(cell text, hover text) of a report's rating columns: "3.50 (4)", or "–" unrated."""
    mean, count, stale = (fields.get(k) for k in RATING_FIELDS)
    text = "–" if mean is None else f"{mean:.2f} ({count})"
    hover = f"mean of {count} rating(s) 1-5" if mean is not None else "not rated"
    if stale:
        hover += f"; {stale} rating(s) of an earlier render left out"
    return text, hover
