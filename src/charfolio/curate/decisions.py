"""Human review decisions: the reviewer's accept, reject and star, an input of selection.

`config/reviews/{character}.csv` (the config's `review_dir`), written by `charfolio review`
or by hand, committed beside the config:

    file,decision,note,reviewer,reviewed_at,sha256
    images/seed_42/0003.png,reject,extra finger,ana,2026-12-03T10:12:00Z,9f86d0...

- file: the image as the catalog names it (relative to results/{character}/);
- decision: accept (into the passing pool whatever the thresholds; an unreadable image
  still fails), reject (verdict rejected, reason `reviewer`) or star (accepted, and ranked
  ahead of every unstarred image of its cluster);
- sha256: of the image the reviewer saw. A row whose image has since changed (regenerated)
  is stale: reported, not applied. Empty: applies to whatever the file holds;
- note, reviewer, reviewed_at (ISO 8601): kept with the decision in the catalog.

One row per file; a file without a row has no decision, and a missing file means none.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass

from charfolio.core.keyed_csv import (
    CsvFileError,
    Row,
    read_keyed_csv,
    sha256_problem,
    text_problem,
    time_problem,
    update_keyed_csv,
)

REVIEW_COLUMNS = ("file", "decision", "note", "reviewer", "reviewed_at", "sha256")
ACCEPT, REJECT, STAR = "accept", "reject", "star"
DECISIONS = (ACCEPT, REJECT, STAR)
REVIEWER_REASON = "reviewer"  # the reject reason of a reviewer's reject
# A decision's review_status in SELECTION and CATALOG: applied; stale (the image changed
# since it was reviewed); ignored (an accept or star of an image that cannot be read).
APPLIED, STALE, IGNORED = "applied", "stale", "ignored"


class ReviewFileError(CsvFileError):
    """A review file that cannot be applied; the message names the file, line and fix."""


@dataclass(frozen=True)
class Decision:
    file: str
    decision: str
    note: str = ""
    reviewer: str = ""
    reviewed_at: str = ""
    sha256: str = ""
    line: int = 0  # in the review file; 0 for a decision not read from one

    def row(self) -> Row:
        return {c: str(v) for c, v in asdict(self).items() if c in REVIEW_COLUMNS}


def now_iso() -> str:
    """The time of a decision, as review files record it (UTC, seconds)."""
    return dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def decision_problem(row: Row) -> str | None:
    if row["decision"] not in DECISIONS:
        return f"decision {row['decision']!r} is not one of {', '.join(DECISIONS)}"
    return (
        sha256_problem(row["sha256"])
        or time_problem("reviewed_at", row["reviewed_at"])
        or text_problem("note", row["note"])
        or text_problem("reviewer", row["reviewer"])
    )


def read_decisions(path: str | os.PathLike[str]) -> dict[str, Decision]:
    """file -> Decision; a missing file is no decisions. Raises ReviewFileError."""
    try:
        rows = read_keyed_csv(path, REVIEW_COLUMNS, decision_problem)
    except ReviewFileError:
        raise
    except CsvFileError as error:
        raise ReviewFileError(str(error)) from None
    return {f: Decision(**row, line=line) for f, (line, row) in rows.items()}


def update_decisions(
    path: str | os.PathLike[str], changes: Mapping[str, Decision | None]
) -> dict[str, Decision]:
    """Record decisions (None: withdraw the file's decision) in the file as it is now."""
    try:
        rows = update_keyed_csv(
            path,
            REVIEW_COLUMNS,
            {f: None if d is None else d.row() for f, d in changes.items()},
            decision_problem,
        )
    except ReviewFileError:
        raise
    except CsvFileError as error:
        raise ReviewFileError(str(error)) from None
    return {f: Decision(**row) for f, row in rows.items()}


@dataclass(frozen=True)
class CheckedDecisions:
    applied: dict[str, Decision]  # file -> decision, for images whose bytes it was made on
    stale: dict[str, Decision]  # the image changed since: not applied


def check_decisions(
    decisions: Mapping[str, Decision], sha256_of: Mapping[str, str | None], source: str
) -> CheckedDecisions:
    """Split decisions into applied and stale; an image the catalog does not know fails.

    `sha256_of` maps every catalogued file to the sha256 recorded for it.
    """
    unknown = [d for d in decisions.values() if d.file not in sha256_of]
    if unknown:
        lines = "\n".join(
            f"  {source} line {d.line}: no image {d.file!r} in this character's catalog"
            for d in sorted(unknown, key=lambda d: d.line)[:20]
        )
        raise ReviewFileError(
            f"{source} names {len(unknown)} image(s) the character does not have:\n{lines}\n"
            f"  fix the file name (as the catalog's `file` column spells it) or delete the row"
        )
    applied, stale = {}, {}
    for f, d in decisions.items():
        recorded = sha256_of[f]
        (stale if d.sha256 and recorded and d.sha256 != recorded else applied)[f] = d
    return CheckedDecisions(applied, stale)
