"""Identity consistency across frames (face descriptors) and prompt adherence (CLIP-like models).

Face consistency answers "is it the same face in every frame?": the main face of each frame
is described by the face backend and compared by cosine similarity, frame 1 against the
others (a storyboard is anchored on frame 1) and all pairs (any drift). Absolute values
depend on the descriptor model: InsightFace (ArcFace) puts the same person at about 0.5-0.9
and different people near 0, so >0.85 means "identical" as storyboard evaluations use it.
dlib's descriptors are not centred: different people still score about 0.8-0.9 (its own
same-person rule, distance < 0.6 between unit descriptors, is cosine > 0.82) and copies of
one photo 0.99. Compare scores only within one backend.

Prompt adherence is the "CLIP score" with threshold 0.70 of storyboard validation, defined
here as (cosine(image, text) + 1) / 2, which maps cosine's [-1, 1] onto [0, 1] without
clipping. Matching pairs on real CLIP models have cosines of about 0.25-0.35, i.e. scores of
about 0.63-0.68, so the 0.70 default is strict: calibrate it per model on known-good images.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from charfolio.faces.detector import Face, FaceDetector

PROMPT_ADHERENCE_THRESHOLD = 0.70


def _unit_rows(vectors: np.ndarray | Sequence[np.ndarray], what: str) -> np.ndarray:
    rows = np.atleast_2d(np.asarray(vectors, dtype=np.float64))
    if rows.ndim != 2:
        raise ValueError(
            f"{what} must be a vector or a 2-D array of vectors, got shape {rows.shape}"
        )
    norms = np.linalg.norm(rows, axis=1, keepdims=True)
    if np.any(norms == 0) or not np.all(np.isfinite(rows)):
        raise ValueError(f"{what} holds a zero or non-finite vector; cosine is undefined")
    return rows / norms


def cosine_matrix(a: np.ndarray, b: np.ndarray | None = None) -> np.ndarray:
    """Cosine similarities of the rows of `a` with the rows of `b` (default: `a` itself)."""
    left = _unit_rows(a, "embeddings")
    right = left if b is None else _unit_rows(b, "embeddings")
    if left.shape[1] != right.shape[1]:
        raise ValueError(f"embedding sizes differ: {left.shape[1]} vs {right.shape[1]}")
    return left @ right.T


@dataclass(frozen=True)
class Consistency:
    """Cosine similarities among frames' descriptors; None where fewer than two frames exist."""

    n_frames: int
    first_vs_rest: tuple[float, ...]  # frame 1 against frames 2..n, in order
    first_vs_rest_mean: float | None
    first_vs_rest_min: float | None
    pairwise_mean: float | None
    pairwise_min: float | None


def consistency(descriptors: np.ndarray | Sequence[np.ndarray]) -> Consistency:
    """Frame 1 against the others, and all pairs, of one descriptor per frame."""
    if len(descriptors) == 0:
        return Consistency(0, (), None, None, None, None)
    sims = cosine_matrix(np.asarray(descriptors))
    n = sims.shape[0]
    if n < 2:
        return Consistency(n, (), None, None, None, None)
    first = sims[0, 1:]
    pairs = sims[np.triu_indices(n, k=1)]
    return Consistency(
        n_frames=n,
        first_vs_rest=tuple(float(s) for s in first),
        first_vs_rest_mean=float(first.mean()),
        first_vs_rest_min=float(first.min()),
        pairwise_mean=float(pairs.mean()),
        pairwise_min=float(pairs.min()),
    )


def prompt_adherence(image_embeddings: np.ndarray, text_embeddings: np.ndarray) -> np.ndarray:
    """(cosine + 1) / 2 of each image with its text, in [0, 1] (see the module docstring).

    Row i of the images pairs with row i of the texts; a single text is used for all images.
    """
    images = _unit_rows(image_embeddings, "image embeddings")
    texts = _unit_rows(text_embeddings, "text embeddings")
    if texts.shape[0] not in (1, images.shape[0]):
        raise ValueError(
            f"{images.shape[0]} image embeddings but {texts.shape[0]} text embeddings; "
            f"give one text, or one per image"
        )
    if images.shape[1] != texts.shape[1]:
        raise ValueError(
            f"image and text embeddings differ in size ({images.shape[1]} vs {texts.shape[1]}); "
            f"use the same model's image and text towers"
        )
    cosine = np.sum(images * texts, axis=1)
    return np.clip((cosine + 1.0) / 2.0, 0.0, 1.0)  # clip: float error only


