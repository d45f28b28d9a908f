"""Scores of one rendered image: identity, prompt adherence and quality.

- identity: the mean cosine similarity of the image's main (largest) face descriptor to
  every reference descriptor of the tier the LoRA was trained on (charfolio.metrics's
  reference similarity; the mean over references, not the best match, so one lucky
  look-alike among the references cannot carry a checkpoint). Compare values only within
  one face backend (dlib descriptors put different people at about 0.8-0.9).
  Missing, with a reason, when the image has no face (`no_face`), the tier has no
  descriptors (`no_references`), the configured backend computes none (`descriptors_off`)
  or the references come from another descriptor model (`descriptor_mismatch`).
- adherence: TextImageScorer, (cosine + 1) / 2 of the image and the prompt's description.
- quality: charfolio.quality's sharpness, contrast and face-confidence scores and their
  weighted score in [0, 1] (an image without a face gets face score 0, as in curation).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import pyarrow as pa

from charfolio import quality
from charfolio.core import tables
from charfolio.evaluate.references import References
from charfolio.faces.detector import FaceDetector
from charfolio.metrics import identity_scores

CHECKPOINT_SCORES = pa.schema(
    [
        pa.field("lora", pa.string(), nullable=False),  # {preset}/tier_{n}
        pa.field("preset", pa.string(), nullable=False),
        pa.field("tier", pa.int32(), nullable=False),
        pa.field("checkpoint", pa.string(), nullable=False),  # epoch-0001 ... or final
        pa.field("epoch", pa.int32(), nullable=True),  # null: a final LoRA unlike every epoch
        pa.field("final", pa.bool_(), nullable=False),  # the weights of the final LoRA
        pa.field("checkpoint_file", pa.string(), nullable=False),
        pa.field("checkpoint_sha256", pa.string(), nullable=False),
        pa.field("prompt_id", pa.string(), nullable=False),
        pa.field("category", pa.string(), nullable=False),
        pa.field("prompt", pa.string(), nullable=False),
        pa.field("description", pa.string(), nullable=False),
        pa.field("seed", pa.int64(), nullable=False),
        pa.field("file", pa.string(), nullable=False),  # relative to scores.parquet's folder
        pa.field("sha256", pa.string(), nullable=False),  # of the PNG
        pa.field("width", pa.int32(), nullable=False),
        pa.field("height", pa.int32(), nullable=False),
        pa.field("n_faces", pa.int32(), nullable=False),
        pa.field("face_confidence", pa.float64(), nullable=True),
        pa.field("identity", pa.float64(), nullable=True),  # mean cosine to the references
        pa.field("identity_reason", pa.string(), nullable=True),  # why identity is missing
        pa.field("adherence", pa.float64(), nullable=False),  # [0, 1]
        pa.field("sharpness", pa.float64(), nullable=False),
        pa.field("contrast", pa.float64(), nullable=False),
        pa.field("sharpness_score", pa.float64(), nullable=False),
        pa.field("contrast_score", pa.float64(), nullable=False),
        pa.field("face_score", pa.float64(), nullable=False),
        pa.field("quality_score", pa.float64(), nullable=False),
    ],
    metadata={"charfolio.table": "checkpoint_scores"},
)


def read_scores(path: str | os.PathLike[str]) -> pa.Table:
    return tables.read_table(path, CHECKPOINT_SCORES)


NO_FACE = "no_face"
NO_REFERENCES = "no_references"
DESCRIPTORS_OFF = "descriptors_off"
DESCRIPTOR_MISMATCH = "descriptor_mismatch"


class TextImageScoring(Protocol):
    """charfolio.embed.text_image.TextImageScorer, as used here."""

    model: str  # names the model and its weights, for the record

    def score(self, images: Sequence[np.ndarray], texts: Sequence[str]) -> np.ndarray: ...


@dataclass(frozen=True)
class ImageScore:
    n_faces: int
    face_confidence: float | None  # the main face's
    identity: float | None
    identity_reason: str | None  # why identity is missing
    adherence: float
    sharpness: float  # raw Laplacian variance
    contrast: float  # raw grey std
    sharpness_score: float  # 0-100
    contrast_score: float  # 0-100
    face_score: float  # 0-100
    quality_score: float  # [0, 1]


def identity_unavailable(detector: FaceDetector, references: References) -> str | None:
    """Why no image of this run can get an identity score, or None when they can."""
    if detector.descriptor_model is None:
        return DESCRIPTORS_OFF
    if not references.available:
        return NO_REFERENCES
    if references.model is not None and references.model != detector.descriptor_model:
        return DESCRIPTOR_MISMATCH
    return None


class ImageScorer:
    """Scores batches of RGB images; the models are loaded once by the caller."""

    def __init__(
        self,
        detector: FaceDetector,
        text_scorer: TextImageScoring,
        references: References,
        quality_weights: Mapping[str, float] | None = None,
    ) -> None:
        self.detector = detector
        self.text_scorer = text_scorer
        self.references = references
        self.weights = quality.check_weights(quality_weights or quality.DEFAULT_WEIGHTS)
        self.unavailable = identity_unavailable(detector, references)

    def _faces(self, images: Sequence[np.ndarray]) -> list[tuple[int, float | None, float | None]]:
        """(n_faces, main face confidence, identity) per image."""
        if self.unavailable is not None:  # detection only: no descriptor would be compared
            found = []
            for rgb in images:
                faces = self.detector.detect(rgb)
                main = max(faces, key=lambda f: f.area) if faces else None
                found.append((len(faces), None if main is None else main.confidence, None))
            return found
        report = identity_scores(images, self.detector, self.references.descriptors)
        return [(f.n_faces, f.confidence, f.reference_similarity) for f in report.frames]

    def score(self, images: Sequence[np.ndarray], descriptions: Sequence[str]) -> list[ImageScore]:
        """One score per image; image i is scored against description i."""
        if len(images) != len(descriptions):
            raise ValueError(f"{len(images)} images but {len(descriptions)} descriptions")
        if not images:
            return []
        adherence = self.text_scorer.score(images, descriptions)
        scores = []
        for rgb, (n_faces, confidence, identity), adh in zip(
            images, self._faces(images), adherence, strict=True
        ):
            sharpness, contrast = quality.measure(rgb)
            s = quality.sharpness_score(sharpness)
            c = quality.contrast_score(contrast)
            f = quality.face_score(confidence)
            # A run-wide reason first: without references no image could have an identity.
            reason = self.unavailable or (NO_FACE if identity is None else None)
            scores.append(
                ImageScore(
                    n_faces=n_faces,
                    face_confidence=confidence,
                    identity=identity,
                    identity_reason=reason,
                    adherence=float(adh),
                    sharpness=sharpness,
                    contrast=contrast,
                    sharpness_score=s,
                    contrast_score=c,
                    face_score=f,
                    quality_score=quality.quality_score(s, c, f, self.weights),
                )
            )
        return scores
