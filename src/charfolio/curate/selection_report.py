"""The selection report: funnel, distributions over seeds, clusters and modes, score
statistics, tier sizes against what was asked for (and why short), and collapse info.

Plain JSON types only, and no timestamps, so the same selection writes the same bytes.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from charfolio.core.layout import tier_folder
from charfolio.curate.near_duplicates import rule_params
from charfolio.curate.selection import REJECT_REASONS, STAGES, SelectionResult, SelectionRow
from charfolio.quality.duplicates import DUPLICATE_KINDS


def score_stats(values: Iterable[float | None]) -> dict[str, float | int | None]:
    """count, mean, median, std (population), min, max and p25/p50/p75/p90."""
    data = np.array([v for v in values if v is not None], dtype=np.float64)
    keys = ("mean", "median", "std", "min", "max", "p25", "p50", "p75", "p90")
    if data.size == 0:
        return {"count": 0, **dict.fromkeys(keys)}
    p25, p50, p75, p90 = np.percentile(data, [25, 50, 75, 90])
    stats = (data.mean(), np.median(data), data.std(), data.min(), data.max(), p25, p50, p75, p90)
    return {
        "count": int(data.size),
        **{k: round(float(v), 6) for k, v in zip(keys, stats, strict=True)},
    }


def _counts(rows: Iterable[SelectionRow], key: Callable[[SelectionRow], Any]) -> dict[str, int]:
    counter = Counter(key(r) for r in rows)
    return {str(k): counter[k] for k in sorted(counter, key=lambda k: (k is None, k))}


def _funnel(rows: Sequence[SelectionRow]) -> dict[str, Any]:
    reasons = Counter(r.reject_reason for r in rows if r.reject_reason)
    kinds = Counter(r.duplicate_kind for r in rows if r.reject_reason == "duplicate")
    stages, remaining = [], len(rows)
    for stage, stage_reasons in STAGES.items():
        by_reason = {reason: reasons[reason] for reason in stage_reasons}
        rejected = sum(by_reason.values())
        stages.append(
            {
                "stage": stage,
                "in": remaining,
                "passed": remaining - rejected,
                "rejected": rejected,
                "reasons": by_reason,
            }
        )
        remaining -= rejected
    total = len(rows)
    return {
        "total": total,
        "passed": remaining,
        "pass_rate": round(remaining / total, 6) if total else None,
        "stages": stages,
        "reasons": {reason: reasons[reason] for reason in REJECT_REASONS},
        # How each duplicate matched its kept copy (the criterion that pHash alone would miss
        # shows as face_embedding).
        "duplicate_kinds": {kind: kinds[kind] for kind in DUPLICATE_KINDS},
    }


def _distribution(
    rows: Sequence[SelectionRow],
    groups: Mapping[str, Sequence[SelectionRow]],
    key: Callable[[SelectionRow], Any],
) -> dict[str, dict[str, int]]:
    return {"all": _counts(rows, key), **{name: _counts(g, key) for name, g in groups.items()}}


def _tier_summary(
    result: SelectionResult, n: int, floor: float | None, passing: Sequence[SelectionRow]
) -> dict[str, Any]:
    members = result.members.get(n, ())
    eligible = sum(1 for r in passing if floor is None or (r.quality_score or 0.0) >= floor)
    why = None
    if len(members) < n:
        if eligible < len(passing):
            why = f"only {eligible} of the {len(passing)} passing images score >= {floor}"
        else:
            why = f"only {len(passing)} images passed curation"
    return {
        "requested": n,
        "size": len(members),
        "floor": floor,
        "short_by": n - len(members),
        "why_short": why,
    }


def _review(rows: Sequence[SelectionRow]) -> dict[str, Any]:
    """A reviewer's decisions: how many of each were applied, stale, and overruled the funnel."""
    reviewed = [r for r in rows if r.review_decision is not None]
    applied = [r for r in reviewed if r.review_status == "applied"]
    return {
        "applied": _counts(applied, lambda r: r.review_decision),
        "stale": sorted(r.file for r in reviewed if r.review_status == "stale"),
        "overruled": sum(
            1
            for r in applied
            if (r.verdict, r.reject_reason) != (r.pipeline_verdict, r.pipeline_reject_reason)
        ),
    }


def selection_report(
    result: SelectionResult, collapse: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    rows = list(result.rows)
    passing = result.ranked()
    by_file = {r.file: r for r in rows}
    tier_rows = {
        tier_folder(n): [by_file[f] for f in result.members.get(n, ())] for n in result.tiers
    }
    groups = {"passed": passing, **tier_rows}
    clustered = [r for r in rows if r.cluster is not None]
    return {
        "parameters": {
            "strategy": result.strategy,
            "per_cluster": result.per_cluster,
            "thresholds": dataclasses.asdict(result.thresholds),
            "duplicate_distance": result.duplicate_distance,
            "near_duplicates": rule_params(result.near_duplicates),
            "tiers": {tier_folder(n): floor for n, floor in result.tiers.items()},
        },
        "funnel": _funnel(rows),
        "review": _review(rows),
        "tiers": {
            tier_folder(n): _tier_summary(result, n, floor, passing)
            for n, floor in result.tiers.items()
        },
        "scores": {
            "all": score_stats(r.quality_score for r in rows),
            **{name: score_stats(r.quality_score for r in g) for name, g in groups.items()},
        },
        "per_seed": _distribution(rows, groups, lambda r: r.seed),
        "per_cluster": _distribution(clustered, groups, lambda r: r.cluster),
        "per_mode": _distribution(rows, groups, lambda r: r.mode),
        "collapse": dict(collapse) if collapse is not None else None,
    }
