"""A tier's reference faces: the identity descriptors of the images the LoRA was trained on.

The descriptors come from results/{character}/faces.parquet (the main face of each image,
computed by the configured face backend); the tier's images are the `file` column of its
manifest.parquet. A tier without any descriptor (descriptors off, or no face in any of its
images) is not an error: identity is then recorded as missing, with this reason.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from charfolio.core import tables
from charfolio.core.layout import tier_manifest


@dataclass(frozen=True, eq=False)
class References:
    descriptors: np.ndarray | None  # (n, d) float64; None when there are none
    model: str | None  # the descriptor model that made them
    n_images: int  # images in the tier
    reason: str | None  # why there are no descriptors

    @property
    def available(self) -> bool:
        return self.descriptors is not None


def load_references(
    faces_path: str | os.PathLike[str], tier_dir: str | os.PathLike[str]
) -> References:
    """The main-face descriptors of every image of the tier (train and val splits)."""
    tier_dir = Path(tier_dir)
    manifest = tier_manifest(tier_dir)
    if not manifest.is_file():
        raise FileNotFoundError(f"{manifest} not found; run the build_tier rule for {tier_dir}")
    files = tables.read_table(manifest, tables.TIER_MANIFEST).column("file").to_pylist()
    faces = tables.read_table(faces_path, tables.FACES).select(
        ["file", "descriptor", "descriptor_model"]
    )
    by_file = tables.rows_by_file(faces.to_pylist(), faces_path, "detect_faces")
    rows = [by_file[f] for f in files if f in by_file and by_file[f]["descriptor"] is not None]
    if not files:
        return References(None, None, 0, f"{manifest} lists no images")
    if not rows:
        return References(
            None,
            None,
            len(files),
            f"none of the {len(files)} images of {tier_dir.name} has a face descriptor in "
            f"{faces_path} (faces.descriptors off, or no face found)",
        )
    models = sorted({r["descriptor_model"] or "" for r in rows})
    if len(models) > 1:
        raise ValueError(
            f"{faces_path}: the images of {tier_dir.name} have descriptors of several models "
            f"{models}; rerun the detect_faces rule"
        )
    descriptors = np.asarray([r["descriptor"] for r in rows], dtype=np.float64)
    return References(descriptors, models[0] or None, len(files), None)
