"""Scores of rendered images on photos with known faces: identity, adherence, quality."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from charfolio import quality
from charfolio.evaluate import ImageScorer, load_references
from charfolio.evaluate.references import References
from charfolio.evaluate.scoring import (
    DESCRIPTOR_MISMATCH,
    DESCRIPTORS_OFF,
    NO_FACE,
    NO_REFERENCES,
)

from .evaluate_support import FakeTextScorer, astronaut, blank, lfw_face, make_reference_tier

pytest.importorskip("dlib")


@pytest.fixture(scope="module")
def detector():
    from charfolio.faces import create_face_detector

    return create_face_detector({"backend": "dlib"})


@pytest.fixture(scope="module")
def astronaut_tier(tmp_path_factory: pytest.TempPathFactory, detector) -> tuple[Path, Path]:
    """A tier of one person: the astronaut, mirrored and shifted."""
    root = tmp_path_factory.mktemp("character")
    return make_reference_tier(
        root, [astronaut(), astronaut(mirror=True), astronaut(shift=(30, -20))], detector
    )


def test_references_are_the_tiers_descriptors(astronaut_tier) -> None:
    references = load_references(*astronaut_tier)
    assert references.available and references.reason is None
    assert references.descriptors.shape == (3, 128)
    assert references.model == "dlib_face_recognition_resnet_model_v1"
    assert references.n_images == 3


def test_the_same_person_scores_higher_identity_than_others(astronaut_tier, detector) -> None:
    scorer = ImageScorer(detector, FakeTextScorer(), load_references(*astronaut_tier))
    images = [astronaut(scale=0.8), lfw_face(0), lfw_face(20), lfw_face(40)]
    scores = scorer.score(images, ["a woman"] * len(images))
    assert all(s.n_faces >= 1 and s.identity_reason is None for s in scores)
    own, *others = (s.identity for s in scores)
    assert own > max(others)
    assert own > 0.9  # dlib: copies of one photo are near 1


def test_quality_and_adherence_reuse_their_definitions(astronaut_tier, detector) -> None:
    scorer = ImageScorer(detector, FakeTextScorer(), load_references(*astronaut_tier))
    photo = astronaut(scale=0.8)
    (score,) = scorer.score([photo], ["a woman"])
    sharpness, contrast = quality.measure(photo)
    assert (score.sharpness, score.contrast) == (sharpness, contrast)
    expected = quality.quality_score(
        quality.sharpness_score(sharpness),
        quality.contrast_score(contrast),
        quality.face_score(score.face_confidence),
    )
    assert score.quality_score == pytest.approx(expected)
    assert score.face_score > 0
    assert score.adherence == pytest.approx(np.mean(photo) / 255)


def test_an_image_without_a_face_is_counted_not_a_crash(astronaut_tier, detector) -> None:
    scorer = ImageScorer(detector, FakeTextScorer(), load_references(*astronaut_tier))
    empty, photo = scorer.score([blank(), astronaut()], ["a woman", "a woman"])
    assert (empty.n_faces, empty.identity, empty.identity_reason) == (0, None, NO_FACE)
    assert empty.face_confidence is None and empty.face_score == 0
    assert photo.identity is not None


def test_a_tier_without_descriptors_records_why(tmp_path: Path, detector) -> None:
    faces, tier = make_reference_tier(tmp_path, [blank(), blank(120)], detector)
    references = load_references(faces, tier)
    assert not references.available
    assert "none of the 2 images of tier_1 has a face descriptor" in references.reason
    scorer = ImageScorer(detector, FakeTextScorer(), references)
    assert scorer.unavailable == NO_REFERENCES
    (score,) = scorer.score([astronaut()], ["a woman"])
    assert score.n_faces == 1 and score.face_confidence is not None
    assert (score.identity, score.identity_reason) == (None, NO_REFERENCES)


def test_other_descriptor_models_and_no_descriptors(astronaut_tier, detector) -> None:
    refs = load_references(*astronaut_tier)
    other = References(refs.descriptors, "arcface_r100", refs.n_images, None)
    assert ImageScorer(detector, FakeTextScorer(), other).unavailable == DESCRIPTOR_MISMATCH
    from charfolio.faces import create_face_detector

    no_descriptors = create_face_detector({"backend": "dlib", "descriptors": False})
    scorer = ImageScorer(no_descriptors, FakeTextScorer(), refs)
    (score,) = scorer.score([astronaut()], ["a woman"])
    assert (score.n_faces, score.identity, score.identity_reason) == (1, None, DESCRIPTORS_OFF)


def test_bad_inputs(astronaut_tier, detector, tmp_path: Path) -> None:
    scorer = ImageScorer(detector, FakeTextScorer(), load_references(*astronaut_tier))
    with pytest.raises(ValueError, match="2 images but 1 descriptions"):
        scorer.score([blank(), blank()], ["a woman"])
    assert scorer.score([], []) == []
    with pytest.raises(FileNotFoundError, match="run the build_tier rule"):
        load_references(astronaut_tier[0], tmp_path / "tier_99")
    with pytest.raises(ValueError, match="quality weights"):
        ImageScorer(detector, FakeTextScorer(), load_references(*astronaut_tier), {"sharpness": 1})
