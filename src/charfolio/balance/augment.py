"""A balanced copy of a tier: its images plus the crops `charfolio.balance.crops` chooses.

The result is a tier-shaped directory that `charfolio.lora.data.read_tier` trains on:

    tier_70_balanced/
      images/<name>.png, .txt       the tier's images (links) and the crops, with captions
      manifest.parquet              AUGMENTED rows: tier columns + shot type and provenance
      balance.parquet               BALANCE rows of every image in it
      balance_report.json           the mix before and after, and what was cropped

A crop inherits its parent's split (a crop of a validation image never trains), rank,
cluster, seed, quality score and face confidence; its sharpness and contrast are null (not
measured). Captions name the new framing ("full body" becomes "upper body"). Originals are
never written to: they are linked or copied from `images_root`, and the directory is built
under a temporary name and renamed, so a killed job leaves no half-made set.
"""

from __future__ import annotations

import hashlib
import io
import os
import shutil
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image

from charfolio.balance.analyze import BalanceRules, balance_report, measure, write_report
from charfolio.balance.caption_framing import reframe_caption
from charfolio.balance.crops import (
    DEFAULT_MIN_CROP_SIDE,
    Donor,
    candidate_crops,
    choose_crops,
)
from charfolio.balance.targets import Targets
from charfolio.captions.lint import lint_captions
from charfolio.core import tables
from charfolio.core.atomic import job_staging_dir, replace_dir
from charfolio.core.digest import sha256_file
from charfolio.core.imaging import read_rgb
from charfolio.core.layout import TIER_IMAGES, TIER_MANIFEST, tier_manifest
from charfolio.core.paths import portable_path
from charfolio.curate.tiers import place_file
from charfolio.faces.shots import SHOT_TYPES

PathLike = str | os.PathLike[str]
LINK_MODES = ("symlink", "hardlink", "copy")


def _png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")  # Pillow writes no timestamp: same pixels, same bytes
    return buffer.getvalue()


def _shifted(boxes: Sequence[Sequence[float]], crop: Sequence[int]) -> list[list[float]]:
    """Faces whose centre lies in the crop, in crop pixels, main first."""
    x0, y0, x1, y1 = crop
    out = []
    for b in boxes:
        cx, cy = (b[0] + b[2]) / 2, (b[1] + b[3]) / 2
        if x0 <= cx < x1 and y0 <= cy < y1:
            out.append([b[0] - x0, b[1] - y0, b[2] - x0, b[3] - y0])
    return out


def _caption(tier_dir: Path, row: Mapping[str, Any]) -> str:
    path = tier_dir / row["caption_file"]
    return path.read_text(encoding="utf-8").strip() if path.is_file() else str(row["caption"])


@dataclass(frozen=True)
class _Built:
    manifest: list[dict[str, Any]]
    balance: list[dict[str, Any]]
    failed: Counter[str]


