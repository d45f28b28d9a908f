"""What the review page shows and edits: its settings and the character's catalog, loaded
when the server starts and again when a snakemake run rebuilds the catalog."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from charfolio.core.layout import Results, ratings_file, review_file
from charfolio.faces.shots import ShotRules
from charfolio.review.catalog_view import read_catalog, shot_types, tile_columns
from charfolio.review.files import ServedFiles
from charfolio.review.gaps import tier_gaps
from charfolio.review.rateable import Rateable, rateables
from charfolio.review.thumbnails import ThumbnailCache


@dataclass(frozen=True)
class ReviewSettings:
    character: str
    review_dir: str
    reviewer: str
    token: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    results_root: str = Results().root
    shot_rules: ShotRules | None = None
    loopback_only: bool = True  # listening on loopback: a Host header must name loopback


class Review:
    """What the page shows and edits: loaded once when the server starts."""

    def __init__(self, settings: ReviewSettings) -> None:
        self.settings = settings
        self.results = Results(settings.results_root).character(settings.character)
        self.catalog_version = catalog_version(self.results)  # before reading: never newer
        self.table = read_catalog(self.results)
        files = self.table.column("file").to_pylist()
        self.row_of = {f: i for i, f in enumerate(files)}
        self.sha256_of = dict(zip(files, self.table.column("sha256").to_pylist(), strict=True))
        self.tiles = tile_columns(
            self.table, shot_types(self.table, self.results, settings.shot_rules)
        )
        tiers = {t for ts in self.tiles.get("tiers", []) for t in ts or []}
        self.gaps = tier_gaps(self.results, tiers)
        self.decisions_path = review_file(settings.review_dir, settings.character)
        self.ratings_path = ratings_file(settings.review_dir, settings.character)
        self.thumbs = ThumbnailCache()
        self.refresh_rateables()

    def refresh_rateables(self) -> list[Rateable]:
        """Boards and checkpoint runs may be rendered while the page is open: look again."""
        found = rateables(self.results)
        self.files = ServedFiles(Path(self.results.root), [*self.row_of, *(r.file for r in found)])
        # A board whose folder links outside the results is not listed: it could not be shown.
        self.rateables = [r for r in found if self.files.path(r.file) is not None]
        self.rateable_keys = {r.file for r in self.rateables}
        return self.rateables


def catalog_version(results: Results | Any) -> int:
    """The catalog file's mtime in ns (0 when missing): the version the page shows."""
    try:
        return Path(results.catalog).stat().st_mtime_ns
    except OSError:
        return 0
