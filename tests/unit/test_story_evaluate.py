"""Storyboard evaluation on photos with known faces, and the ablation table over evaluations."""

from __future__ import annotations

import json

import numpy as np
import pyarrow.parquet as pq
import pytest
from PIL import Image

from charfolio.core import tables
from charfolio.core.digest import sha256_file
from charfolio.core.ratings import Rating, update_ratings
from charfolio.story import StoryboardSettings, StoryError, evaluate_storyboard, render_storyboard
from charfolio.story.frames import Frame, StoryFrames, write_frames

from .test_metrics import astronaut_variants, lfw_face

pytest.importorskip("dlib")

BLANK = np.full((300, 300, 3), 128, np.uint8)


def quiet(_: str) -> None:
    pass


class PhotoRenderer:
    """Returns the n-th photo for frame n (the seed says which frame: seed + 100 * frame)."""

    has_ip_adapter = has_controlnet = False

    def __init__(self, photos: list[np.ndarray]) -> None:
        self.photos = photos

    def render(self, prompt, seed, *, reference=None, control=None):
        return Image.fromarray(self.photos[(seed - 7000) // 100 - 1])

    def control_map(self, image):
        raise AssertionError("not used")

    def settings_record(self):
        return {"backend": "photos"}


@pytest.fixture(scope="module")
def detector():
    from charfolio.faces import create_face_detector

    return create_face_detector({"backend": "dlib"})


@pytest.fixture(scope="module")
def scorer():
    from charfolio.embed.text_image import create_text_image_scorer

    return create_text_image_scorer({"model": "charfolio-tiny-vit", "pretrained": None})


def board(tmp_path, name: str, mode: str, photos: list[np.ndarray], scorer) -> str:
    frames = tuple(Frame(i, f"an astronaut in scene {i}") for i in range(1, len(photos) + 1))
    frames_file = tmp_path / "story" / name / "frames.json"
    write_frames(frames_file, StoryFrames(name, "t", frames, "deterministic", "deterministic"))
    settings = StoryboardSettings("demo", "nova", "woman", "", mode, 7000, 0.5, 0)
    out = tmp_path / "ablation" / name / mode
    render_storyboard(frames_file, out, PhotoRenderer(photos), scorer, settings, quiet)
    return str(out / "storyboard.json")


def test_same_person_is_more_consistent_than_different_people(tmp_path, detector, scorer):
    same = board(tmp_path, "s", "baseline", astronaut_variants(), scorer)
    mixed_photos = [astronaut_variants()[0], lfw_face(0), lfw_face(10), lfw_face(20)]
    mixed = board(tmp_path, "s", "simple", mixed_photos, scorer)
    a = evaluate_storyboard(same, tmp_path / "a.json", detector, scorer, quiet)
    b = evaluate_storyboard(mixed, tmp_path / "b.json", detector, scorer, quiet)
    assert a["identity"]["frames_with_face"] == b["identity"]["frames_with_face"] == 4
    assert a["identity"]["first_vs_rest_mean"] > b["identity"]["first_vs_rest_mean"]
    assert a["identity"]["pairwise_mean"] > b["identity"]["pairwise_mean"]
    assert min(a["identity"]["first_vs_rest"]) > max(b["identity"]["first_vs_rest"])
    assert a["identity"]["face_backend"] == "dlib" and a["identity"]["descriptor_model"]
    # copies of one photo look alike to CLIP too: less diverse than four different faces
    assert a["diversity"] < b["diversity"]
    assert json.loads((tmp_path / "a.json").read_text()) == json.loads(json.dumps(a))


def test_prompt_adherence_matches_the_scorer(tmp_path, detector, scorer):
    photos = astronaut_variants()[:2]
    result = evaluate_storyboard(
        board(tmp_path, "p", "simple", photos, scorer), tmp_path / "e.json", detector, scorer, quiet
    )
    texts = ["an astronaut in scene 1", "an astronaut in scene 2"]
    expected = scorer.score(
        [np.asarray(Image.open(tmp_path / f"ablation/p/simple/frame_0{i}.png")) for i in (1, 2)],
        texts,
    )
    assert [f["prompt_adherence"] for f in result["frames"]] == pytest.approx(list(expected))
    assert result["prompt_adherence"]["mean"] == pytest.approx(float(np.mean(expected)))
    assert all(0.0 <= s <= 1.0 for s in expected)
    assert result["prompt_adherence"]["passed"] == sum(s >= 0.5 for s in expected)


def test_frames_without_a_face_are_recorded_not_fatal(tmp_path, detector, scorer):
    photos = [BLANK, astronaut_variants()[0], BLANK, astronaut_variants()[1]]
    result = evaluate_storyboard(
        board(tmp_path, "n", "simple", photos, scorer), tmp_path / "e.json", detector, scorer, quiet
    )
    identity = result["identity"]
    assert identity["frames_without_face"] == [1, 3] and identity["frames_with_face"] == 2
    assert identity["first_frame_has_face"] is False
    assert identity["first_vs_rest_mean"] is None  # no anchor: frame 1 has no face
    assert identity["pairwise_mean"] is not None
    assert result["frames"][0]["face_reason"] == "no_face" and result["frames"][0]["n_faces"] == 0


def test_a_missing_frame_names_the_file(tmp_path, detector, scorer):
    path = board(tmp_path, "m", "simple", astronaut_variants()[:2], scorer)
    (tmp_path / "ablation/m/simple/frame_02.png").unlink()
    with pytest.raises(StoryError, match=r"frame_02\.png: frame 2 cannot be read"):
        evaluate_storyboard(path, tmp_path / "e.json", detector, scorer, quiet)
    assert not (tmp_path / "e.json").exists()


def test_ablation_table_and_page(tmp_path, detector, scorer):
    from charfolio.story import tabulate_ablation

    evaluations, storyboards = [], []
    photos = {
        "baseline": [astronaut_variants()[0], lfw_face(0), lfw_face(10)],
        "simple": astronaut_variants()[:3],
    }
    for mode in ("simple", "baseline"):  # the table sorts them: baseline first
        path = board(tmp_path, "walk", mode, photos[mode], scorer)
        out = tmp_path / "ablation" / "walk" / mode / "evaluation.json"
        evaluate_storyboard(path, out, detector, scorer, quiet)
        evaluations.append(out)
        storyboards.append(path)
    rows = tabulate_ablation(
        evaluations, storyboards, tmp_path / "ablation.parquet", tmp_path / "ablation.html", quiet
    )
    table = pq.read_table(tmp_path / "ablation.parquet")
    assert table.schema.equals(tables.ABLATION)
    assert table.to_pylist() == rows
    assert [r["mode"] for r in rows] == ["baseline", "simple"]
    assert rows[1]["face_first_vs_rest_mean"] > rows[0]["face_first_vs_rest_mean"]
    assert rows[0]["storyboard"] == "ablation/walk/baseline" and rows[0]["n_frames"] == 3
    html = (tmp_path / "ablation.html").read_text()
    assert "storyboard ablation" in html and html.count("data:image/jpeg;base64,") == 2
    assert "face: frame 1 vs rest" in html and "no LoRA" in html
    assert all(r["rating_mean"] is None and r["rating_count"] == 0 for r in rows)

    # people's ratings of the simple board's frames: the mean of the current ones
    frames = [f"ablation/walk/simple/frame_{i:02d}.png" for i in (1, 2, 3)]
    ratings = tmp_path / "reviews" / "demo_ratings.csv"
    update_ratings(ratings, {
        frames[0]: Rating(frames[0], 5, sha256=sha256_file(tmp_path / frames[0])),
        frames[1]: Rating(frames[1], 2),
        frames[2]: Rating(frames[2], 1, sha256="0" * 64),  # an earlier render: left out
    })  # fmt: skip
    rows = tabulate_ablation(
        evaluations, storyboards, tmp_path / "ablation.parquet", tmp_path / "ablation.html",
        quiet, ratings=ratings, character_root=tmp_path,
    )  # fmt: skip
    assert [(r["rating_mean"], r["rating_count"], r["rating_stale"]) for r in rows] == [
        (None, 0, 0), (3.5, 2, 1),
    ]  # fmt: skip
    assert pq.read_table(tmp_path / "ablation.parquet").to_pylist() == rows
    html = (tmp_path / "ablation.html").read_text()
    assert ">3.50 (2)</td>" in html and "1 rating(s) of an earlier render left out" in html


def test_ablation_without_evaluations_says_what_to_configure(tmp_path):
    from charfolio.story import tabulate_ablation

    with pytest.raises(StoryError, match=r"configure story\.stories"):
        tabulate_ablation([], [], tmp_path / "a.parquet", tmp_path / "a.html", quiet)
