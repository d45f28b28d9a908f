"""A reviewer's decisions applied to the selection funnel's verdicts.

The funnel judges every image first (its `pipeline_verdict`); decisions then overrule it:
`reject` rejects with reason `reviewer`, `accept` passes whatever the thresholds, duplicates
or face count said, and `star` passes and ranks ahead of every unstarred image of its
cluster. An image that could not be read stays rejected: there is nothing to train on. A
stale decision (made on an image that has since changed) is recorded, never applied; so is
an accept or star of an unreadable image, as `ignored`.
"""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping, Sequence
from typing import Any

from charfolio.core import tables
from charfolio.curate.decisions import (
    APPLIED,
    IGNORED,
    REJECT,
    REVIEWER_REASON,
    STALE,
    STAR,
    CheckedDecisions,
    Decision,
)

NO_REVIEW = dict.fromkeys(tables.REVIEW_DECISION_COLUMNS)


def _record(decision: Decision, status: str) -> dict[str, Any]:
    return {
        "review_decision": decision.decision,
        "review_note": decision.note or None,
        "reviewer": decision.reviewer or None,
        "reviewed_at": decision.reviewed_at or None,
        "review_status": status,
    }


def apply_decisions(
    rows: Mapping[str, MutableMapping[str, Any]], decisions: CheckedDecisions | None
) -> None:
    """Set each row's review columns and, where a decision applies, its verdict and reason.

    Rows are SELECTION rows (as dicts) holding the funnel's own `verdict`/`reject_reason`.
    """
    for file, row in rows.items():
        row.update(NO_REVIEW)
        row["pipeline_verdict"] = row["verdict"]
        row["pipeline_reject_reason"] = row["reject_reason"]
        if decisions is None:
            continue
        if file in decisions.stale:
            row.update(_record(decisions.stale[file], STALE))
            continue
        decision = decisions.applied.get(file)
        if decision is None:
            continue
        if decision.decision == REJECT:
            row["verdict"], row["reject_reason"] = "rejected", REVIEWER_REASON
        elif row["reject_reason"] == "unreadable":  # nothing to train on: say so
            row.update(_record(decision, IGNORED))
            continue
        else:
            row["verdict"], row["reject_reason"] = "passed", None
        row.update(_record(decision, APPLIED))


def accepted_files(rows: Mapping[str, Mapping[str, Any]]) -> set[str]:
    """Images a reviewer passed: tier floors do not hold them back either."""
    return {
        f for f, r in rows.items() if r["review_status"] == APPLIED and r["verdict"] == "passed"
    }


def starred_files(rows: Mapping[str, Mapping[str, Any]]) -> set[str]:
    return {
        f
        for f, r in rows.items()
        if r["review_status"] == APPLIED
        and r["review_decision"] == STAR
        and r["verdict"] == "passed"
    }


def stars_first(
    ranking: Sequence[str], cluster_of: Mapping[str, int], starred: set[str]
) -> list[str]:
    """The ranking with each cluster's starred images moved ahead of its unstarred ones.

    Each cluster keeps the positions it holds in the ranking (so the strategy's balance
    across clusters is kept); within them its starred images come first, each part in the
    strategy's order.
    """
    if not starred:
        return list(ranking)
    by_cluster: dict[int, list[str]] = {}
    for f in ranking:
        by_cluster.setdefault(cluster_of[f], []).append(f)
    reordered = {
        c: iter([f for f in files if f in starred] + [f for f in files if f not in starred])
        for c, files in by_cluster.items()
    }
    return [next(reordered[cluster_of[f]]) for f in ranking]
