"""Crops that move a tier's shot-type mix toward the targets (the method's Strategy A).

Cropping only tightens a shot: a full-body image gives a medium shot or a close-up, a medium
shot a close-up, a wide shot a full-body or medium shot. Each crop is computed from the main
face box: its height puts the face at the target framing's size, the face is centred
horizontally and placed at the framing's height, the crop keeps the parent's aspect ratio and
is shifted to stay inside the image; a crop that would cut the face, come out smaller than
`min_crop_side` or re-classify as another shot type is not made.

Which crops: greedily, the one target shot type whose next image most reduces the distance
of the mix to the ranges (the shares' distances outside [min, max], summed), until no crop
helps or `max_new` is reached; donors go in tier order (best rank first), each parent gives
at most one crop per target and parents not yet used go first. Crops add images, so they
also dilute the other shares; the greedy step only takes a crop when the net effect helps,
and never one that takes its own shot type over its maximum.

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
import re
import shutil
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image

from charfolio.balance.analyze import BalanceRules, balance_report, measure, write_report
from charfolio.balance.shots import (
    CLOSE_UP,
    FULL_BODY,
    MEDIUM,
    SHOT_PHRASES,
    SHOT_TYPES,
    UNKNOWN,
    WIDE,
    ShotRules,
    shot_type,
)
from charfolio.balance.targets import Targets, distance
from charfolio.captions.lint import lint_captions
from charfolio.core import tables
from charfolio.core.atomic import job_staging_dir, replace_dir
from charfolio.core.digest import sha256_file
from charfolio.core.imaging import read_rgb
from charfolio.core.paths import portable_path
from charfolio.curate.tiers import place_file
from charfolio.faces.analyze import border_cut

PathLike = str | os.PathLike[str]
LINK_MODES = ("symlink", "hardlink", "copy")
# Target shot type -> the shot types a crop can make it from (only wider ones).
SOURCES: Mapping[str, tuple[str, ...]] = {
    CLOSE_UP: (MEDIUM, FULL_BODY),
    MEDIUM: (FULL_BODY, WIDE),
    FULL_BODY: (WIDE,),
}
# (face height / crop height, face centre height / crop height) per target framing, with the
# head 1.5 face boxes tall and the face centre 0.65 heads below the crown (see shots.py):
# close-up 1.7 heads, crown near the top; medium 3.3 heads, crown 6% down, waist at the bottom;
# full body 9.5 heads, crown 10% down, so a 7.5-head figure fills about 80% of the height.
TARGET_FRAMING: Mapping[str, tuple[float, float]] = {
    CLOSE_UP: (0.40, 0.45),
    MEDIUM: (0.20, 0.25),
    FULL_BODY: (0.07, 0.17),
}
# Half of SD1.5's 512 px training side: a crop blown up more than 2x teaches the LoRA softness.
DEFAULT_MIN_CROP_SIDE = 256

_FRAMING_RE = re.compile(
    r"\b(?:(?:extreme|medium)\s+)?close[- ]?up(?:\s+(?:portrait|shot))?\b"
    r"|\bhead\s*(?:and|&)\s*shoulders(?:\s+(?:portrait|shot))?\b|\bheadshot\b"
    r"|\bmedium(?:\s+full)?\s+shot\b|\bmid[- ]shot\b|\bcowboy\s+shot\b"
    r"|\b(?:upper|half)[- ]body(?:\s+shot)?\b|\bwaist[- ]up(?:\s+shot)?\b"
    r"|\bfull[- ](?:body|length)(?:\s+(?:shot|portrait|view))?\b|\bhead\s+to\s+toe\b"
    r"|\b(?:wide|long|establishing|far)(?:[- ]angle)?\s+shot\b|\bwide[- ]angle\b",
    re.IGNORECASE,
)


def reframe_caption(caption: str, shot: str) -> str:
    """`caption` naming `shot`'s framing: the first framing phrase replaced, others removed,
    or the phrase inserted after the first comma-separated part (the token and class word)."""
    if shot not in SHOT_PHRASES:
        return caption
    phrase = SHOT_PHRASES[shot]
    count = 0

    def swap(match: re.Match[str]) -> str:
        nonlocal count
        count += 1
        return phrase if count == 1 else ""

    text = _FRAMING_RE.sub(swap, caption)
    parts = [p.strip() for p in text.split(",")]
    parts = [p for p in parts if p]
    if count == 0:
        parts.insert(1 if parts else 0, phrase)
    return ", ".join(parts)


@dataclass(frozen=True)
class CropPlan:
    target: str
    box: tuple[int, int, int, int]  # in the parent's pixels, x1/y1 exclusive
    face_box: tuple[float, float, float, float]  # the main face in the crop's pixels

    @property
    def transform(self) -> str:
        return f"crop_to_{self.target}"


def plan_crop(
    face: Sequence[float],
    width: int,
    height: int,
    target: str,
    rules: ShotRules | None = None,
    min_side: int = DEFAULT_MIN_CROP_SIDE,
) -> CropPlan | str:
    """The crop of a `width`x`height` image that frames `face` as `target`, or why none."""
    rules = rules or ShotRules()
    if target not in TARGET_FRAMING:
        raise ValueError(f"cannot crop to {target!r}; crops make {sorted(TARGET_FRAMING)}")
    if border_cut(face, width, height) > 0:
        return "face_cut"
    x0, y0, x1, y1 = face
    fraction, centre = TARGET_FRAMING[target]
    crop_h = round((y1 - y0) / fraction)
    crop_w = round(crop_h * width / height)
    if crop_h > height or crop_w > width:
        return "too_tight"  # the image is already tighter than the target framing
    if min(crop_w, crop_h) < min_side:
        return "too_small"
    left = min(max(0, round((x0 + x1) / 2 - crop_w / 2)), width - crop_w)
    top = min(max(0, round((y0 + y1) / 2 - centre * crop_h)), height - crop_h)
    inner = (x0 - left, y0 - top, x1 - left, y1 - top)
    if border_cut(inner, crop_w, crop_h) > 0:
        return "face_cut"
    if shot_type(inner, crop_w, crop_h, rules) != target:
        return "misframed"  # shifted to stay inside the image, the face lost its framing
    return CropPlan(target, (left, top, left + crop_w, top + crop_h), inner)


@dataclass(frozen=True)
class Donor:
    """A crop one image can give: the image's BALANCE row and the plan."""

    row: Mapping[str, Any]
    plan: CropPlan


