"""Face validation: detector backends behind one protocol, and the one-face gate's table."""

from charfolio.faces.analyze import (
    MULTIPLE_FACES,
    NO_FACE,
    OK,
    PARTIAL_FACE,
    VERDICTS,
    FaceRules,
    analyze_faces,
    border_cut,
    classify,
    write_faces,
)
from charfolio.faces.detector import (
    Face,
    FaceDetector,
    create_face_detector,
    register_face_detector,
)

__all__ = [
    "MULTIPLE_FACES",
    "NO_FACE",
    "OK",
    "PARTIAL_FACE",
    "VERDICTS",
    "Face",
    "FaceDetector",
    "FaceRules",
    "analyze_faces",
    "border_cut",
    "classify",
    "create_face_detector",
    "register_face_detector",
    "write_faces",
]