def passes_prompt_adherence(
    scores: np.ndarray, threshold: float = PROMPT_ADHERENCE_THRESHOLD
) -> np.ndarray:
    """Which scores reach `threshold` (a frame below it is regenerated)."""
    return np.asarray(scores) >= threshold


def diversity(embeddings: np.ndarray | Sequence[np.ndarray]) -> float:
    """Mean pairwise cosine distance (1 - cosine): 0 for identical images, about 1 for unrelated."""
    sims = cosine_matrix(np.asarray(embeddings))
    n = sims.shape[0]
    if n < 2:
        raise ValueError(f"diversity needs at least two embeddings, got {n}")
    return float(np.mean(1.0 - sims[np.triu_indices(n, k=1)]))


@dataclass(frozen=True)
class FrameFace:
    """The main (largest) face of one frame, or why there is none (`reason`)."""

    index: int
    n_faces: int
    confidence: float | None
    box: tuple[float, float, float, float] | None
    reason: str | None  # None | "no_face"
    reference_similarity: float | None = None  # mean cosine to the reference descriptors


@dataclass(frozen=True)
class IdentityReport:
    frames: tuple[FrameFace, ...]
    # Over the frames that have a face; first_vs_rest is empty when frame 1 has none, since
    # anchoring on another frame would measure something else.
    consistency: Consistency
    reference_mean: float | None  # mean of the frames' reference similarities
    reference_min: float | None
    missing: tuple[int, ...] = field(default=())  # indices of frames without a face

    @property
    def first_frame_has_face(self) -> bool:
        return bool(self.frames) and self.frames[0].reason is None


def _main_face(faces: Sequence[Face]) -> Face:
    # The largest face is the character; small background faces would dilute the score.
    return max(faces, key=lambda face: face.area)


def identity_scores(
    images: Sequence[np.ndarray],
    detector: FaceDetector,
    reference_descriptors: np.ndarray | Sequence[np.ndarray] | None = None,
) -> IdentityReport:
    """Face consistency of RGB frames, plus similarity to reference descriptors if given.

    A frame without a face is reported (reason "no_face", listed in `missing`) and left out
    of the scores; it never fails the other frames.
    """
    if detector.descriptor_model is None:
        raise ValueError(
            f"the {detector.name} face detector computes no descriptors; set "
            f"faces.descriptors: true to measure identity"
        )
    references = (
        None
        if reference_descriptors is None or len(reference_descriptors) == 0
        else np.asarray(reference_descriptors)
    )
    frames, descriptors = [], []
    for index, rgb in enumerate(images):
        faces = detector.detect(rgb)
        if not faces:
            frames.append(FrameFace(index, 0, None, None, "no_face"))
            continue
        face = detector.describe(rgb, _main_face(faces))
        if face.descriptor is None:
            raise ValueError(
                f"the {detector.name} detector returned no descriptor for frame {index}"
            )
        descriptors.append(face.descriptor)
        similarity = (
            None if references is None else float(cosine_matrix(face.descriptor, references).mean())
        )
        frames.append(FrameFace(index, len(faces), face.confidence, face.box, None, similarity))
    scores = consistency(descriptors)
    if frames and frames[0].reason is not None:
        scores = replace(scores, first_vs_rest=(), first_vs_rest_mean=None, first_vs_rest_min=None)
    to_reference = [f.reference_similarity for f in frames if f.reference_similarity is not None]
    return IdentityReport(
        frames=tuple(frames),
        consistency=scores,
        reference_mean=float(np.mean(to_reference)) if to_reference else None,
        reference_min=float(np.min(to_reference)) if to_reference else None,
        missing=tuple(f.index for f in frames if f.reason is not None),
    )
