"""Training data from a tier directory: manifest rows, captions, aspect buckets, epoch order.

The tier's manifest.parquet says which images are train and which are val; captions are
read from each image's .txt (the kohya convention users hand-edit), falling back to the
manifest's caption. Epoch order is a pure function of (seed, phase, epoch), so a resumed
run draws exactly the batches an uninterrupted run would.
"""

from __future__ import annotations

import hashlib
import math
import os
from collections import Counter, defaultdict
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq
import torch
from PIL import Image

from charfolio.core.digest import sha256_file
from charfolio.core.imaging import read_rgb
from charfolio.core.layout import tier_manifest
from charfolio.lora.presets import DataMix

REQUIRED_COLUMNS = ("tier_file", "caption_file", "caption", "split")
SPLITS = ("train", "val")
Bucket = tuple[int, int]  # (width, height) in pixels


@dataclass(frozen=True)
class TierRow:
    """One manifest row: the image, its caption and its columns (for data mixes, reports)."""

    key: str  # tier_file, relative to the tier directory: the image's identity in every output
    path: Path
    caption: str
    split: str
    columns: Mapping[str, Any]


@dataclass(frozen=True)
class Example:
    """A row placed in its bucket: what the UNet sees and SDXL's size conditioning."""

    row: TierRow
    bucket: Bucket
    original_size: tuple[int, int]  # (height, width) of the file
    crop_top_left: tuple[int, int]  # (top, left) of the crop in the resized image


@dataclass(frozen=True)
class TierData:
    tier_dir: Path
    train: tuple[TierRow, ...]
    val: tuple[TierRow, ...]
    columns: tuple[str, ...]
    manifest_sha256: str
    content_sha256: str  # every image's bytes and caption, in manifest order


def read_tier(tier_dir: str | os.PathLike[str]) -> TierData:
    """The train and val rows of a tier directory (tier_{n}/ as charfolio.curate.tiers writes it)."""
    tier_dir = Path(tier_dir)
    manifest = tier_manifest(tier_dir)
    if not manifest.is_file():
        raise FileNotFoundError(
            f"{manifest} not found: point manifest_dir at a tier directory (results/<character>/"
            f"tier_<n>/) that the tier rule wrote"
        )
    table = pq.read_table(manifest)
    missing = [c for c in REQUIRED_COLUMNS if c not in table.column_names]
    if missing:
        raise ValueError(
            f"{manifest}: missing columns {missing}; rerun the tier rule to rewrite the manifest"
        )
    content = hashlib.sha256()
    rows: list[TierRow] = []
    for record in table.to_pylist():
        path = tier_dir / record["tier_file"]
        if not path.is_file():
            raise FileNotFoundError(
                f"{path} (listed in {manifest}) is missing or a broken link; rerun the tier rule"
            )
        caption_path = tier_dir / record["caption_file"]
        caption = (
            caption_path.read_text(encoding="utf-8").strip()
            if caption_path.is_file()
            else str(record["caption"]).strip()
        )
        if record["split"] not in SPLITS:
            raise ValueError(
                f"{manifest}: row {record['tier_file']} has split {record['split']!r}; "
                f"expected train or val"
            )
        content.update(f"{record['tier_file']}\0{sha256_file(path)}\0{caption}\0".encode())
        rows.append(TierRow(record["tier_file"], path, caption, record["split"], record))
    train = tuple(r for r in rows if r.split == "train")
    if not rows:
        raise ValueError(
            f"{manifest}: the tier is empty, so there is nothing to train on; see the tier's "
            f"selection_report.json for why images were rejected (a looser curation.thresholds "
            f"preset, or more images) or train on another tier"
        )
    if not train:
        raise ValueError(f"{manifest}: no train images (all {len(rows)} rows are val)")
    return TierData(
        tier_dir=tier_dir,
        train=train,
        val=tuple(r for r in rows if r.split == "val"),
        columns=tuple(table.column_names),
        manifest_sha256=sha256_file(manifest),
        content_sha256=content.hexdigest(),
    )


