"""Curate one refinement round's fill-ins with the main images' gates, then fill the quotas.

Checks, in order; a fill-in gets the first it fails as its `reject_reason`:

  face        unreadable | no_face | multiple_faces | partial_face  (the faces stage)
  thresholds  select.core.THRESHOLD_REASONS: low_resolution ... low_sharpness |
              low_face_confidence (the same gates and order as the main selection)
  score       low_quality_score, then below_tier_floor (the tier's own score floor)
  duplicate   a near copy (pHash) of a pool image or of a fill-in accepted before it
  quota       off_target (its measured shot type was not asked for) | surplus (it was, but
              better fill-ins filled that quota first)

Fill-ins are considered best quality score first. Diversity ranking does not apply: each
fill-in comes from its own modifier. Accepted fill-ins join the pool, and the round's report
measures the pool's mix again (the gaps after).
"""

from __future__ import annotations

import math
import os
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from charfolio.balance.analyze import BalanceRules, analyze_one
from charfolio.balance.targets import Targets
from charfolio.core import tables
from charfolio.core.imaging import DEFAULT_MAX_PIXELS
from charfolio.curate.selection import face_reason, threshold_reason
from charfolio.curate.thresholds import Thresholds, thresholds_from_config
from charfolio.faces.analyze import FaceRules, analyze_faces
from charfolio.faces.detector import create_face_detector
from charfolio.faces.shots import SHOT_TYPES, UNKNOWN
from charfolio.quality import DEFAULT_WORKING_RESOLUTION, main_face, score_images
from charfolio.quality.duplicates import hamming, hash_images
from charfolio.refine.rounds import (
    ROUND_VERSION,
    aim_of,
    as_rules,
    as_targets,
    pool_state,
    read_json,
    remaining_quotas,
    seen_after,
    shot_counts,
    write_json,
)

PathLike = str | os.PathLike[str]
ACCEPTED, REJECTED = "accepted", "rejected"


def is_copy(a: Mapping[str, Any], b: Mapping[str, Any], max_distance: int) -> bool:
    """Same bytes, or perceptual hashes within `max_distance` bits."""
    if a.get("sha256") and a.get("sha256") == b.get("sha256"):
        return True
    if a.get("phash") is None or b.get("phash") is None:
        return False
    return hamming(int(a["phash"], 16), int(b["phash"], 16)) <= max_distance


def gate_reason(
    face: Mapping[str, Any],
    quality: Mapping[str, Any],
    thresholds: Thresholds,
    floor: float | None,
) -> str | None:
    """The first per-image gate a fill-in fails (faces, thresholds, score, tier floor)."""
    reason = face_reason(face, quality)
    if reason is not None:
        return reason
    reason = threshold_reason(quality, thresholds)
    if reason is not None:
        return reason
    score = quality.get("quality_score")
    if score is None or math.isnan(score) or score < thresholds.min_quality_score:
        return "low_quality_score"
    if floor is not None and score < floor:
        return "below_tier_floor"
    return None


def judge(
    candidates: Sequence[dict[str, Any]],
    pool: Sequence[Mapping[str, Any]],
    quotas: Mapping[str, int],
    duplicate_distance: int | None,
) -> None:
    """Fill `verdict`/`reject_reason` of rows that passed the gates, best score first."""
    open_quota = dict(quotas)
    kept: list[Mapping[str, Any]] = [p for p in pool if p.get("sha256") or p.get("phash")]
    for row in sorted(candidates, key=lambda r: (-r["quality_score"], r["file"])):
        copy = (
            next((k for k in kept if is_copy(row, k, duplicate_distance)), None)
            if duplicate_distance is not None
            else None
        )
        if copy is not None:
            row.update(verdict=REJECTED, reject_reason="duplicate", duplicate_of=copy["file"])
        elif open_quota.get(row["shot_type"], 0) > 0:
            open_quota[row["shot_type"]] -= 1
            row.update(verdict=ACCEPTED, reject_reason=None)
            kept.append(row)
        else:
            wanted = quotas.get(row["shot_type"], 0) > 0
            row.update(verdict=REJECTED, reject_reason="surplus" if wanted else "off_target")


def _measure(
    files: Sequence[str],
    root: Path,
    faces_cfg: Mapping[str, Any],
    quality_weights: Mapping[str, float] | None,
    rules: BalanceRules,
    max_pixels: int,
    working_resolution: int,
    model_cache: str | None,
    workers: int,
    log: Callable[[str], None],
) -> tuple[dict[str, dict[str, Any]], ...]:
    """FACES, QUALITY, DUPLICATES and BALANCE rows by file (the main stages' functions)."""
    detector = create_face_detector(faces_cfg, model_cache)
    faces = analyze_faces(
        files, root, detector, log, rules=FaceRules.from_config(faces_cfg), max_pixels=max_pixels
    )
    quality = score_images(
        files, root, {r["file"]: main_face(r) for r in faces}, workers, log,
        weights=quality_weights, max_pixels=max_pixels, working_resolution=working_resolution,
    )  # fmt: skip
    hashes = hash_images(files, root, workers, log, max_pixels=max_pixels)
    balance = [analyze_one((str(root / r["file"]), r["file"], r, rules)) for r in faces]

    def by_file(rows: Sequence[dict[str, Any]]) -> dict[str, dict[str, Any]]:
        return {r["file"]: r for r in rows}

    return by_file(faces), by_file(quality), by_file(hashes), by_file(balance)


