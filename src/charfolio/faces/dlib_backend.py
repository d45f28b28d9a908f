"""The offline face backend: dlib's HOG detector, 5-point landmarks and ResNet descriptor.

The three models ship in the `face-recognition-models` package; they are found by path
(that package's `__init__` imports `pkg_resources`, which new setuptools no longer has).

Confidence. dlib's detector returns an SVM margin, not a probability: 0 is dlib's own
threshold and values run to about 2.5. Measured on photos shipped with scikit-image:
clear frontal faces score 1.0-2.3 (astronaut 1.1-1.5 at several scales, LFW faces 1.4-2.3),
a face blurred with sigma 1.7 scores 0.8, sigma 3 scores 0.2, a face a quarter out of frame
0.2, and non-faces dlib still reports (the patch and name tag on the astronaut's suit)
score up to 0.39. The logistic

    confidence = 1 / (1 + exp(-4 * (score - 0.45)))

puts 0.5 (the default minimum, as InsightFace's default det_thresh) just above those false
detections and below blurred faces, gives 0.9 at score 1.0 so clear frontal faces score
above 0.9 (astronaut 0.93-0.99), and maps dlib's own threshold 0 to 0.14. The detector
runs with dlib's threshold shifted to the score of `min_confidence`, so it returns exactly
the faces at or above it.
"""

from __future__ import annotations

import importlib.util
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from charfolio.core.config import ModelFileError
from charfolio.faces.detector import DEFAULT_MIN_CONFIDENCE, Face, register_face_detector

CONFIDENCE_CENTER = 0.45
CONFIDENCE_SLOPE = 4.0
SHAPE_PREDICTOR = "shape_predictor_5_face_landmarks.dat"
DESCRIPTOR_MODEL = "dlib_face_recognition_resnet_model_v1"


def dlib_confidence(score: float) -> float:
    """dlib's SVM margin as a confidence in [0, 1] (see the module docstring)."""
    return 1.0 / (1.0 + math.exp(-CONFIDENCE_SLOPE * (score - CONFIDENCE_CENTER)))


def dlib_score(confidence: float) -> float:
    """The SVM margin whose confidence is `confidence` (the inverse of `dlib_confidence`)."""
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"faces.min_confidence must be strictly between 0 and 1, got {confidence}")
    return CONFIDENCE_CENTER + math.log(confidence / (1.0 - confidence)) / CONFIDENCE_SLOPE


def face_recognition_models_dir() -> Path:
    """The models/ folder of the installed face-recognition-models, found without importing it."""
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise ModelFileError(
            "the dlib face models are not installed: `pip install face-recognition-models` "
            "(part of `pip install charfolio[faces]`), or set faces.dlib.models_dir to a folder "
            f"holding {SHAPE_PREDICTOR} and {DESCRIPTOR_MODEL}.dat"
        )
    return Path(next(iter(spec.submodule_search_locations))) / "models"


def _model_file(models_dir: Path, name: str) -> str:
    path = models_dir / name
    if not path.is_file():
        raise ModelFileError(
            f"dlib model {path} not found; reinstall face-recognition-models "
            "(`pip install --force-reinstall face-recognition-models`) or fix faces.dlib.models_dir"
        )
    return str(path)


class DlibFaceDetector:
    name = "dlib"

    def __init__(
        self,
        *,
        upsample: int = 1,
        min_confidence: float = DEFAULT_MIN_CONFIDENCE,
        descriptors: bool = True,
        models_dir: str | Path | None = None,
    ) -> None:
        import dlib

        models = Path(models_dir) if models_dir is not None else face_recognition_models_dir()
        # upsample 1 finds faces down to about 40 px (0 stops near 80 px) at 4x the time.
        self.upsample = upsample
        self.adjust_threshold = dlib_score(min_confidence)
        self._detector = dlib.get_frontal_face_detector()
        self._landmarks = dlib.shape_predictor(_model_file(models, SHAPE_PREDICTOR))
        self._encoder = (
            dlib.face_recognition_model_v1(_model_file(models, f"{DESCRIPTOR_MODEL}.dat"))
            if descriptors
            else None
        )
        self.descriptor_model = DESCRIPTOR_MODEL if descriptors else None
        self._rectangle = dlib.rectangle

    def detect(self, rgb: np.ndarray) -> list[Face]:
        rects, scores, _ = self._detector.run(rgb, self.upsample, self.adjust_threshold)
        # dlib rectangles are inclusive; +1 makes x1/y1 exclusive like the other backends.
        return [
            Face(
                box=(float(r.left()), float(r.top()), float(r.right() + 1), float(r.bottom() + 1)),
                confidence=dlib_confidence(score),
                score=float(score),
            )
            for r, score in zip(rects, scores, strict=True)
        ]

    def describe(self, rgb: np.ndarray, face: Face) -> Face:
        x0, y0, x1, y1 = (round(v) for v in face.box)
        shape = self._landmarks(rgb, self._rectangle(x0, y0, x1 - 1, y1 - 1))
        landmarks = tuple((float(p.x), float(p.y)) for p in shape.parts())
        descriptor = None
        if self._encoder is not None:
            vector = self._encoder.compute_face_descriptor(rgb, shape)
            descriptor = np.asarray(vector, dtype=np.float32)
        return Face(face.box, face.confidence, face.score, landmarks, descriptor)


@register_face_detector("dlib")
def create_dlib(faces: Mapping[str, Any], model_cache: str | None) -> DlibFaceDetector:
    options = faces.get("dlib") or {}
    return DlibFaceDetector(
        upsample=int(options.get("upsample", 1)),
        min_confidence=float(faces.get("min_confidence", DEFAULT_MIN_CONFIDENCE)),
        descriptors=bool(faces.get("descriptors", True)),
        models_dir=options.get("models_dir"),
    )