def make_buckets(
    resolution: int, step: int, max_aspect: float, enabled: bool = True
) -> tuple[Bucket, ...]:
    """Bucket sizes of about resolution^2 pixels with sides in multiples of `step`.

    For every width the largest height that keeps the area within resolution^2; only
    buckets no more elongated than `max_aspect`. Disabled: the one square bucket.
    """
    if resolution % step:
        raise ValueError(f"resolution {resolution} must be a multiple of bucket_step {step}")
    if not enabled:
        return ((resolution, resolution),)
    area = resolution * resolution
    buckets = {(resolution, resolution)}
    for width in range(step, int(resolution * max_aspect) + 1, step):
        height = (area // width) // step * step
        if height >= step and max(width / height, height / width) <= max_aspect:
            buckets.add((width, height))
    return tuple(sorted(buckets))


def nearest_bucket(width: int, height: int, buckets: Sequence[Bucket]) -> Bucket:
    """The bucket closest in log aspect ratio (ties: the larger area)."""
    aspect = math.log(width / height)
    return min(buckets, key=lambda b: (abs(math.log(b[0] / b[1]) - aspect), -b[0] * b[1]))


def fit_to_bucket(array: np.ndarray, bucket: Bucket) -> tuple[np.ndarray, tuple[int, int]]:
    """Resize to cover the bucket, then centre-crop to it; returns pixels and (top, left)."""
    height, width = array.shape[:2]
    bucket_w, bucket_h = bucket
    scale = max(bucket_w / width, bucket_h / height)
    new_w, new_h = max(bucket_w, round(width * scale)), max(bucket_h, round(height * scale))
    image = Image.fromarray(array)
    if (new_w, new_h) != (width, height):
        image = image.resize((new_w, new_h), Image.Resampling.LANCZOS)
    top, left = (new_h - bucket_h) // 2, (new_w - bucket_w) // 2
    cropped = np.array(image)[top : top + bucket_h, left : left + bucket_w]  # a writable copy
    return cropped, (top, left)


def iter_pixels(
    rows: Sequence[TierRow], buckets: Sequence[Bucket]
) -> Iterator[tuple[Example, torch.Tensor]]:
    """Each row as an Example and its pixels (3xHxW float in [-1, 1]), one image at a time."""
    for row in rows:
        read = read_rgb(row.path)
        if not read.ok:
            raise ValueError(
                f"{row.path}: cannot train on this image ({read.detail}); remove it from the "
                f"tier or replace the file, then rerun"
            )
        assert read.array is not None and read.width is not None and read.height is not None
        bucket = nearest_bucket(read.width, read.height, buckets)
        pixels, crop = fit_to_bucket(read.array, bucket)
        tensor = torch.from_numpy(np.ascontiguousarray(pixels)).permute(2, 0, 1).float()
        example = Example(row, bucket, (read.height, read.width), crop)
        yield example, tensor / 127.5 - 1.0


def group_values(rows: Sequence[TierRow], column: str) -> list[str]:
    """The data-mix group of each row: its `column` value as text (YAML keys are text)."""
    if rows and column not in rows[0].columns:
        raise ValueError(
            f"data_mix column {column!r} is not in the tier manifest; "
            f"columns: {', '.join(rows[0].columns)}"
        )
    return [str(r.columns[column]) for r in rows]


def sampling_probabilities(rows: Sequence[TierRow], mix: DataMix) -> np.ndarray:
    """Per-row draw probability so each group gets its share of the epoch.

    A group's share is split equally among its images; `shares: balanced` gives every
    group present the same share; groups that `shares` does not name get `other`.
    """
    groups = group_values(rows, mix.column)
    counts = Counter(groups)
    share = {g: 1.0 if mix.shares is None else mix.shares.get(g, mix.other) for g in counts}
    total = sum(share.values())
    if total <= 0:
        raise ValueError(
            f"data_mix on {mix.column!r}: every group present ({sorted(counts)}) has share 0; "
            f"name at least one of them in shares or set other > 0"
        )
    return np.array([share[g] / counts[g] / total for g in groups], dtype=np.float64)


def epoch_batches(
    examples: Sequence[Example],
    batch_size: int,
    rng_key: Sequence[int],
    probabilities: np.ndarray | None = None,
) -> list[tuple[int, ...]]:
    """The batches of one epoch as indices into `examples`; every batch is one bucket.

    Without probabilities every example once, shuffled; with them, len(examples) draws
    with replacement (an epoch keeps its size, so epoch numbers stay comparable).
    """
    rng = np.random.default_rng(list(rng_key))
    n = len(examples)
    if probabilities is None:
        order = rng.permutation(n)
    else:
        order = rng.choice(n, size=n, replace=True, p=probabilities)
    by_bucket: dict[Bucket, list[int]] = defaultdict(list)
    for i in order.tolist():
        by_bucket[examples[i].bucket].append(i)
    batches = [
        tuple(members[start : start + batch_size])
        for bucket in sorted(by_bucket)
        for members in [by_bucket[bucket]]
        for start in range(0, len(members), batch_size)
    ]
    return [batches[i] for i in rng.permutation(len(batches)).tolist()]
