"""Per-category scores of every checkpoint, and a ranking of the checkpoints.

Per (LoRA, checkpoint, category): the images, how many have a face (face rate), the mean
identity over the images that have one, and the mean adherence and quality over all. The
row with category "all" averages the categories' values (each category counts the same,
whatever its prompt count; identity over the categories that have one).

The ranking compares every checkpoint of every LoRA on four metrics of its "all" row:
identity, face rate, adherence and quality. Their scales differ by backend (dlib puts
everyone at 0.8-0.99 identity, a random CLIP near 0.5 adherence), so each metric is turned
into a rank score first: 1 for the best checkpoint, 0 for the worst, evenly spaced between,
tied values (equal to 6 decimals) sharing their mean, a missing value scoring 0. The
checkpoint's score is the weighted mean of its rank scores (`evaluation.ranking_weights`,
by default identity 0.4, face rate 0.2, adherence 0.2, quality 0.2); a metric no checkpoint
has (say identity, when the tier has no descriptors) is left out and the other weights
renormalised. Ties in the score are broken by identity, face rate, adherence and quality
(higher first, missing last), then by LoRA and checkpoint order.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import pyarrow as pa

from charfolio.evaluate.scoring import NO_FACE

ALL = "all"
RANKING_METRICS = ("identity", "face_rate", "adherence", "quality")
DEFAULT_RANKING_WEIGHTS: Mapping[str, float] = {
    "identity": 0.4,
    "face_rate": 0.2,
    "adherence": 0.2,
    "quality": 0.2,
}
TIE_DECIMALS = 6

CATEGORY_SCORES = pa.schema(
    [
        pa.field("lora", pa.string(), nullable=False),
        pa.field("preset", pa.string(), nullable=False),
        pa.field("tier", pa.int32(), nullable=False),
        pa.field("checkpoint", pa.string(), nullable=False),
        pa.field("epoch", pa.int32(), nullable=True),
        pa.field("final", pa.bool_(), nullable=False),
        pa.field("category", pa.string(), nullable=False),  # a suite category, or "all"
        pa.field("n_images", pa.int32(), nullable=False),
        pa.field("n_faces", pa.int32(), nullable=False),  # images with at least one face
        pa.field("face_rate", pa.float64(), nullable=False),
        pa.field("identity", pa.float64(), nullable=True),
        pa.field("identity_images", pa.int32(), nullable=False),  # images with an identity
        pa.field("identity_reason", pa.string(), nullable=True),  # why identity is missing
        pa.field("adherence", pa.float64(), nullable=False),
        pa.field("quality", pa.float64(), nullable=False),
        # people's 1-5 ratings of these renders (core.ratings): mean of the current ones
        # (None: unrated), how many, how many of an earlier render were left out
        pa.field("rating_mean", pa.float64(), nullable=True),
        pa.field("rating_count", pa.int32(), nullable=False),
        pa.field("rating_stale", pa.int32(), nullable=False),
    ],
    metadata={"charfolio.table": "checkpoint_category_scores"},
)

Row = Mapping[str, Any]


def _mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None


def _missing_reason(rows: Sequence[Row]) -> str:
    """The run-wide reason if there is one (no references ...), else no_face."""
    reasons = sorted({r["identity_reason"] for r in rows if r["identity_reason"]})
    wide = [r for r in reasons if r != NO_FACE]
    return wide[0] if wide else NO_FACE


def _key_fields(row: Row) -> dict[str, Any]:
    return {k: row[k] for k in ("lora", "preset", "tier", "checkpoint", "epoch", "final")}


def _category_row(rows: Sequence[Row], category: str) -> dict[str, Any]:
    identities = [r["identity"] for r in rows if r["identity"] is not None]
    identity = _mean(identities)
    n_faces = sum(r["n_faces"] > 0 for r in rows)
    return {
        **_key_fields(rows[0]),
        "category": category,
        "n_images": len(rows),
        "n_faces": n_faces,
        "face_rate": n_faces / len(rows),
        "identity": identity,
        "identity_images": len(identities),
        "identity_reason": None if identity is not None else _missing_reason(rows),
        "adherence": _mean([r["adherence"] for r in rows]),
        "quality": _mean([r["quality_score"] for r in rows]),
    }


def _overall_row(categories: Sequence[dict[str, Any]], rows: Sequence[Row]) -> dict[str, Any]:
    identities = [c["identity"] for c in categories if c["identity"] is not None]
    identity = _mean(identities)
    return {
        **_key_fields(rows[0]),
        "category": ALL,
        "n_images": sum(c["n_images"] for c in categories),
        "n_faces": sum(c["n_faces"] for c in categories),
        "face_rate": _mean([c["face_rate"] for c in categories]),
        "identity": identity,
        "identity_images": sum(c["identity_images"] for c in categories),
        "identity_reason": None if identity is not None else _missing_reason(rows),
        "adherence": _mean([c["adherence"] for c in categories]),
        "quality": _mean([c["quality"] for c in categories]),
    }


def checkpoint_order(rows: Sequence[Row]) -> list[tuple[str, str]]:
    """(lora, checkpoint) pairs: LoRAs in first-seen order, then epochs, a final-only last."""
    loras = list(dict.fromkeys(r["lora"] for r in rows))
    seen: dict[tuple[str, str], Row] = {}
    for r in rows:
        seen.setdefault((r["lora"], r["checkpoint"]), r)
    return sorted(
        seen,
        key=lambda k: (
            loras.index(k[0]),
            seen[k]["epoch"] is None,
            seen[k]["epoch"] or 0,
            k[1],
        ),
    )


def summarize(rows: Sequence[Row], categories: Sequence[str]) -> list[dict[str, Any]]:
    """CATEGORY_SCORES rows: per checkpoint, each category in `categories` order, then "all"."""
    out = []
    for lora, checkpoint in checkpoint_order(rows):
        mine = [r for r in rows if r["lora"] == lora and r["checkpoint"] == checkpoint]
        per_category = []
        for category in categories:
            members = [r for r in mine if r["category"] == category]
            if members:
                per_category.append(_category_row(members, category))
        unknown = sorted({r["category"] for r in mine} - set(categories))
        if unknown:
            raise ValueError(
                f"{lora} {checkpoint}: scores of categories {unknown} not in the suite "
                f"{list(categories)}; rerun the render_checkpoints rule"
            )
        out += [*per_category, _overall_row(per_category, mine)]
    return out


def check_ranking_weights(weights: Mapping[str, float] | None) -> dict[str, float]:
    weights = dict(DEFAULT_RANKING_WEIGHTS if weights is None else weights)
    unknown = sorted(set(weights) - set(RANKING_METRICS))
    if unknown or any(not math.isfinite(w) or w < 0 for w in weights.values()):
        raise ValueError(
            f"evaluation.ranking_weights must map some of {list(RANKING_METRICS)} to numbers "
            f">= 0, got {weights}"
        )
    if sum(weights.values()) <= 0:
        raise ValueError("evaluation.ranking_weights are all 0; give at least one a weight")
    return {m: float(weights.get(m, 0.0)) for m in RANKING_METRICS}


def rank_scores(values: Sequence[float | None]) -> list[float]:
    """Rank score per value: best 1, worst 0, ties share their mean, missing 0."""
    present = [round(v, TIE_DECIMALS) for v in values if v is not None]
    n = len(values)
    if n == 1:
        return [0.0 if values[0] is None else 1.0]
    missing = n - len(present)
    scores = []
    for v in values:
        if v is None:
            scores.append(0.0)
            continue
        value = round(v, TIE_DECIMALS)
        below = missing + sum(p < value for p in present)
        ties = sum(p == value for p in present)
        scores.append((below + (ties - 1) / 2) / (n - 1))
    return scores


def rank_checkpoints(
    overall: Sequence[Row], weights: Mapping[str, float] | None = None
) -> list[dict[str, Any]]:
    """The "all" rows ranked best first, with `rank`, `score` and `{metric}_rank_score`."""
    weights = check_ranking_weights(weights)
    rows = [dict(r) for r in overall]
    if not rows:
        return []
    active = {m: w for m, w in weights.items() if w > 0 and any(r[m] is not None for r in rows)}
    for metric in RANKING_METRICS:
        for row, score in zip(rows, rank_scores([r[metric] for r in rows]), strict=True):
            row[f"{metric}_rank_score"] = score
    total = sum(active.values())
    for position, row in enumerate(rows):
        row["order"] = position
        row["score"] = (
            sum(w * row[f"{m}_rank_score"] for m, w in active.items()) / total if total else 0.0
        )
        row["metrics_used"] = list(active)

    def key(row: dict[str, Any]) -> tuple[Any, ...]:
        tie = tuple((row[m] is None, -round(row[m] or 0.0, TIE_DECIMALS)) for m in RANKING_METRICS)
        return (-round(row["score"], 12), *tie, row["order"])

    ranked = sorted(rows, key=key)
    for rank, row in enumerate(ranked, start=1):
        row["rank"] = rank
        del row["order"]
    return ranked