def _build(
    tmp: Path,
    final: Path,
    tier_dir: Path,
    manifest: Sequence[Mapping[str, Any]],
    balance: Mapping[str, Mapping[str, Any]],
    faces_boxes: Mapping[str, Sequence[Sequence[float]]],
    chosen: Sequence[Donor],
    images_root: Path,
    rules: BalanceRules,
    link_mode: str,
    frame_captions: bool,
) -> _Built:
    (tmp / TIER_IMAGES).mkdir()
    out_manifest: list[dict[str, Any]] = []
    out_balance: list[dict[str, Any]] = []
    captions: dict[str, str] = {}
    by_file = {m["file"]: m for m in manifest}
    for m in manifest:
        b = balance[m["file"]]
        source = (images_root / m["file"]).resolve()
        name = Path(m["tier_file"]).name
        place_file(source, tmp / TIER_IMAGES / name, link_mode)
        caption = captions[m["file"]] = _caption(tier_dir, m)
        if frame_captions:
            caption = reframe_caption(caption, b["shot_type"])
        (tmp / TIER_IMAGES / name).with_suffix(".txt").write_text(caption + "\n", encoding="utf-8")
        out_manifest.append(
            {
                **{k: m[k] for k in tables.TIER_MANIFEST.names},
                "tier_file": f"images/{name}",
                "caption_file": f"images/{Path(name).with_suffix('.txt')}",
                "caption": caption,
                "origin": "original",
                "shot_type": b["shot_type"],
                "face_box": b["face_box"],
                "width": b["width"],
                "height": b["height"],
                "sha256": sha256_file(source),
            }
        )
        out_balance.append(dict(b))
    failed: Counter[str] = Counter()
    for donor in chosen:
        parent = by_file[donor.row["file"]]
        read = read_rgb(images_root / parent["file"])
        if not read.ok:
            failed["unreadable"] += 1
            continue
        assert read.array is not None
        x0, y0, x1, y1 = donor.plan.box
        pixels = read.array[y0:y1, x0:x1]
        name = f"{Path(parent['tier_file']).stem}__{donor.plan.target}.png"
        data = _png(Image.fromarray(pixels))
        (tmp / TIER_IMAGES / name).write_bytes(data)
        caption = reframe_caption(captions[parent["file"]], donor.plan.target)
        (tmp / TIER_IMAGES / name).with_suffix(".txt").write_text(caption + "\n", encoding="utf-8")
        file = Path(os.path.relpath(final / TIER_IMAGES / name, images_root)).as_posix()
        boxes = _shifted(faces_boxes.get(parent["file"]) or [donor.row["face_box"]], donor.plan.box)
        measured = measure(pixels, boxes, donor.row["face_confidence"], rules)
        out_balance.append({"file": file, **measured})
        out_manifest.append(
            {
                **{k: parent[k] for k in tables.TIER_MANIFEST.names},
                "file": file,
                "tier_file": f"images/{name}",
                "caption_file": f"images/{Path(name).with_suffix('.txt')}",
                "caption": caption,
                "sharpness": None,
                "contrast": None,
                "origin": "augmented",
                "parent_file": parent["file"],
                "transform": donor.plan.transform,
                "crop_box": list(donor.plan.box),
                "shot_type": measured["shot_type"],
                "face_box": list(donor.plan.face_box),
                "width": x1 - x0,
                "height": y1 - y0,
                "sha256": hashlib.sha256(data).hexdigest(),
            }
        )
    return _Built(out_manifest, out_balance, failed)


@dataclass(frozen=True)
class _Inputs:
    manifest: list[dict[str, Any]]
    balance: dict[str, dict[str, Any]]
    faces_boxes: dict[str, list[list[float]]]


def _read_inputs(
    tier_dir: Path, balance_table: PathLike, faces_path: PathLike | None, images_root: Path
) -> _Inputs:
    manifest_path = tier_manifest(tier_dir)
    if not manifest_path.is_file():
        raise FileNotFoundError(
            f"{manifest_path} not found: pass a tier directory (results/<character>/tier_<n>/)"
        )
    manifest = tables.read_table(manifest_path, tables.TIER_MANIFEST).to_pylist()
    balance = {r["file"]: r for r in tables.read_table(balance_table, tables.BALANCE).to_pylist()}
    missing = [m["file"] for m in manifest if m["file"] not in balance]
    if missing:
        raise ValueError(
            f"{balance_table} has no row for {missing[0]} (and {len(missing) - 1} more) of "
            f"{manifest_path}; analyse this tier's manifest with analyze_balance first"
        )
    gone = [m["file"] for m in manifest if not (images_root / m["file"]).is_file()]
    if gone:
        raise FileNotFoundError(
            f"{images_root / gone[0]} (and {len(gone) - 1} more) not found; the tier is newer "
            f"than the images: rerun generation, or pass the results folder as images_root"
        )
    unsized = [m["file"] for m in manifest if balance[m["file"]]["width"] is None]
    if unsized:
        raise ValueError(
            f"{balance_table}: {unsized[0]} was unreadable when analysed "
            f"({balance[unsized[0]]['reason']}); fix or drop the image and rebuild the tier"
        )
    boxes: dict[str, list[list[float]]] = {}
    if faces_path is not None:
        for r in tables.read_table(faces_path, tables.FACES).to_pylist():
            boxes[r["file"]] = r["boxes"] or []
    return _Inputs(manifest, balance, boxes)


