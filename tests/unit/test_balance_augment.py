"""Balancing crops: planned from the face box, re-detected by dlib as the intended shot type."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest

from charfolio.balance.analyze import analyze_balance
from charfolio.balance.augment import augment_tier
from charfolio.balance.caption_framing import reframe_caption
from charfolio.balance.crops import CropPlan, plan_crop
from charfolio.balance.targets import DOCUMENT_TARGETS, distance
from charfolio.core import tables
from charfolio.core.imaging import read_rgb
from charfolio.faces import analyze_faces, create_face_detector, write_faces
from charfolio.faces.shots import CLOSE_UP, FULL_BODY, MEDIUM, WIDE, shot_type

from .balance_support import figure, save

# A tier heavy in full-body shots with one medium shot and no wide shot.
TIER = {
    "images/s1/full_a.png": (768, 1152, 0.08, (0.45, 0.12), "plain"),
    "images/s1/full_b.png": (768, 1152, 0.08, (0.55, 0.13), "coffee"),
    "images/s1/full_c.png": (768, 1152, 0.085, (0.5, 0.11), "plain"),
    "images/s2/full_d.png": (768, 1152, 0.075, (0.4, 0.12), "brick"),
    "images/s2/medium.png": (768, 1152, 0.2, (0.5, 0.25), "plain"),
    "images/s2/close_a.png": (512, 512, 0.42, (0.5, 0.45), "plain"),
    "images/s2/close_b.png": (512, 512, 0.38, (0.5, 0.42), "coffee"),
    "images/s2/close_c.png": (512, 512, 0.45, (0.48, 0.45), "plain"),
}
CAPTIONS = {
    "full": "nova woman, full body shot, standing in a park, 8k",
    "medium": "nova woman, 8k",
}


@pytest.fixture(scope="module")
def detector():  # type: ignore[no-untyped-def]
    return create_face_detector({"backend": "dlib", "descriptors": False})


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def tier(tmp_path_factory, detector) -> Path:  # type: ignore[no-untyped-def]
    """results/{character}/ with images, faces (real dlib), a tier_8 and its balance table."""
    root = tmp_path_factory.mktemp("character")
    for file, (w, h, fraction, centre, bg) in TIER.items():
        save(root, file, figure(w, h, fraction, centre, bg)[0])
    write_faces(
        root / "faces.parquet", analyze_faces(list(TIER), root, detector, log=lambda _: None)
    )
    tier_dir = root / "tier_8"
    (tier_dir / "images").mkdir(parents=True)
    manifest = []
    for rank, file in enumerate(TIER, start=1):
        name = Path(file).name
        (tier_dir / "images" / name).symlink_to(os.path.relpath(root / file, tier_dir / "images"))
        caption = CAPTIONS["full"] if "full" in name else CAPTIONS["medium"]
        (tier_dir / "images" / name).with_suffix(".txt").write_text(caption + "\n")
        manifest.append(
            {
                "file": file,
                "tier_file": f"images/{name}",
                "caption_file": f"images/{Path(name).stem}.txt",
                "caption": caption,
                "rank": rank,
                "cluster": rank % 3,
                "seed": 7,
                "quality_score": 0.9,
                "sharpness": 500.0,
                "contrast": 60.0,
                "face_confidence": 0.95,
                "split": "val" if name == "full_b.png" else "train",
            }
        )
    tables.write_table(tier_dir / "manifest.parquet", manifest, tables.TIER_MANIFEST)
    analyze_balance(
        root / "faces.parquet",
        root,
        tier_dir / "manifest.parquet",
        root / "balance_tier_8.parquet",
        root / "balance_tier_8.json",
        log=lambda _: None,
    )
    return tier_dir


@pytest.fixture(scope="module")
def balanced(tier: Path) -> tuple[Path, dict]:  # type: ignore[type-arg]
    root = tier.parent
    sources = {f: _sha(root / f) for f in TIER}
    out = root / "tier_8_balanced"
    report = augment_tier(
        tier,
        root / "balance_tier_8.parquet",
        root,
        out,
        faces_path=root / "faces.parquet",
        token="nova",
        class_word="woman",
        log=lambda _: None,
    )
    assert {f: _sha(root / f) for f in TIER} == sources  # originals untouched
    return out, report


def _manifest(out: Path) -> list[dict]:  # type: ignore[type-arg]
    return tables.read_table(out / "manifest.parquet", tables.AUGMENTED).to_pylist()


def test_before_mix_is_as_built(balanced) -> None:  # type: ignore[no-untyped-def]
    _, report = balanced
    before = report["before"]["shot_counts"]
    assert before == {"close_up": 3, "medium": 1, "full_body": 4, "wide": 0}


def test_crops_move_the_mix_toward_the_targets(balanced) -> None:  # type: ignore[no-untyped-def]
    out, report = balanced
    before, after = report["before"]["shot_counts"], report["after"]["shot_counts"]
    ranges = DOCUMENT_TARGETS.shot_types
    assert distance(after, sum(after.values()), ranges) < distance(
        before, sum(before.values()), ranges
    )
    assert after["medium"] > before["medium"]
    added = report["augmentation"]["added"]
    assert added == sum(after.values()) - sum(before.values()) > 0
    # 3 -> 4 close-ups, 1 -> 3 medium: 4 full-body of 11 is 36%; one more medium crop (4 of 12)
    # would push medium over 30% by more than it pulls full-body down, so the greedy stops
    assert report["augmentation"]["by_transform"] == {"crop_to_close_up": 1, "crop_to_medium": 2}
    assert json.loads((out / "balance_report.json").read_text()) == report


def test_crops_redetect_as_their_target(balanced, detector) -> None:  # type: ignore[no-untyped-def]
    out, _ = balanced
    crops = [m for m in _manifest(out) if m["origin"] == "augmented"]
    assert crops
    for m in crops:
        target = m["transform"].removeprefix("crop_to_")
        read = read_rgb(out / m["tier_file"])
        assert read.ok and (read.width, read.height) == (m["width"], m["height"])
        assert min(m["width"], m["height"]) >= 256
        assert m["shot_type"] == target
        found = detector.detect(read.array)
        assert len(found) == 1, m["tier_file"]
        assert shot_type(found[0].box, read.width, read.height) == target, m["tier_file"]
        x0, y0, x1, y1 = m["crop_box"]
        assert (x1 - x0, y1 - y0) == (m["width"], m["height"])
        fx0, fy0, fx1, fy1 = m["face_box"]
        assert fx0 >= 0 and fy0 >= 0 and fx1 <= m["width"] and fy1 <= m["height"]  # face whole
        assert abs((fx0 + fx1) / 2 - m["width"] / 2) <= 1  # centred


def test_provenance_split_and_captions(balanced, tier: Path) -> None:  # type: ignore[no-untyped-def]
    out, report = balanced
    rows = _manifest(out)
    parents = {m["file"]: m for m in rows if m["origin"] == "original"}
    assert len(parents) == len(TIER)
    for m in rows:
        if m["origin"] == "original":
            assert m["parent_file"] is None and m["transform"] is None
            link = out / m["tier_file"]
            assert link.is_symlink() and link.resolve() == (tier.parent / m["file"]).resolve()
            continue
        parent = parents[m["parent_file"]]
        assert m["file"] == f"tier_8_balanced/{m['tier_file']}"
        assert (tier.parent / m["file"]).is_file()
        assert (m["split"], m["rank"], m["cluster"]) == (
            parent["split"],
            parent["rank"],
            parent["cluster"],
        )
        assert m["sharpness"] is None and m["quality_score"] == parent["quality_score"]
        assert m["sha256"] == _sha(out / m["tier_file"])
        caption = (out / m["caption_file"]).read_text().strip()
        assert caption == m["caption"]
        if m["transform"] == "crop_to_medium":
            assert caption == "nova woman, upper body, standing in a park, 8k"
        else:
            assert caption.startswith("nova woman, close-up portrait")
    # originals' captions name their measured framing too
    assert parents["images/s2/close_a.png"]["caption"] == "nova woman, close-up portrait, 8k"
    assert report["captions"]["captions"] == len(rows)
    assert report["captions"]["with_warnings"] == 0
    balance = tables.read_table(out / "balance.parquet", tables.BALANCE).column("file").to_pylist()
    assert balance == [m["file"] for m in rows]


def test_the_set_trains_as_a_tier(balanced) -> None:  # type: ignore[no-untyped-def]
    from charfolio.lora.data import read_tier

    out, report = balanced
    data = read_tier(out)
    assert len(data.train) + len(data.val) == len(TIER) + report["augmentation"]["added"]
    assert "shot_type" in data.columns  # a LoRA data_mix can balance on it
    val_parents = {r.columns.get("parent_file") or r.columns["file"] for r in data.val}
    assert val_parents == {"images/s1/full_b.png"}  # a val image's crop stays in val


def test_deterministic_and_never_in_place(balanced, tier: Path) -> None:  # type: ignore[no-untyped-def]
    out, _ = balanced
    root = tier.parent
    again = root / "again"
    augment_tier(
        tier,
        root / "balance_tier_8.parquet",
        root,
        again,
        faces_path=root / "faces.parquet",
        log=lambda _: None,
    )
    first = [(m["tier_file"], m["sha256"], m["crop_box"]) for m in _manifest(out)]
    second = [(m["tier_file"], m["sha256"], m["crop_box"]) for m in _manifest(again)]
    assert first == second
    with pytest.raises(ValueError, match="would replace the tier"):
        augment_tier(tier, root / "balance_tier_8.parquet", root, tier)


def test_max_new_and_min_crop_side(tier: Path) -> None:
    root = tier.parent
    report = augment_tier(
        tier, root / "balance_tier_8.parquet", root, root / "one", max_new=1, log=lambda _: None
    )
    assert report["augmentation"]["added"] == 1
    report = augment_tier(
        tier,
        root / "balance_tier_8.parquet",
        root,
        root / "none",
        min_crop_side=2000,
        log=lambda _: None,
    )
    assert report["augmentation"]["added"] == 0
    assert report["augmentation"]["not_croppable"]["too_small"] > 0


def test_a_missing_balance_row_names_the_fix(tier: Path, tmp_path: Path) -> None:
    tables.write_table(tmp_path / "b.parquet", [], tables.BALANCE)
    with pytest.raises(ValueError, match="analyse this tier's manifest"):
        augment_tier(tier, tmp_path / "b.parquet", tier.parent, tmp_path / "out")


def test_plan_crop_geometry() -> None:
    # a full-body face 92 px tall in a 768x1152 frame
    face = (330.0, 92.0, 422.0, 184.0)
    plan = plan_crop(face, 768, 1152, MEDIUM)
    assert isinstance(plan, CropPlan) and plan.transform == "crop_to_medium"
    x0, y0, x1, y1 = plan.box
    assert (y1 - y0) == 460 and (x1 - x0) == round(460 * 768 / 1152)
    assert shot_type(plan.face_box, x1 - x0, y1 - y0) == MEDIUM
    assert plan_crop(face, 768, 1152, CLOSE_UP) == "too_small"  # 230 px tall: under 256
    assert isinstance(plan_crop(face, 768, 1152, CLOSE_UP, min_side=128), CropPlan)
    assert plan_crop((300.0, 300.0, 500.0, 500.0), 768, 768, MEDIUM) == "too_tight"
    assert plan_crop((-20.0, 100.0, 60.0, 180.0), 768, 1152, MEDIUM) == "face_cut"
    # a wide shot whose figure stands on the bottom edge: the crop cannot show its feet
    assert plan_crop((500.0, 1900.0, 540.0, 1940.0), 2048, 2048, FULL_BODY) == "misframed"
    good = plan_crop((500.0, 300.0, 540.0, 340.0), 2048, 2048, FULL_BODY)
    assert isinstance(good, CropPlan)
    x0, y0, x1, y1 = good.box
    assert shot_type(good.face_box, x1 - x0, y1 - y0) == FULL_BODY
    with pytest.raises(ValueError, match="cannot crop to"):
        plan_crop(face, 768, 1152, WIDE)


@pytest.mark.parametrize(
    ("caption", "shot", "expected"),
    [
        ("nova woman, full body shot, standing", MEDIUM, "nova woman, upper body, standing"),
        (
            "nova woman, full-body, wide angle, park",
            CLOSE_UP,
            "nova woman, close-up portrait, park",
        ),
        ("nova woman, 8k", MEDIUM, "nova woman, upper body, 8k"),
        ("nova woman", FULL_BODY, "nova woman, full body"),
        ("nova woman, Head and Shoulders portrait", WIDE, "nova woman, wide shot"),
        ("nova woman, waist up shot, cafe", CLOSE_UP, "nova woman, close-up portrait, cafe"),
        ("nova woman, portrait photo", MEDIUM, "nova woman, upper body, portrait photo"),
        ("nova woman, full body", "unknown", "nova woman, full body"),
    ],
)
def test_reframe_caption(caption: str, shot: str, expected: str) -> None:
    assert reframe_caption(caption, shot) == expected
