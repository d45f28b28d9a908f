"""How a reviewer's decisions would change the tiers, without rerunning the pipeline.

Selection keeps every image's own funnel verdict (`pipeline_verdict`) beside the final one,
and its parameters in the table's metadata, so the decisions can be applied again to the
selection table alone: the same functions `select` uses give the tiers a rerun would build.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from charfolio.core.layout import tier_folder
from charfolio.curate.decisions import Decision, check_decisions
from charfolio.curate.reviews import apply_decisions
from charfolio.curate.selection import rank_and_fill
from charfolio.curate.selection_io import read_ranking_inputs


@dataclass(frozen=True)
class TierChange:
    added: tuple[str, ...]  # files a rerun would put in the tier, by rank
    removed: tuple[str, ...]  # files it would take out, by their current rank

    def summary(self) -> str:
        return f"+{len(self.added)} / -{len(self.removed)}"


def tier_changes(
    selection: str | os.PathLike[str], decisions: Mapping[str, Decision]
) -> dict[str, TierChange]:
    """Tier folder name (tier_70) -> the change a rerun with `decisions` would make.

    Raises ReviewFileError for a decision on an image the selection does not hold, and
    ValueError for a selection written before review decisions existed (rerun select_images).
    """
    current = read_ranking_inputs(selection)
    rows = current.rows
    for row in rows.values():  # back to the funnel's own verdicts, then the decisions on top
        row["verdict"] = row["pipeline_verdict"]
        row["reject_reason"] = row["pipeline_reject_reason"]
    checked = check_decisions(decisions, {f: r["sha256"] for f, r in rows.items()}, "the review")
    apply_decisions(rows, checked)
    after = rank_and_fill(rows, current.strategy, current.per_cluster, current.tiers)
    changes = {}
    for n, before in current.members.items():
        was, now = set(before), set(after[n])
        changes[tier_folder(n)] = TierChange(
            added=tuple(f for f in after[n] if f not in was),
            removed=tuple(f for f in before if f not in now),
        )
    return changes
