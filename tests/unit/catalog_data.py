"""A small, fully known results tree for the catalog, audit and report tests.

Character `alice`: 12 images in seed groups 100 and 200, with the balanced preset:
  face      no_face x2 (a00, b00), multiple_faces x1 (a01)
  duplicate a02 (a near copy of a03, which scores higher)
  thresholds low_sharpness x1 (b01)
  score     low_quality_score x1 (b02)
  passed    a03 a04 a05 b03 b04 b05 -> tier_2 (2 images), tier_4 (4 images)
Character `bob`: 3 images, seed 300, all passing -> tier_2.
Tiers put half their images in the validation split.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from PIL import Image

from charfolio.catalog.build import build_catalog
from charfolio.core import tables
from charfolio.curate import PRESETS, select, write_selection
from charfolio.curate.decisions import CheckedDecisions
from charfolio.curate.selection_report import selection_report
from charfolio.curate.tiers import write_tier

# name -> (face verdict, n_faces, sharpness, quality score, cluster or None)
ALICE: dict[str, tuple[str, int, float, float, int | None]] = {
    "a00": ("no_face", 0, 400.0, 0.40, None),
    "a01": ("multiple_faces", 2, 400.0, 0.50, None),
    "a02": ("ok", 1, 400.0, 0.94, 0),
    "a03": ("ok", 1, 400.0, 0.95, 0),
    "a04": ("ok", 1, 400.0, 0.93, 1),
    "a05": ("ok", 1, 400.0, 0.91, 1),
    "b00": ("no_face", 0, 400.0, 0.30, None),
    "b01": ("ok", 1, 50.0, 0.90, 0),
    "b02": ("ok", 1, 400.0, 0.60, 1),
    "b03": ("ok", 1, 400.0, 0.96, 0),
    "b04": ("ok", 1, 400.0, 0.92, 1),
    "b05": ("ok", 1, 400.0, 0.90, 0),
}
BOB: dict[str, tuple[str, int, float, float, int | None]] = {
    "c00": ("ok", 1, 500.0, 0.97, 0),
    "c01": ("ok", 1, 500.0, 0.96, 0),
    "c02": ("ok", 1, 500.0, 0.95, 0),
}
SEEDS = {"a": 100, "b": 200, "c": 300}
DUPLICATE_PAIR = ("a02", "a03")  # (the rejected copy, the kept one)


def image_file(name: str) -> str:
    return f"images/seed_{SEEDS[name[0]]}/{name}.png"


def image_sha256(name: str) -> str:
    """The sha256 the images table records for `name` (a stand-in, not the PNG's bytes)."""
    return hashlib.sha256(name.encode()).hexdigest()


def _image_row(character: str, name: str, index: int) -> dict[str, Any]:
    seed = SEEDS[name[0]]
    scenario = None if index == 0 else f", scene {index}"
    return {
        "file": image_file(name),
        "character": character,
        "seed": seed,
        "seed_group": sorted(SEEDS.values()).index(seed),
        "mode": "original" if scenario is None else "scenario",
        "mode_index": index + 1,
        "scenario_index": None if scenario is None else index,
        "scenario": scenario,
        "category": None if scenario is None else "daily",
        "variant": 0,
        "generator_seed": seed + index,
        "prompt": f"zxq person{scenario or ''}",
        "negative_prompt": "blurry",
        "backend": "test",
        "model_id": "tiny-test-model",
        "architecture": "sd15",
        "sampler": "dpmpp_2m",
        "sigmas": "karras",
        "steps": 20,
        "guidance_scale": 5.0,
        "width": 16,
        "height": 16,
        "detail_lora": None,
        "detail_lora_weight": None,
        "dtype": "float32",
        "batch_size": 2,
        "settings_json": "{}",
        "sha256": image_sha256(name),
        "bytes": 0,
        "timestamp": "2025-01-01T00:00:00+00:00",
    }


Spec = Mapping[str, tuple[str, int, float, float, int | None]]


def make_character(
    results: Path,
    character: str,
    spec: Spec,
    tiers: Mapping[int, float | None],
    decisions: CheckedDecisions | None = None,
) -> dict[str, Any]:
    """Write images, stage tables, selection, report and tiers; return the catalog inputs."""
    root = results / character
    images, faces, quality, duplicates, clusters = [], [], [], [], []
    for index, (name, (verdict, n_faces, sharpness, score, cluster)) in enumerate(spec.items()):
        file = image_file(name)
        (root / file).parent.mkdir(parents=True, exist_ok=True)
        Image.new("RGB", (16, 16), (index * 20 % 256, 90, 160)).save(root / file)
        row = _image_row(character, name, index % 6)
        row["bytes"] = (root / file).stat().st_size
        images.append(row)
        confidence = 0.97 if verdict == "ok" else None
        faces.append(
            {
                "file": file,
                "face_verdict": verdict,
                "n_faces": n_faces,
                "face_confidence": confidence,
            }
        )
        quality.append(
            {
                "file": file,
                "readable": True,
                "sharpness": sharpness,
                "contrast": 60.0,
                "face_confidence": confidence,
                "sharpness_score": 90.0,
                "contrast_score": 80.0,
                "face_score": 95.0 if confidence else 0.0,
                "quality_score": score,
            }
        )
        twin = DUPLICATE_PAIR[1] if name == DUPLICATE_PAIR[0] else name
        duplicates.append(
            {
                "file": file,
                "sha256": row["sha256"],
                "phash": hashlib.sha256(twin.encode()).hexdigest()[:16],
            }
        )
        if cluster is not None:
            clusters.append({"file": file, "cluster": cluster, "distance": 0.1 * index})
    sizes = {
        c: sum(1 for r in clusters if r["cluster"] == c) for c in {r["cluster"] for r in clusters}
    }
    for r in clusters:
        r["cluster_size"] = sizes[r["cluster"]]

    shard = root / "images" / "all.parquet"
    tables.write_table(shard, images, tables.IMAGES)
    tables.write_table(root / "faces.parquet", faces, tables.FACES)
    tables.write_table(root / "quality.parquet", quality, tables.QUALITY)
    tables.write_table(root / "duplicates.parquet", duplicates, tables.DUPLICATES)
    tables.write_table(root / "clusters_k2.parquet", clusters, tables.CLUSTERS)
    result = select(
        images,
        faces,
        quality,
        clusters,
        duplicates,
        PRESETS["balanced"],
        tiers=tiers,
        duplicate_distance=4,
        decisions=decisions,
    )
    write_selection(result, root / "selection.parquet")
    report = selection_report(result)
    (root / "selection_report.json").write_text(json.dumps(report, indent=2, sort_keys=True))
    manifests = {}
    for n in tiers:
        write_tier(
            result,
            root,
            n,
            root / f"tier_{n}",
            "{token}",
            "zxq",
            "person",
            val_fraction=0.5,
            log=lambda _: None,
        )
        manifests[n] = root / f"tier_{n}" / "manifest.parquet"
    return {
        "image_tables": [shard],
        "faces": root / "faces.parquet",
        "quality": root / "quality.parquet",
        "duplicates": root / "duplicates.parquet",
        "clusters": root / "clusters_k2.parquet",
        "selection": root / "selection.parquet",
        "tier_manifests": manifests,
        "character_root": root,
    }


def build_results(results: Path) -> list[Path]:
    """Both characters, catalogued; returns their catalog.parquet paths."""
    catalogs = []
    for character, spec, tiers in (
        ("alice", ALICE, {2: None, 4: None}),
        ("bob", BOB, {2: None}),
    ):
        inputs = make_character(results, character, spec, tiers)
        out = results / character / "catalog.parquet"
        build_catalog(**inputs, out_path=out)
        catalogs.append(out)
    return catalogs