def candidate_crops(
    rows: Sequence[Mapping[str, Any]], rules: ShotRules, min_side: int
) -> tuple[dict[str, list[Donor]], Counter[str]]:
    """Per target, every crop the rows can give (in row order); and why others gave none."""
    donors: dict[str, list[Donor]] = {t: [] for t in SOURCES}
    skipped: Counter[str] = Counter()
    for row in rows:
        for target, sources in SOURCES.items():
            if row["shot_type"] not in sources:
                continue
            if row["multi_character"]:
                skipped["multi_character"] += 1  # a crop could halve the other person
                continue
            plan = plan_crop(row["face_box"], row["width"], row["height"], target, rules, min_side)
            if isinstance(plan, str):
                skipped[plan] += 1
            else:
                donors[target].append(Donor(row, plan))
    return donors, skipped


def choose_crops(
    rows: Sequence[Mapping[str, Any]],
    donors: Mapping[str, Sequence[Donor]],
    targets: Targets,
    max_new: int | None = None,
) -> list[Donor]:
    """The crops to make, greedily, while each one brings the shot-type mix closer to targets."""
    counts = Counter(r["shot_type"] for r in rows if r["shot_type"] != UNKNOWN)
    total = sum(counts.values())
    queues = {t: list(d) for t, d in donors.items()}
    used: set[str] = set()
    chosen: list[Donor] = []
    while max_new is None or len(chosen) < max_new:
        now = distance(counts, total, targets.shot_types)
        best, best_gain = None, 1e-12
        for target in SHOT_TYPES:
            if not queues.get(target):
                continue
            limit = targets.shot_types.get(target)
            if limit is not None and counts[target] + 1 > limit.max * (total + 1) + 1e-9:
                continue  # never push a shot type over its maximum to dilute another
            after = distance(counts + Counter({target: 1}), total + 1, targets.shot_types)
            if now - after > best_gain:
                best, best_gain = target, now - after
        if best is None:
            break
        queue = queues[best]
        pick = next((d for d in queue if d.row["file"] not in used), queue[0])
        queue.remove(pick)
        used.add(pick.row["file"])
        chosen.append(pick)
        counts[best] += 1
        total += 1
    return chosen


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
    (tmp / "images").mkdir()
    out_manifest: list[dict[str, Any]] = []
    out_balance: list[dict[str, Any]] = []
    captions: dict[str, str] = {}
    by_file = {m["file"]: m for m in manifest}
    for m in manifest:
        b = balance[m["file"]]
        source = (images_root / m["file"]).resolve()
        name = Path(m["tier_file"]).name
        place_file(source, tmp / "images" / name, link_mode)
        caption = captions[m["file"]] = _caption(tier_dir, m)
        if frame_captions:
            caption = reframe_caption(caption, b["shot_type"])
        (tmp / "images" / name).with_suffix(".txt").write_text(caption + "\n", encoding="utf-8")
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
        (tmp / "images" / name).write_bytes(data)
        caption = reframe_caption(captions[parent["file"]], donor.plan.target)
        (tmp / "images" / name).with_suffix(".txt").write_text(caption + "\n", encoding="utf-8")
        file = Path(os.path.relpath(final / "images" / name, images_root)).as_posix()
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
    manifest_path = tier_dir / "manifest.parquet"
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
    `class_word` the report lints every caption (`caption_lint.lint_captions`).
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
        tables.write_table(tmp / "manifest.parquet", built.manifest, tables.AUGMENTED)
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
