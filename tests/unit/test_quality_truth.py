"""Curation agrees with a person on real photos: sharp portraits kept at any size, degraded
copies rejected for what is wrong with them, each photo ranked above its degraded copies.

The photos ship inside installed packages (tests/unit/photo_support.py). The presets'
numbers in charfolio.curate.thresholds were calibrated on these measurements.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from charfolio.curate import PRESETS, thresholds_from_config
from charfolio.curate.selection import threshold_reason
from charfolio.quality import MainFace, score_images
from tests.unit.photo_support import DEGRADATIONS, clean_portraits, main_face, rescaled

SCALES = (0.5, 0.75, 1.0, 1.5, 2.0)


def _score(
    tmp: Path, name: str, rgb: np.ndarray, face: MainFace, working_resolution: int
) -> dict[str, Any]:
    Image.fromarray(rgb).save(tmp / f"{name}.png")
    (row,) = score_images(
        [f"{name}.png"], tmp, {f"{name}.png": face}, workers=1, log=lambda _: None,
        working_resolution=working_resolution,
    )  # fmt: skip
    return row


def _face(rgb: np.ndarray) -> MainFace:
    found = main_face(rgb)
    return MainFace(None, None) if found is None else MainFace(found.confidence, found.box)


def _verdict(row: dict[str, Any], preset: str, working_resolution: int) -> str | None:
    """The thresholds' reject reason, or low_quality_score, or None (kept)."""
    thresholds = thresholds_from_config({"preset": preset}, working_resolution)
    reason = threshold_reason(row, thresholds)
    if reason is None and row["quality_score"] < thresholds.min_quality_score:
        return "low_quality_score"
    return reason


@functools.cache
def _clean_rows(tmp: Path, working_resolution: int) -> dict[tuple[str, float], dict[str, Any]]:
    rows = {}
    for name, photo in clean_portraits().items():
        for factor in SCALES:
            rgb = rescaled(photo, factor)
            rows[name, factor] = _score(
                tmp, f"{name}_{factor}", rgb, _face(rgb), working_resolution
            )
    return rows


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("truth")


def test_the_set_is_real_and_varied() -> None:
    photos = clean_portraits()
    assert len(photos) == 6  # astronaut, Grace Hopper, four people of the group photo
    assert {min(p.shape[:2]) for p in photos.values()} >= {326, 512}


@pytest.mark.parametrize(
    ("working_resolution", "scales"),
    [(384, SCALES), (768, (1.0, 1.5, 2.0))],  # 768: the photos' sizes from 326 to 1200 px
)
def test_sharp_portraits_are_kept_at_every_size(
    folder: Path, working_resolution: int, scales: tuple[float, ...]
) -> None:
    rows = _clean_rows(folder, working_resolution)
    verdicts = {
        (name, factor): _verdict(rows[name, factor], "balanced", working_resolution)
        for name in clean_portraits()
        for factor in scales
    }
    assert all(rows[key]["face_sharpness"] is not None for key in verdicts), "a face was missed"
    assert {k: v for k, v in verdicts.items() if v is not None} == {}
    # aggressive keeps at least what balanced keeps.
    assert all(_verdict(rows[k], "aggressive", working_resolution) is None for k in verdicts)


def test_the_same_verdict_from_512_to_2048_px(folder: Path) -> None:
    """The held-out target's range: every photo resized to a short side of 512, 1024, 2048."""
    verdicts = {}
    for name, photo in clean_portraits().items():
        for short_side in (512, 1024, 2048):
            rgb = rescaled(photo, short_side / min(photo.shape[:2]))
            row = _score(folder, f"{name}_{short_side}px", rgb, _face(rgb), 768)
            verdicts[name, short_side] = _verdict(row, "balanced", 768)
    assert {k: v for k, v in verdicts.items() if v is not None} == {}


def test_measures_hardly_move_with_size(folder: Path) -> None:
    rows = _clean_rows(folder, 384)
    for name in clean_portraits():
        sharpness = [rows[name, f]["face_sharpness"] for f in SCALES]
        contrast = [rows[name, f]["contrast"] for f in SCALES]
        assert max(sharpness) - min(sharpness) < 0.3, (name, sharpness)
        assert max(contrast) / min(contrast) < 1.05, (name, contrast)


@pytest.mark.parametrize("kind", sorted(DEGRADATIONS))
def test_degraded_copies_are_rejected_for_what_is_wrong(folder: Path, kind: str) -> None:
    degrade, expected = DEGRADATIONS[kind]
    clean = _clean_rows(folder, 384)
    wrong = {}
    for name, photo in clean_portraits().items():
        copy = degrade(photo)
        # The quality gates see the face where it is in the photo (the degradation moves
        # nothing), so their reason is checked on its own...
        box = main_face(photo)
        row = _score(folder, f"{name}_{kind}", copy, MainFace(box.confidence, box.box), 384)
        reason = _verdict(row, "balanced", 384)
        if reason != expected:
            wrong[name] = reason
        # ...and the whole funnel rejects the copy with its own detection: the face gate
        # (no face found in a ruined photo) or a threshold.
        own_face = _face(copy)
        if own_face.box is not None:
            own = _score(folder, f"{name}_{kind}_own", copy, own_face, 384)
            assert _verdict(own, "balanced", 384) is not None, (name, kind)
        # A photo ranks above each of its degraded copies.
        assert clean[name, 1.0]["quality_score"] > row["quality_score"], (name, kind)
    assert wrong == {}, f"{kind}: expected {expected}"


def test_presets_keep_their_order_on_real_photos(folder: Path) -> None:
    rows = _clean_rows(folder, 384)
    kept = {
        preset: sum(_verdict(row, preset, 384) is None for row in rows.values())
        for preset in PRESETS
    }
    assert kept["conservative"] <= kept["balanced"] <= kept["aggressive"] == len(rows)
