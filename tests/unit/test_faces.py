"""The one-face gate with real dlib detection on photos that ship in scikit-image."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

import cv2
import numpy as np
import pytest
from PIL import Image
from skimage import data

from charfolio.core import tables
from charfolio.core.config import ModelFileError
from charfolio.faces import (
    MULTIPLE_FACES,
    NO_FACE,
    OK,
    PARTIAL_FACE,
    Face,
    FaceRules,
    analyze_faces,
    border_cut,
    classify,
    create_face_detector,
    write_faces,
)
from charfolio.faces.dlib_backend import dlib_confidence, dlib_score


def _lfw_face(index: int, size: int = 512) -> np.ndarray:
    """A 25x25 LFW face from scikit-image, enlarged and padded so dlib sees some context."""
    face = cv2.resize(
        (data.lfw_subset()[index] * 255).astype(np.uint8), (200, 200), interpolation=cv2.INTER_CUBIC
    )
    pad = (size - 200) // 2
    face = cv2.copyMakeBorder(face, pad, pad, pad, pad, cv2.BORDER_REPLICATE)
    return np.repeat(face[:, :, None], 3, axis=2)


def _with_tiny_face_in_corner() -> np.ndarray:
    astronaut = data.astronaut()
    big = cv2.resize(astronaut, None, fx=2, fy=2, interpolation=cv2.INTER_CUBIC)  # face ~187 px
    tiny = cv2.resize(
        astronaut[40:220, 130:310], (100, 100), interpolation=cv2.INTER_AREA
    )  # ~52 px
    big[-110:-10, -110:-10] = tiny
    return big


@pytest.fixture(scope="module")
def images(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("faces")
    astronaut = data.astronaut()
    made = {
        "one.png": astronaut,
        "two.png": np.hstack([astronaut, _lfw_face(1)]),
        "none.png": data.coffee(),
        "cut.png": astronaut[:, 185:],  # face box starts about 14 px left of the frame
        "tiny_corner.png": _with_tiny_face_in_corner(),
        "flipped.png": astronaut[:, ::-1],
        "scaled.png": cv2.resize(astronaut, None, fx=1.5, fy=1.5, interpolation=cv2.INTER_CUBIC),
        "other_person.png": _lfw_face(3),
    }
    for name, rgb in made.items():
        Image.fromarray(np.ascontiguousarray(rgb)).save(root / name)
    (root / "sub").mkdir()
    (root / "sub" / "broken.jpg").write_text("not a picture")
    return root


@pytest.fixture(scope="module")
def dlib_detector():
    return create_face_detector({"backend": "dlib", "min_confidence": 0.5, "dlib": {"upsample": 1}})


@pytest.fixture(scope="module")
def rows(images: Path, dlib_detector) -> dict[str, dict]:
    files = [p.name for p in sorted(images.glob("*.png"))] + ["sub/broken.jpg"]
    out = analyze_faces(files, images, dlib_detector, log=lambda _: None)
    assert [r["file"] for r in out] == files
    return {r["file"]: r for r in out}


def test_verdicts_on_real_photos(rows) -> None:
    expected = {
        "one.png": OK,
        "two.png": MULTIPLE_FACES,
        "none.png": NO_FACE,
        "cut.png": PARTIAL_FACE,
        "tiny_corner.png": OK,
        "sub/broken.jpg": "unreadable",
    }
    assert {f: rows[f]["face_verdict"] for f in expected} == expected


def test_one_face_row(rows) -> None:
    row = rows["one.png"]
    assert row["n_faces"] == 1 and (row["width"], row["height"]) == (512, 512)
    ((x0, y0, x1, y1),) = row["boxes"]
    assert 150 < x0 < x1 < 300 and 50 < y0 < y1 < 200  # the astronaut's face
    assert row["face_confidence"] == row["confidences"][0] > 0.9  # clear frontal face
    assert len(row["landmarks"]) == 5
    assert len(row["descriptor"]) == 128 and row["descriptor_model"].startswith("dlib_")
    assert row["reason_detail"] is None


def test_border_cut_face_box_reaches_outside(rows) -> None:
    box = rows["cut.png"]["boxes"][0]
    assert box[0] < 0
    assert border_cut(box, rows["cut.png"]["width"], rows["cut.png"]["height"]) > 0.05


def test_tiny_background_face_is_counted_but_ignored(rows, images: Path, dlib_detector) -> None:
    row = rows["tiny_corner.png"]
    assert row["n_faces"] == 2 and row["face_verdict"] == OK
    main, tiny = row["boxes"]
    assert (tiny[2] - tiny[0]) / (main[2] - main[0]) < 0.35
    strict = analyze_faces(
        ["tiny_corner.png"], images, dlib_detector, lambda _: None,
        rules=FaceRules(secondary_face_min_fraction=0.2),
    )  # fmt: skip
    assert strict[0]["face_verdict"] == MULTIPLE_FACES


def test_no_face_and_unreadable_rows(rows) -> None:
    none = rows["none.png"]
    assert none["n_faces"] == 0 and none["boxes"] == [] and none["face_confidence"] is None
    assert none["descriptor"] is None and none["descriptor_model"] is None
    broken = rows["sub/broken.jpg"]
    assert broken["n_faces"] is None and broken["reason_detail"].startswith("not_an_image")


def test_descriptor_same_face_closer_than_another_person(rows) -> None:
    def distance(a: str, b: str) -> float:
        return float(
            np.linalg.norm(np.array(rows[a]["descriptor"]) - np.array(rows[b]["descriptor"]))
        )

    same = max(distance("one.png", "flipped.png"), distance("one.png", "scaled.png"))
    other = distance("one.png", "other_person.png")
    assert same < 0.4 < 0.6 < other  # dlib's usual same-person threshold is 0.6


def test_faces_table_round_trip(tmp_path: Path, rows) -> None:
    write_faces(tmp_path / "faces.parquet", list(rows.values()))
    table = tables.read_table(tmp_path / "faces.parquet", tables.FACES)
    assert table.schema.equals(tables.FACES, check_metadata=False)
    back = {r["file"]: r for r in table.to_pylist()}
    assert back["one.png"]["boxes"] == rows["one.png"]["boxes"]
    assert back["one.png"]["descriptor"] == pytest.approx(rows["one.png"]["descriptor"])


def test_classify_rules_without_a_model() -> None:
    main = Face((100.0, 100.0, 200.0, 200.0), 0.9, 1.0)
    rules = FaceRules(secondary_face_min_fraction=0.35, border_margin=0.05)
    assert classify([], 400, 400, rules) == NO_FACE
    assert classify([main], 400, 400, rules) == OK
    small = Face((0.0, 0.0, 34.0, 34.0), 0.9, 1.0)  # 0.34 of the main face's size
    assert classify([main, small], 400, 400, rules) == OK
    assert (
        classify([main, Face((0.0, 0.0, 36.0, 36.0), 0.9, 1.0)], 400, 400, rules) == MULTIPLE_FACES
    )
    just_inside = Face((-5.0, 100.0, 95.0, 200.0), 0.9, 1.0)  # 5% past the left edge
    assert classify([just_inside], 400, 400, rules) == OK
    assert classify([Face((-6.0, 100.0, 94.0, 200.0), 0.9, 1.0)], 400, 400, rules) == PARTIAL_FACE
    assert classify([Face((300.0, 350.0, 400.0, 460.0), 0.9, 1.0)], 400, 400, rules) == PARTIAL_FACE


def test_dlib_confidence_calibration() -> None:
    assert dlib_confidence(0.45) == pytest.approx(0.5)
    assert dlib_confidence(1.0) == pytest.approx(0.9, abs=0.001)
    assert dlib_confidence(0.39) < 0.5  # the strongest false face measured on the astronaut
    assert dlib_confidence(0.0) < 0.15 < 0.99 < dlib_confidence(2.0)
    assert dlib_score(dlib_confidence(0.8)) == pytest.approx(0.8)
    with pytest.raises(ValueError, match="min_confidence"):
        dlib_score(1.0)


def test_unknown_backend_names_the_choices() -> None:
    with pytest.raises(ValueError, match=r"dlib.*insightface"):
        create_face_detector({"backend": "mtcnn"})


def test_insightface_missing_model_root_names_path_and_fix(tmp_path: Path) -> None:
    faces = {"backend": "insightface", "insightface": {"model_root": "insightface"}}
    with pytest.raises(ModelFileError) as err:
        create_face_detector(faces, model_cache=str(tmp_path / "models"))
    message = str(err.value)
    assert str(tmp_path / "models" / "insightface") in message and "charfolio models" in message

    (tmp_path / "models" / "insightface" / "models" / "buffalo_l").mkdir(parents=True)
    with pytest.raises(ModelFileError) as err:
        create_face_detector(faces, model_cache=str(tmp_path / "models"))
    message = str(err.value)
    assert str(tmp_path / "models" / "insightface" / "models" / "buffalo_l") in message
    assert "charfolio models" in message


class _FakeFaceAnalysis:
    """Stands in for insightface.app.FaceAnalysis where the real one would read .onnx files."""

    instances: ClassVar[list[_FakeFaceAnalysis]] = []

    def __init__(self, name, root, allowed_modules, providers) -> None:
        self.args = {
            "name": name,
            "root": root,
            "allowed_modules": allowed_modules,
            "providers": providers,
        }
        self.models = {m: object() for m in allowed_modules}
        self.seen: list[np.ndarray] = []
        _FakeFaceAnalysis.instances.append(self)

    def prepare(self, ctx_id, det_thresh, det_size) -> None:
        self.prepared = {"ctx_id": ctx_id, "det_thresh": det_thresh, "det_size": det_size}

    def get(self, bgr):
        from insightface.app.common import Face as InsightFace

        self.seen.append(bgr)
        embedding = np.arange(512, dtype=np.float32) if "recognition" in self.models else None
        return [
            InsightFace(
                bbox=np.array([10.0, 12.0, 60.0, 70.0], np.float32),
                kps=np.array([[20, 30], [40, 30], [30, 40], [22, 55], [38, 55]], np.float32),
                det_score=np.float32(0.97),
                embedding=embedding,
            )
        ]


@pytest.mark.parametrize("descriptors", [True, False])
def test_insightface_backend_up_to_the_model_files(
    tmp_path: Path, monkeypatch, descriptors: bool
) -> None:
    import insightface.app

    pack = tmp_path / "models" / "insightface" / "models" / "buffalo_l"
    pack.mkdir(parents=True)
    (pack / "det_10g.onnx").write_bytes(b"")
    monkeypatch.setattr(insightface.app, "FaceAnalysis", _FakeFaceAnalysis)
    detector = create_face_detector(
        {"backend": "insightface", "min_confidence": 0.6, "descriptors": descriptors},
        model_cache=str(tmp_path / "models"),
    )
    app = _FakeFaceAnalysis.instances[-1]
    assert app.args["name"] == "buffalo_l"
    assert app.args["root"] == str(tmp_path / "models" / "insightface")
    assert app.args["allowed_modules"] == (
        ["detection", "recognition"] if descriptors else ["detection"]
    )
    assert app.args["providers"][-1] == "CPUExecutionProvider"
    assert app.prepared == {"ctx_id": 0, "det_thresh": 0.6, "det_size": (640, 640)}

    rgb = np.zeros((100, 80, 3), np.uint8)
    rgb[..., 0] = 255  # red in RGB is the last channel in BGR
    Image.fromarray(rgb).save(tmp_path / "red.png")
    (row,) = analyze_faces(["red.png"], tmp_path, detector, lambda _: None)
    assert tuple(app.seen[-1][0, 0]) == (0, 0, 255)
    assert row["face_verdict"] == OK and row["boxes"] == [[10.0, 12.0, 60.0, 70.0]]
    assert row["face_confidence"] == pytest.approx(0.97) and len(row["landmarks"]) == 5
    if descriptors:
        assert len(row["descriptor"]) == 512
        assert np.linalg.norm(row["descriptor"]) == pytest.approx(1.0, abs=1e-5)
        assert row["descriptor_model"] == "insightface:buffalo_l"
    else:
        assert row["descriptor"] is None and row["descriptor_model"] is None
