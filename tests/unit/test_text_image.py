"""CLIP text-image agreement on the tiny random open_clip model (the real open_clip code)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from charfolio.core.config import ModelFileError
from charfolio.embed.text_image import TextImageScorer, create_text_image_scorer

TINY = {"model": "charfolio-tiny-vit", "pretrained": None}


@pytest.fixture(scope="module")
def scorer() -> TextImageScorer:
    return create_text_image_scorer(TINY)


def _images(n: int) -> list[np.ndarray]:
    return [
        np.random.default_rng(i).integers(0, 255, (64, 64, 3), dtype=np.uint8) for i in range(n)
    ]


def test_text_embeddings_are_unit_vectors_of_the_image_size(scorer: TextImageScorer) -> None:
    texts = scorer.embedder.embed_text(["a photo of a woman", "a red car"])
    assert texts.shape == (2, scorer.embedder.dim)
    np.testing.assert_allclose(np.linalg.norm(texts, axis=1), 1.0, rtol=1e-5)
    assert not np.allclose(texts[0], texts[1])  # different texts, different vectors


def test_scores_match_the_cosine(scorer: TextImageScorer) -> None:
    images = _images(3)
    scores = scorer.score(images, ["a photo of a woman"])
    assert scores.shape == (3,)
    cosine = scorer.embed_images(images) @ scorer.embedder.embed_text(["a photo of a woman"])[0]
    np.testing.assert_allclose(scores, (cosine + 1) / 2, atol=1e-5)


class _FixedEmbedder:
    """Embeds every image and text as given vectors: inputs whose scores are known."""

    model = "fixed"

    def __init__(self, images: np.ndarray, text: np.ndarray) -> None:
        self.images, self.text = images, text

    def embed(self, images: list[np.ndarray]) -> np.ndarray:
        return self.images[: len(images)]

    def embed_text(self, texts: list[str]) -> np.ndarray:
        return np.array([self.text] * len(texts))


def test_scores_stay_on_zero_one_where_rounding_overshoots() -> None:
    # Normalised in float64, this vector's cosine with itself rounds to 1 + 4e-16 and with
    # its opposite to -1 - 4e-16: the image that shows the text exactly scores 1, its
    # opposite 0, never outside [0, 1].
    vector = np.array([7.0, 19.0, 4.0, 9.0])
    scorer = TextImageScorer(_FixedEmbedder(np.array([vector, -vector]), vector))
    assert scorer.score(_images(2), ["a woman"]).tolist() == [1.0, 0.0]


def test_one_text_per_image_pairs_row_by_row(scorer: TextImageScorer) -> None:
    images = _images(2)
    paired = scorer.score(images, ["a woman", "a dog"])
    assert paired[0] == pytest.approx(scorer.score(images[:1], ["a woman"])[0], abs=1e-6)
    assert paired[1] == pytest.approx(scorer.score(images[1:], ["a dog"])[0], abs=1e-6)


def test_same_seed_same_scores() -> None:
    images = _images(2)
    first = create_text_image_scorer(TINY).score(images, ["a woman"])
    again = create_text_image_scorer(TINY).score(images, ["a woman"])
    np.testing.assert_array_equal(first, again)


def test_mismatched_counts_are_refused(scorer: TextImageScorer) -> None:
    with pytest.raises(ValueError, match="3 images but 2 texts"):
        scorer.score(_images(3), ["a", "b"])
    assert scorer.score([], ["a"]).shape == (0,)


def test_missing_and_pickle_weights_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ModelFileError, match=r"not found: clip\.safetensors.*charfolio models"):
        create_text_image_scorer({**TINY, "pretrained": "clip.safetensors"}, str(tmp_path))
    (tmp_path / "clip.pt").write_bytes(b"pickle")
    with pytest.raises(ModelFileError, match=r"pickle|safetensors"):
        create_text_image_scorer({**TINY, "pretrained": "clip.pt"}, str(tmp_path))
