"""A tier plus the fill-ins its refinement rounds accepted, as a tier-shaped directory.

    tier_70_refined/
      images/<name>.png, .txt   the tier's images and captions (linked / copied as is) and
                                the fill-ins, captioned from their prompt like any
                                generated image (the character's caption template)
      manifest.parquet          REFINED rows: tier columns + origin, round, aim, shot type
      balance.parquet           BALANCE rows of every image in it (the last round's pool)
      refine_report.json        every round: gaps before and after, modifiers, counts, stop

`charfolio.lora.data.read_tier` trains on it like on any tier. Fill-ins rank after the
tier's images (by round, then quality score); their train/val split is drawn like a tier's
(`val_fraction` of them go to val), and the tier's images keep their split.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from charfolio.captions.lint import lint_captions
from charfolio.core import tables
from charfolio.core.atomic import job_staging_dir, replace_dir
from charfolio.core.layout import TIER_IMAGES, TIER_MANIFEST, tier_manifest
from charfolio.core.paths import optional_portable_path, portable_path
from charfolio.curate.tiers import LINK_MODES, place_file, render_caption, split_assignments
from charfolio.faces.shots import SHOT_TYPES
from charfolio.refine.rounds import ROUND_VERSION, read_json, write_json

PathLike = str | os.PathLike[str]
ROUND_FIELDS = (
    "round", "planned", "generated", "accepted", "rejected", "accepted_by_shot",
    "accepted_by_aim", "needs_before", "needs_after", "gaps_before", "gaps_after", "pass_rate",
    "stopped_early", "stop_reason", "target_reached", "curated_total", "modifiers",
)  # fmt: skip


@dataclass(frozen=True)
class _FillIn:  # what split_assignments reads
    file: str
    cluster: int | None = None


def refinement_report(
    reports: Sequence[Mapping[str, Any]], tier_dir: PathLike, refined_dir: PathLike | None
) -> dict[str, Any]:
    """The rounds' reports (round 0 first) summed up: before, after, each round, the stop."""
    if not reports or [r["round"] for r in reports] != list(range(len(reports))):
        raise ValueError(
            f"refinement reports must be rounds 0..n in order, got {[r['round'] for r in reports]}"
        )
    start, last = reports[0], reports[-1]
    stopped = next((r for r in reports[1:] if r["stopped_early"]), None)

    def mix(report: Mapping[str, Any]) -> dict[str, Any]:
        after = report["after"]
        return {k: after[k] for k in ("classified", "shot_counts", "gaps", "needs")}

    return {
        "version": ROUND_VERSION,
        "tier": portable_path(tier_dir),
        "refined_tier": optional_portable_path(refined_dir),
        "rounds_configured": len(reports) - 1,
        "target": start["target"],
        "final_size": start["final_size"],
        "quotas": start["quotas"],
        "curated": last["curated_total"],
        "generated": last["generated_total"],
        "target_reached": last["target_reached"],
        "stopped_early_at": None if stopped is None else stopped["round"],
        "stop_reason": None if stopped is None else stopped["stop_reason"],
        "before": mix(start),
        "after": mix(last),
        "rounds": [{k: r[k] for k in ROUND_FIELDS} for r in reports[1:]],
    }


def _accepted(curated_paths: Sequence[PathLike]) -> list[dict[str, Any]]:
    rows = []
    for path in curated_paths:
        found = tables.read_table(path, tables.REFINE_CURATED).to_pylist()
        rows += sorted(
            (r for r in found if r["verdict"] == "accepted"),
            key=lambda r: (-r["quality_score"], r["file"]),
        )
    return rows


