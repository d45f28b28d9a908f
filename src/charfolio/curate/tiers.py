"""Write one training tier as a directory a LoRA trainer reads directly.

    tier_70/
      images/<name>.png      links to (or copies of) the selected images
      images/<name>.txt      the caption, beside its image (kohya / diffusers convention)
      manifest.parquet       one row per image: rank, cluster, seed, scores, train/val split
      selection_report.json  the selection report plus this tier's own summary

Captions come from the caption template and each image's prompt; images without a prompt
(an ingested folder) take theirs from a CAPTIONS table instead (the caption_images rule).
The directory is built under a temporary name beside its target and renamed at the end,
so a killed job leaves no half-made tier.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import shutil
import string
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

from charfolio.core import layout, tables
from charfolio.core.atomic import job_staging_dir, replace_dir
from charfolio.core.layout import SELECTION_REPORT, TIER_IMAGES, tier_folder
from charfolio.curate import SelectionResult, read_selection, selection_report
from charfolio.curate.selection import SelectionRow

PathLike = str | os.PathLike[str]
LINK_MODES = ("symlink", "hardlink", "copy")
CAPTION_FIELDS = ("token", "class_word", "prompt", "scenario")


def fill_caption_template(template: str, values: Mapping[str, str]) -> str:
    """Fill `template` from `values`; empty fields leave no dangling commas or doubled spaces."""
    names = {name for _, name, _, _ in string.Formatter().parse(template) if name is not None}
    unknown = names - set(values)
    if unknown:
        raise ValueError(
            f"caption template {template!r} uses unknown fields {sorted(unknown)}; "
            f"use {', '.join('{' + f + '}' for f in values)}"
        )
    text = template.format(**values)
    text = re.sub(r"\s+", " ", text)
    text = re.sub(r"\s*,(\s*,)+", ",", text)  # ", ," left by an empty field
    text = re.sub(r"\s+,", ",", text)
    return text.strip(" ,")


def render_caption(
    template: str, token: str, class_word: str, prompt: str, scenario: str | None
) -> str:
    values = {
        "token": token,
        "class_word": class_word,
        "prompt": prompt,
        "scenario": scenario or "",
    }
    return fill_caption_template(template, {f: values[f] for f in CAPTION_FIELDS})


class Splittable(Protocol):
    """What a train/val split needs of a row (a SelectionRow, or a refined tier's fill-in)."""

    @property
    def file(self) -> str: ...

    @property
    def cluster(self) -> int | None: ...


def split_assignments(rows: Sequence[Splittable], val_fraction: float, seed: int) -> dict[str, str]:
    """file -> train | val: floor(n * val_fraction) val images, spread evenly over clusters.

    Images are ordered by cluster, then by a seeded hash (stable across Python versions),
    and every 1/val_fraction-th one goes to val, so each cluster gives its share.
    """
    if not 0.0 <= val_fraction < 1.0:
        raise ValueError(f"val_fraction must be in [0, 1), got {val_fraction}")

    def key(r: Splittable) -> tuple[int, str]:
        digest = hashlib.sha256(f"{seed}:{r.file}".encode()).hexdigest()
        return (-1 if r.cluster is None else r.cluster, digest)

    ordered = sorted(rows, key=key)

    # Position i is val when floor((i + 1) f) steps past floor(i f): exactly floor(n f) in all.
    def steps(i: int) -> int:
        return math.floor(round(i * val_fraction, 9))  # round: 0.29 * 100 must floor to 29

    return {r.file: "val" if steps(i + 1) > steps(i) else "train" for i, r in enumerate(ordered)}


def read_captions(path: PathLike, files: Sequence[str]) -> dict[str, str]:
    """file -> caption from a CAPTIONS table, for every one of `files`, or an error."""
    rows = tables.read_table(path, tables.CAPTIONS).to_pylist()
    captions = {r["file"]: r["caption"] for r in rows if r["caption"]}
    missing = [f for f in files if f not in captions]
    if missing:
        reasons = {r["file"]: r["reason"] for r in rows}
        raise ValueError(
            f"{path} has no caption for {missing[0]} (and {len(missing) - 1} more): "
            f"{reasons.get(missing[0]) or 'not in the table'}; rerun the caption_images rule"
        )
    return captions


def tier_file_names(files: Sequence[str]) -> dict[str, str]:
    """Source file -> name inside images/: the base name, or the flattened path if names clash."""
    stems = [Path(f).stem for f in files]  # stems: the caption .txt is named after the stem
    if len(set(stems)) == len(stems):
        return {f: Path(f).name for f in files}
    return {f: "__".join(Path(f).parts) for f in files}


def place_file(source: Path, target: Path, link_mode: str) -> None:
    """Put `source` at `target` as a relative symlink, a hard link or a copy."""
    if link_mode == "symlink":
        # Relative to where the tier will live: temp and final directory are siblings.
        target.symlink_to(os.path.relpath(source, target.parent))
    elif link_mode == "hardlink":
        try:
            os.link(source, target)
        except OSError as error:
            raise OSError(
                f"cannot hard-link {source} into {target.parent} ({error}); results and tiers "
                f"must be on one filesystem for link_mode 'hardlink': use 'symlink' or 'copy'"
            ) from error
    else:
        shutil.copy2(source, target)


def write_tier(
    selection: SelectionResult | PathLike,
    images_root: PathLike,
    tier_n: int,
    out_dir: PathLike,
    caption_template: str,
    token: str,
    class_word: str,
    link_mode: str = "symlink",
    val_fraction: float = 0.2,
    seed: int = 42,
    report: Mapping[str, Any] | None = None,
    captions: PathLike | None = None,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Write tier `tier_n` of a selection (a result or a SELECTION file) to `out_dir`.

    `report` is the selection report to include (else it is rebuilt from the selection);
    `captions`, a CAPTIONS table, gives the captions instead of the template (ingested
    images); returns this tier's summary, which is also in the report under "tier".
    """
    if link_mode not in LINK_MODES:
        raise ValueError(f"unknown link_mode {link_mode!r}; use one of {LINK_MODES}")
    result = selection if isinstance(selection, SelectionResult) else read_selection(selection)
    if tier_n not in result.members:
        raise ValueError(
            f"tier {tier_n} was not selected; the selection has tiers {sorted(result.members)}"
        )
    by_file = {r.file: r for r in result.rows}
    rows = [by_file[f] for f in result.members[tier_n]]
    images_root, out_dir = Path(images_root).resolve(), Path(out_dir)
    missing = [r.file for r in rows if not (images_root / r.file).is_file()]
    if missing:
        raise FileNotFoundError(
            f"{images_root / missing[0]} (and {len(missing) - 1} more) not found; the selection "
            f"is newer than the images: rerun generation, or pass the results folder as images_root"
        )
    names = tier_file_names([r.file for r in rows])
    splits = split_assignments(rows, val_fraction, seed)
    given = read_captions(captions, [r.file for r in rows]) if captions is not None else None
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    out_dir = out_dir.parent.resolve() / out_dir.name  # physical paths, for relative links
    tmp = job_staging_dir(out_dir.parent, prefix=f".{out_dir.name}.", suffix=".tmp")
    try:
        manifest = _fill(
            tmp, rows, names, splits, images_root, caption_template, token, class_word, link_mode,
            given,
        )  # fmt: skip
        summary = {
            "tier": tier_folder(tier_n),
            "requested": tier_n,
            "size": len(rows),
            "train": sum(1 for m in manifest if m["split"] == "train"),
            "val": sum(1 for m in manifest if m["split"] == "val"),
            "val_fraction": val_fraction,
            "link_mode": link_mode,
            "caption_template": caption_template,
        }
        if captions is not None:  # the template was not used
            summary.update(caption_template=None, captions=str(captions))
        full = dict(report) if report is not None else selection_report(result)
        full["tier"] = summary
        (tmp / SELECTION_REPORT).write_text(json.dumps(full, indent=2, sort_keys=True) + "\n")
        replace_dir(tmp, out_dir)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    log(
        f"tier {tier_n}: {len(rows)} images ({summary['train']} train, {summary['val']} val) in {out_dir}"
    )
    return summary


def _fill(
    tmp: Path,
    rows: Sequence[SelectionRow],
    names: Mapping[str, str],
    splits: Mapping[str, str],
    images_root: Path,
    template: str,
    token: str,
    class_word: str,
    link_mode: str,
    captions: Mapping[str, str] | None = None,
) -> list[dict[str, Any]]:
    (tmp / TIER_IMAGES).mkdir()
    manifest = []
    for r in rows:
        image = Path(TIER_IMAGES) / names[r.file]
        caption_file = image.with_suffix(".txt")
        caption = (
            captions[r.file]
            if captions is not None
            else render_caption(template, token, class_word, r.prompt, r.scenario)
        )
        place_file(images_root / r.file, tmp / image, link_mode)
        (tmp / caption_file).write_text(caption + "\n", encoding="utf-8")
        manifest.append(
            {
                "file": r.file,
                "tier_file": image.as_posix(),
                "caption_file": caption_file.as_posix(),
                "caption": caption,
                "rank": r.rank,
                "cluster": -1 if r.cluster is None else r.cluster,
                "seed": r.seed,
                "quality_score": r.quality_score,
                "sharpness": r.sharpness,
                "contrast": r.contrast,
                "face_confidence": r.face_confidence,
                "split": splits[r.file],
            }
        )
    tables.write_table(tmp / layout.TIER_MANIFEST, manifest, tables.TIER_MANIFEST)
    return manifest
