"""Identity metrics on photos with known faces: the astronaut (one person) and LFW faces."""

from __future__ import annotations

import numpy as np
import pytest
from skimage import data, transform

from charfolio.metrics import (
    consistency,
    cosine_matrix,
    diversity,
    identity_scores,
    passes_prompt_adherence,
    prompt_adherence,
)

pytest.importorskip("dlib")


def _uint8(image: np.ndarray) -> np.ndarray:
    return np.clip(image * 255 if image.dtype.kind == "f" else image, 0, 255).astype(np.uint8)


def astronaut_variants() -> list[np.ndarray]:
    """The same person: the photo, mirrored, scaled to 80% and shifted by 40 px."""
    photo = data.astronaut()
    scaled = _uint8(transform.rescale(photo, 0.8, channel_axis=-1))
    shifted = np.roll(photo, (40, -30), axis=(0, 1))
    return [photo, photo[:, ::-1].copy(), scaled, shifted]


def lfw_face(index: int) -> np.ndarray:
    """An LFW face (25x25 grey) enlarged to 200 px with a border, as RGB."""
    grey = _uint8(transform.resize(data.lfw_subset()[index], (200, 200)))
    return np.pad(np.stack([grey] * 3, axis=-1), ((50, 50), (50, 50), (0, 0)), mode="edge")


@pytest.fixture(scope="module")
def detector():
    from charfolio.faces import create_face_detector

    return create_face_detector({"backend": "dlib"})


def test_same_person_scores_higher_than_different_people(detector) -> None:
    same = identity_scores(astronaut_variants(), detector)
    mixed = identity_scores([data.astronaut(), lfw_face(0), lfw_face(10), lfw_face(20)], detector)
    assert same.missing == () and mixed.missing == ()
    assert len(same.consistency.first_vs_rest) == 3
    assert same.consistency.first_vs_rest_min > mixed.consistency.first_vs_rest_mean
    assert same.consistency.pairwise_min > mixed.consistency.pairwise_mean
    # Every copy of the astronaut is closer to her than any other person is.
    assert min(same.consistency.first_vs_rest) > max(mixed.consistency.first_vs_rest)


def test_reference_descriptors_rank_frames(detector) -> None:
    reference = identity_scores([data.astronaut()], detector)
    assert reference.consistency.n_frames == 1 and reference.consistency.pairwise_mean is None
    face = detector.describe(data.astronaut(), detector.detect(data.astronaut())[0])
    report = identity_scores(
        [astronaut_variants()[1], lfw_face(40)], detector, reference_descriptors=[face.descriptor]
    )
    own, other = (f.reference_similarity for f in report.frames)
    assert own > other
    assert report.reference_min == pytest.approx(other)


def test_frames_without_a_face_are_reported(detector) -> None:
    blank = np.full((200, 200, 3), 128, np.uint8)
    variants = astronaut_variants()
    report = identity_scores([variants[0], blank, variants[1]], detector)
    assert report.missing == (1,)
    assert report.frames[1].reason == "no_face" and report.frames[1].n_faces == 0
    assert report.consistency.n_frames == 2
    no_anchor = identity_scores([blank, variants[0], variants[1]], detector)
    assert not no_anchor.first_frame_has_face
    assert no_anchor.consistency.first_vs_rest_mean is None
    assert no_anchor.consistency.pairwise_mean is not None  # the other frames still compare
    empty = identity_scores([blank], detector)
    assert empty.consistency.n_frames == 0 and empty.reference_mean is None


def test_consistency_of_known_vectors() -> None:
    scores = consistency(np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]]))
    assert scores.first_vs_rest == pytest.approx((1.0, 0.0))
    assert scores.first_vs_rest_mean == pytest.approx(0.5)
    assert scores.pairwise_min == pytest.approx(0.0)
    assert scores.pairwise_mean == pytest.approx(1 / 3)
    with pytest.raises(ValueError, match="zero or non-finite"):
        cosine_matrix(np.zeros((2, 3)))


def test_prompt_adherence_maps_cosine_to_unit_interval() -> None:
    images = np.array([[1.0, 0.0], [0.0, 2.0], [-3.0, 0.0]])
    scores = prompt_adherence(images, np.array([1.0, 0.0]))
    assert scores == pytest.approx([1.0, 0.5, 0.0])
    assert passes_prompt_adherence(scores).tolist() == [True, False, False]
    paired = prompt_adherence(images[:2], np.array([[1.0, 0.0], [0.0, 1.0]]))
    assert paired == pytest.approx([1.0, 1.0])
    with pytest.raises(ValueError, match="one per image"):
        prompt_adherence(images, np.ones((2, 2)))
    with pytest.raises(ValueError, match="differ in size"):
        prompt_adherence(images, np.ones(3))


def test_prompt_adherence_with_open_clip_towers() -> None:
    """The score takes open_clip's image and text embeddings as they come (tiny config)."""
    import open_clip
    import torch

    from charfolio.embed.open_clip_backend import add_plugin_model_configs

    add_plugin_model_configs()
    torch.manual_seed(0)
    model, _, _ = open_clip.create_model_and_transforms("charfolio-tiny-vit")
    tokenizer = open_clip.get_tokenizer("charfolio-tiny-vit")
    with torch.no_grad():
        image = model.encode_image(torch.rand(2, 3, 64, 64)).numpy()
        text = model.encode_text(tokenizer(["a photo", "a drawing"])).numpy()
    scores = prompt_adherence(image, text)
    # The towers' embeddings are not unit length: the score normalises them first.
    assert not np.allclose(np.linalg.norm(image, axis=1), 1.0)
    pairs = zip(image.astype(np.float64), text.astype(np.float64), strict=True)
    cosine = [i @ t / (np.linalg.norm(i) * np.linalg.norm(t)) for i, t in pairs]
    np.testing.assert_allclose(scores, (np.array(cosine) + 1) / 2, rtol=1e-12)


def test_default_threshold_retries_below_the_methodology_value() -> None:
    """specs/004 section 9: CLIP score on 0-1, threshold 0.70, "if lower, we retry"."""
    assert passes_prompt_adherence(np.array([0.69, 0.70, 0.71])).tolist() == [False, True, True]
    # through the score: cosines 0.38 and 0.42 are scores 0.69 and 0.71
    images = np.array([[0.38, np.sqrt(1 - 0.38**2)], [0.42, np.sqrt(1 - 0.42**2)]])
    scores = prompt_adherence(images, np.array([1.0, 0.0]))
    assert passes_prompt_adherence(scores).tolist() == [False, True]


def test_prompt_adherence_stays_on_unit_interval_where_rounding_overshoots() -> None:
    # Normalised in float64, this vector's cosine with itself rounds to 1 + 4e-16 and with
    # its opposite to -1 - 4e-16, so (cosine + 1) / 2 alone would leave [0, 1].
    vector = np.array([7.0, 19.0, 4.0, 9.0])
    scores = prompt_adherence(np.array([vector, -vector]), vector)
    assert scores.tolist() == [1.0, 0.0]


def test_diversity() -> None:
    assert diversity(np.array([[1.0, 0.0], [2.0, 0.0]])) == pytest.approx(0.0)
    assert diversity(np.array([[1.0, 0.0], [0.0, 1.0]])) == pytest.approx(1.0)
    assert diversity(np.array([[1.0, 0.0], [-1.0, 0.0], [1.0, 0.0]])) == pytest.approx(4 / 3)
    with pytest.raises(ValueError, match="at least two"):
        diversity(np.ones((1, 4)))