def curate_round(
    images_table: PathLike,
    plan_path: PathLike,
    previous_pool: PathLike,
    previous_report: PathLike,
    root: PathLike,
    out_curated: PathLike,
    out_pool: PathLike,
    out_report: PathLike,
    *,
    faces_cfg: Mapping[str, Any],
    thresholds: Mapping[str, Any] | Thresholds,
    floor: float | None = None,
    duplicate_distance: int | None = 6,
    quality_weights: Mapping[str, float] | None = None,
    targets: Targets | Mapping[str, Any] | None = None,
    rules: BalanceRules | Mapping[str, Any] | None = None,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    working_resolution: int = DEFAULT_WORKING_RESOLUTION,
    model_cache: str | None = None,
    workers: int = 1,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Gate a round's fill-ins, accept those that fill an open quota, write the round's files.

    `root` is results/{character}/ (image `file`s are relative to it); `thresholds` a
    Thresholds or the curation.thresholds section; returns the round report.
    """
    targets, rules = as_targets(targets), as_rules(rules)
    if not isinstance(thresholds, Thresholds):
        thresholds = thresholds_from_config(thresholds, working_resolution)
    plan, previous = read_json(plan_path), read_json(previous_report)
    if plan["round"] != previous["round"] + 1:
        raise ValueError(
            f"{plan_path} plans round {plan['round']} but {previous_report} is round "
            f"{previous['round']}; rerun the rounds in order"
        )
    images = tables.read_table(images_table, tables.IMAGES).to_pylist()
    pool = tables.read_table(previous_pool, tables.REFINE_POOL).to_pylist()
    root = Path(root)
    rows: list[dict[str, Any]] = []
    accepted_pool: list[dict[str, Any]] = []
    if images:
        files = [r["file"] for r in images]
        faces, quality, hashes, balance = _measure(
            files, root, faces_cfg, quality_weights, rules, max_pixels, working_resolution,
            model_cache, workers, log,
        )  # fmt: skip
        aims = aim_of(plan)
        for image in images:
            file = image["file"]
            face, q, shot = faces[file], quality[file], balance[file]
            reason = gate_reason(face, q, thresholds, floor)
            rows.append(
                {
                    "file": file,
                    "round": plan["round"],
                    "aim": aims.get(image["scenario"], UNKNOWN),
                    "scenario": image["scenario"],
                    "prompt": image["prompt"],
                    "generator_seed": image["generator_seed"],
                    "face_verdict": face["face_verdict"],
                    "face_confidence": face.get("face_confidence"),
                    "sharpness": q.get("sharpness"),
                    "contrast": q.get("contrast"),
                    "quality_score": q.get("quality_score"),
                    "shot_type": shot["shot_type"],
                    "complex_background": bool(shot["complex_background"]),
                    "sha256": hashes[file]["sha256"],
                    "phash": hashes[file]["phash"],
                    "verdict": REJECTED if reason else None,
                    "reject_reason": reason,
                    "duplicate_of": None,
                }
            )
        judge(
            [r for r in rows if r["verdict"] is None],
            pool,
            plan["quotas_remaining"],
            duplicate_distance,
        )
        origin = f"round_{plan['round']}"
        for r in rows:
            if r["verdict"] == ACCEPTED:
                accepted_pool.append(
                    {
                        **balance[r["file"]],
                        "origin": origin,
                        "sha256": r["sha256"],
                        "phash": r["phash"],
                    }
                )
    tables.write_table(out_curated, rows, tables.REFINE_CURATED)
    new_pool = [*pool, *accepted_pool]
    tables.write_table(out_pool, new_pool, tables.REFINE_POOL)
    report = round_report(plan, previous, rows, new_pool, targets, rules)
    write_json(out_report, report)
    log(
        f"refine round {plan['round']}: {len(rows)} generated, {report['accepted']} accepted "
        f"({report['curated_total']} of {report['target']} curated); "
        + ", ".join(f"{k} {n}" for k, n in report["rejected"].items())
    )
    for message in report["after"]["gaps"]:
        log(f"refine gap after round {plan['round']}: {message}")
    return report


def round_report(
    plan: Mapping[str, Any],
    previous: Mapping[str, Any],
    rows: Sequence[Mapping[str, Any]],
    pool: Sequence[Mapping[str, Any]],
    targets: Targets,
    rules: BalanceRules,
) -> dict[str, Any]:
    """What a round did: plan, counts by verdict and shot type, the mix before and after."""
    accepted = [r for r in rows if r["verdict"] == ACCEPTED]
    by_shot = shot_counts(accepted)
    totals = {k: previous["accepted_total_by_shot"].get(k, 0) + by_shot[k] for k in SHOT_TYPES}
    after = pool_state(pool, targets, rules)
    state = {**previous, "accepted_total_by_shot": totals}
    remaining = remaining_quotas(state)
    curated = int(previous["curated_total"]) + len(accepted)
    return {
        "version": ROUND_VERSION,
        "round": plan["round"],
        "target": previous["target"],
        "final_size": previous["final_size"],
        "quotas": previous["quotas"],
        "planned": plan["size"],
        "pass_rate": plan["pass_rate"],
        "modifiers": plan["modifiers"],
        "stopped_early": plan["stopped_early"],
        "stop_reason": plan["stop_reason"],
        "gaps_before": plan["gaps_before"],
        "needs_before": plan["quotas_remaining"],
        "generated": len(rows),
        "accepted": len(accepted),
        "accepted_by_shot": by_shot,
        "accepted_by_aim": dict(sorted(Counter(r["aim"] for r in accepted).items())),
        "rejected": dict(
            sorted(Counter(r["reject_reason"] for r in rows if r["verdict"] != ACCEPTED).items())
        ),
        "accepted_total_by_shot": totals,
        "curated_total": curated,
        "generated_total": int(previous["generated_total"]) + len(rows),
        "needs_after": remaining,
        "target_reached": not any(remaining.values()),
        "modifiers_seen": seen_after(previous, plan),
        "gaps_after": after["gaps"],
        "after": after,
    }
