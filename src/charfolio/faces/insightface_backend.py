"""The production face backend: InsightFace's buffalo_l pack (SCRFD detector, ArcFace).

The pack is read from a local model root laid out as InsightFace expects,
`<model_root>/models/<name>/*.onnx`; `model_root` is absolute or relative to the config's
`model_cache`. Nothing is downloaded here: FaceAnalysis would fetch a missing pack from
GitHub, which fails (or surprises) on an offline compute node, so a missing pack is an
error naming the folder and `charfolio models`. Only .onnx files are loaded.

det_score is already a probability in [0, 1], so it is the confidence as is; landmarks
are the 5 keypoints (eyes, nose, mouth corners); the descriptor is the 512-d L2-normalised
ArcFace embedding.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from charfolio.core.config import ModelFileError, resolve_model_file
from charfolio.faces.detector import DEFAULT_MIN_CONFIDENCE, Face, register_face_detector

DEFAULT_PACK = "buffalo_l"
_PREFERRED_PROVIDERS = ("CUDAExecutionProvider", "CPUExecutionProvider")


def locate_pack(model_root: str | Path, model_cache: str | None, name: str = DEFAULT_PACK) -> Path:
    """The model root holding `models/<name>/*.onnx`, or a ModelFileError saying how to get it."""
    root = resolve_model_file(model_root, model_cache, f"InsightFace model root for {name}")
    pack = root / "models" / name
    if not pack.is_dir() or not any(pack.glob("*.onnx")):
        raise ModelFileError(
            f"InsightFace model pack {pack} is missing or has no .onnx files. Fetch it on a node "
            f"with internet access with `charfolio models --config <your config>`, or unpack "
            f"{name}.zip there, or point faces.insightface.model_root at a folder that holds "
            f"models/{name}/."
        )
    return root


def onnx_providers(available: Sequence[str] | None = None) -> list[str]:
    """CUDA first when onnxruntime has it, then CPU."""
    if available is None:
        import onnxruntime

        available = onnxruntime.get_available_providers()
    return [p for p in _PREFERRED_PROVIDERS if p in available]


class InsightFaceDetector:
    name = "insightface"

    def __init__(
        self,
        *,
        model_root: Path,
        pack: str = DEFAULT_PACK,
        det_size: int = 640,
        ctx_id: int = 0,
        min_confidence: float = DEFAULT_MIN_CONFIDENCE,
        descriptors: bool = True,
    ) -> None:
        try:
            from insightface.app import FaceAnalysis
        except ImportError as exc:
            raise ImportError(
                f"faces.backend insightface needs `pip install insightface onnxruntime` "
                f"(or onnxruntime-gpu; part of charfolio[faces]): {exc}"
            ) from exc
        modules = ["detection", "recognition"] if descriptors else ["detection"]
        self._app = FaceAnalysis(
            name=pack, root=str(model_root), allowed_modules=modules, providers=onnx_providers()
        )
        if descriptors and "recognition" not in self._app.models:
            raise ModelFileError(
                f"{model_root / 'models' / pack} has no recognition model; "
                f"use the full {pack} pack or set faces.descriptors: false"
            )
        self._app.prepare(ctx_id=ctx_id, det_thresh=min_confidence, det_size=(det_size, det_size))
        self._descriptors = descriptors
        self.descriptor_model = f"insightface:{pack}" if descriptors else None

    def detect(self, rgb: np.ndarray) -> list[Face]:
        # InsightFace models take OpenCV's BGR order.
        bgr = np.ascontiguousarray(rgb[:, :, ::-1])
        faces = []
        for found in self._app.get(bgr):
            kps = found.kps
            embedding = found.normed_embedding if self._descriptors else None
            faces.append(
                Face(
                    box=tuple(float(v) for v in found.bbox[:4]),
                    confidence=float(found.det_score),
                    score=float(found.det_score),
                    landmarks=None if kps is None else tuple((float(x), float(y)) for x, y in kps),
                    descriptor=None if embedding is None else np.asarray(embedding, np.float32),
                )
            )
        return faces

    def describe(self, rgb: np.ndarray, face: Face) -> Face:
        # FaceAnalysis.get already ran the recognition model on every detected face.
        return face


@register_face_detector("insightface")
def create_insightface(faces: Mapping[str, Any], model_cache: str | None) -> InsightFaceDetector:
    options = faces.get("insightface") or {}
    pack = options.get("name", DEFAULT_PACK)
    return InsightFaceDetector(
        model_root=locate_pack(options.get("model_root", "insightface"), model_cache, pack),
        pack=pack,
        det_size=int(options.get("det_size", 640)),
        ctx_id=int(options.get("ctx_id", 0)),
        min_confidence=float(faces.get("min_confidence", DEFAULT_MIN_CONFIDENCE)),
        descriptors=bool(faces.get("descriptors", True)),
    )