def augment_tier(
    tier_dir: PathLike,
    balance_table: PathLike,
    images_root: PathLike,
    out_dir: PathLike,
    faces_path: PathLike | None = None,
    targets: Targets | Mapping[str, Any] | None = None,
    rules: BalanceRules | Mapping[str, Any] | None = None,
    min_crop_side: int = DEFAULT_MIN_CROP_SIDE,
    max_new: int | None = None,
    link_mode: str = "symlink",
    frame_captions: bool = True,
    token: str | None = None,
    class_word: str | None = None,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Write a balanced copy of a tier to `out_dir` (see the module docstring); returns its report.

    `balance_table` holds BALANCE rows for the tier's images (`analyze_balance` on its
    manifest); `faces_path` (optional) lets crops count the other faces they keep;
    `frame_captions` also writes each original's framing into its caption; with `token` and
    `class_word` the report lints every caption (`captions.lint.lint_captions`).
    """
    if link_mode not in LINK_MODES:
        raise ValueError(f"unknown link_mode {link_mode!r}; use one of {LINK_MODES}")
    targets = targets if isinstance(targets, Targets) else Targets.from_config(targets)
    rules = rules if isinstance(rules, BalanceRules) else BalanceRules.from_config(rules)
    tier_dir, images_root = Path(tier_dir).resolve(), Path(images_root).resolve()
    out_dir = Path(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    out_dir = out_dir.parent.resolve() / out_dir.name
    if out_dir == tier_dir or tier_dir.is_relative_to(out_dir):
        raise ValueError(
            f"{out_dir} would replace the tier it balances ({tier_dir}); write the balanced set "
            f"to its own directory, e.g. {tier_dir.name}_balanced"
        )
    inputs = _read_inputs(tier_dir, balance_table, faces_path, images_root)
    rows = [inputs.balance[m["file"]] for m in inputs.manifest]
    donors, skipped = candidate_crops(rows, rules.shots, min_crop_side)
    chosen = choose_crops(rows, donors, targets, max_new)
    tmp = job_staging_dir(out_dir.parent, prefix=f".{out_dir.name}.", suffix=".tmp")
    try:
        built = _build(
            tmp,
            out_dir,
            tier_dir,
            inputs.manifest,
            inputs.balance,
            inputs.faces_boxes,
            chosen,
            images_root,
            rules,
            link_mode,
            frame_captions,
        )
        tables.write_table(tmp / TIER_MANIFEST, built.manifest, tables.AUGMENTED)
        tables.write_table(tmp / "balance.parquet", built.balance, tables.BALANCE)
        made = Counter(m["transform"] for m in built.manifest if m["origin"] == "augmented")
        report = {
            "before": balance_report(rows, targets, rules),
            "after": balance_report(built.balance, targets, rules),
            "augmentation": {
                "tier": portable_path(tier_dir),
                "added": sum(made.values()),
                "by_transform": dict(sorted(made.items())),
                "donors": {t: len(d) for t, d in donors.items()},
                "not_croppable": dict(sorted(skipped.items())),
                "failed": dict(sorted(built.failed.items())),
                "min_crop_side": min_crop_side,
                "max_new": max_new,
                "link_mode": link_mode,
                "frame_captions": frame_captions,
            },
        }
        if token and class_word:
            captions = {m["tier_file"]: m["caption"] for m in built.manifest}
            report["captions"] = lint_captions(captions, token, class_word)
        write_report(tmp / "balance_report.json", report)
        replace_dir(tmp, out_dir)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    before = report["before"]["shot_counts"]
    after = report["after"]["shot_counts"]
    log(
        f"balance: {report['augmentation']['added']} crops into {out_dir} "
        + ", ".join(f"{n} {before[n]}->{after[n]}" for n in SHOT_TYPES)
    )
    return report