def write_refined_tier(
    tier_dir: PathLike,
    pool_path: PathLike,
    curated_paths: Sequence[PathLike],
    round_reports: Sequence[PathLike],
    images_root: PathLike,
    out_dir: PathLike,
    out_report: PathLike,
    caption_template: str,
    token: str,
    class_word: str,
    link_mode: str = "symlink",
    val_fraction: float = 0.2,
    seed: int = 42,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Write the refined tier (see the module docstring) and the refinement report.

    `curated_paths`: rounds 1..n's REFINE_CURATED tables; `round_reports`: rounds 0..n's
    round.json; `pool_path`: round n's pool. Returns the report.
    """
    if link_mode not in LINK_MODES:
        raise ValueError(f"unknown link_mode {link_mode!r}; use one of {LINK_MODES}")
    tier_dir, images_root = Path(tier_dir).resolve(), Path(images_root).resolve()
    out_dir = Path(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    out_dir = out_dir.parent.resolve() / out_dir.name
    manifest = tables.read_table(tier_manifest(tier_dir), tables.TIER_MANIFEST).to_pylist()
    pool = tables.rows_by_file(
        tables.read_table(pool_path, tables.REFINE_POOL).to_pylist(), pool_path, "curate_refinement"
    )
    fill_ins = _accepted(curated_paths)
    stale = [r["file"] for r in [*manifest, *fill_ins] if r["file"] not in pool]
    if stale or len(pool) != len(manifest) + len(fill_ins):
        raise ValueError(
            f"{pool_path} does not hold exactly the tier's images and the accepted fill-ins "
            f"(e.g. {stale[:1]}); the rounds are older than the tier: rerun the refinement"
        )
    report = refinement_report([read_json(p) for p in round_reports], tier_dir, out_dir)
    tmp = job_staging_dir(out_dir.parent, prefix=f".{out_dir.name}.", suffix=".tmp")
    try:
        rows = _fill(tmp, tier_dir, manifest, fill_ins, pool, images_root, link_mode)
        splits = split_assignments([_FillIn(r["file"]) for r in fill_ins], val_fraction, seed)
        first_rank = max((m["rank"] for m in manifest), default=0) + 1
        for rank, fill_in in enumerate(fill_ins, start=first_rank):
            caption = render_caption(
                caption_template, token, class_word, fill_in["prompt"], fill_in["scenario"]
            )
            row = rows[fill_in["file"]]
            (tmp / row["caption_file"]).write_text(caption + "\n", encoding="utf-8")
            row.update(
                caption=caption,
                rank=rank,
                cluster=-1,
                seed=fill_in["generator_seed"],
                quality_score=fill_in["quality_score"],
                sharpness=fill_in["sharpness"],
                contrast=fill_in["contrast"],
                face_confidence=fill_in["face_confidence"],
                split=splits[fill_in["file"]],
                origin="refined",
                round=fill_in["round"],
                aim=fill_in["aim"],
                scenario=fill_in["scenario"],
            )
        out_rows = list(rows.values())
        tables.write_table(tmp / TIER_MANIFEST, out_rows, tables.REFINED)
        balance = [{k: pool[f][k] for k in tables.BALANCE.names} for f in rows]
        tables.write_table(tmp / "balance.parquet", balance, tables.BALANCE)
        captions = {r["tier_file"]: r["caption"] for r in out_rows}
        report["captions"] = lint_captions(captions, token, class_word)
        report["images"] = {"tier": len(manifest), "added": len(fill_ins), "total": len(rows)}
        write_json(tmp / "refine_report.json", report)
        replace_dir(tmp, out_dir)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    write_json(out_report, report)
    before, after = report["before"]["shot_counts"], report["after"]["shot_counts"]
    log(
        f"refined tier: {len(manifest)} + {len(fill_ins)} fill-ins in {out_dir}: "
        + ", ".join(f"{k} {before[k]}->{after[k]}" for k in SHOT_TYPES)
    )
    return report


def _fill(
    tmp: Path,
    tier_dir: Path,
    manifest: Sequence[Mapping[str, Any]],
    fill_ins: Sequence[Mapping[str, Any]],
    pool: Mapping[str, Mapping[str, Any]],
    images_root: Path,
    link_mode: str,
) -> dict[str, dict[str, Any]]:
    """Place every image; the tier's rows and captions copied, fill-in rows to complete."""
    (tmp / TIER_IMAGES).mkdir()
    taken = {Path(m["tier_file"]).stem for m in manifest}
    rows: dict[str, dict[str, Any]] = {}
    for m in manifest:
        place_file(images_root / m["file"], tmp / m["tier_file"], link_mode)
        (tmp / m["caption_file"]).write_text(m["caption"] + "\n", encoding="utf-8")
        rows[m["file"]] = {
            **m,
            "origin": "tier",
            "round": None,
            "aim": None,
            "scenario": None,
            "shot_type": pool[m["file"]]["shot_type"],
        }
    for fill_in in fill_ins:
        stem = Path(fill_in["file"]).stem
        if stem in taken:  # fill-in names carry their round, so this is a foreign file
            raise ValueError(f"{fill_in['file']}: its name clashes with a tier image's")
        taken.add(stem)
        image = Path(TIER_IMAGES) / Path(fill_in["file"]).name
        place_file(images_root / fill_in["file"], tmp / image, link_mode)
        rows[fill_in["file"]] = {
            "file": fill_in["file"],
            "tier_file": image.as_posix(),
            "caption_file": image.with_suffix(".txt").as_posix(),
            "shot_type": pool[fill_in["file"]]["shot_type"],
        }
    return rows
