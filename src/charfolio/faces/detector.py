"""The face-detector protocol and its registry (keyed by `faces.backend` in config).

A detector is created once per job (its models load once) and then sees every image of
the job. `detect` finds all faces with a confidence in [0, 1]; `describe` adds landmarks
and the identity descriptor of one face (the pipeline asks only for the main face, since
a descriptor costs far more than detection on CPU).

The `faces` config section, as the backends read it (absent keys take these defaults):

    backend: dlib                 # dlib (offline default) | insightface (production)
    min_confidence: 0.5           # detections below this confidence are not faces
    descriptors: true             # compute the main face's identity descriptor
    dlib: {upsample: 1, models_dir: null}
    insightface: {model_root: insightface, name: buffalo_l, det_size: 640, ctx_id: 0}
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

DEFAULT_MIN_CONFIDENCE = 0.5


@dataclass(frozen=True, eq=False)  # eq would compare descriptor arrays elementwise
class Face:
    """One detected face, in pixel coordinates of the (EXIF-oriented) RGB image.

    `box` is (x0, y0, x1, y1) with x1/y1 exclusive; it may extend past the image border,
    which is how a face cut by the frame shows. `confidence` is in [0, 1]; `score` is the
    backend's raw value (dlib's SVM margin, InsightFace's det_score).
    """

    box: tuple[float, float, float, float]
    confidence: float
    score: float
    landmarks: tuple[tuple[float, float], ...] | None = None
    descriptor: np.ndarray | None = None

    @property
    def area(self) -> float:
        x0, y0, x1, y1 = self.box
        return max(0.0, x1 - x0) * max(0.0, y1 - y0)


class FaceDetector(Protocol):
    name: str
    descriptor_model: str | None  # None when descriptors are off

    def detect(self, rgb: np.ndarray) -> list[Face]:
        """All faces in an HxWx3 uint8 RGB image with confidence >= the configured minimum."""
        ...

    def describe(self, rgb: np.ndarray, face: Face) -> Face:
        """`face` with landmarks and (when enabled) its descriptor filled in."""
        ...


DetectorFactory = Callable[[Mapping[str, Any], str | None], FaceDetector]
_REGISTRY: dict[str, DetectorFactory] = {}
# Backends import heavy libraries (dlib, onnxruntime): import a backend's module on first use.
_MODULES = {
    "dlib": "charfolio.faces.dlib_backend",
    "insightface": "charfolio.faces.insightface_backend",
}


def register_face_detector(name: str) -> Callable[[DetectorFactory], DetectorFactory]:
    def wrap(factory: DetectorFactory) -> DetectorFactory:
        _REGISTRY[name] = factory
        return factory

    return wrap


def create_face_detector(faces: Mapping[str, Any], model_cache: str | None = None) -> FaceDetector:
    """Build (and load the models of) the detector named by `faces['backend']`."""
    name = faces.get("backend", "dlib")
    if name not in _REGISTRY and name in _MODULES:
        importlib.import_module(_MODULES[name])
    if name not in _REGISTRY:
        raise ValueError(f"unknown faces backend {name!r}; use one of {sorted(_MODULES)}")
    return _REGISTRY[name](faces, model_cache)
