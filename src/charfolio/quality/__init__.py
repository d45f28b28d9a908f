"""Image quality: raw measures where they mean the same for any input size, and scores.

- measures: the raw, unthresholded measures of one image (frame at the working scale, the
  main face on its own, noise, JPEG blocking, exposure, size);
- scores: the methodology's piecewise component scores and their weighted quality score;
- table: the quality stage, one QUALITY row per image.
"""

from charfolio.quality.measures import (
    DEFAULT_WORKING_RESOLUTION,
    Measures,
    exact_variance,
    measure,
    measure_image,
)
from charfolio.quality.scores import (
    CONTRAST_POINTS,
    DEFAULT_WEIGHTS,
    DEFECT_POINTS,
    FACE_POINTS,
    FACE_SHARPNESS_POINTS,
    SHARPNESS_POINTS,
    check_weights,
    contrast_score,
    defect_factor,
    face_score,
    piecewise,
    quality_score,
    sharpness_score,
)
from charfolio.quality.table import (
    MainFace,
    main_face,
    main_faces,
    score_images,
    score_quality_of_tables,
    write_quality,
)

__all__ = [
    "CONTRAST_POINTS",
    "DEFAULT_WEIGHTS",
    "DEFAULT_WORKING_RESOLUTION",
    "DEFECT_POINTS",
    "FACE_POINTS",
    "FACE_SHARPNESS_POINTS",
    "SHARPNESS_POINTS",
    "MainFace",
    "Measures",
    "check_weights",
    "contrast_score",
    "defect_factor",
    "exact_variance",
    "face_score",
    "main_face",
    "main_faces",
    "measure",
    "measure_image",
    "piecewise",
    "quality_score",
    "score_images",
    "score_quality_of_tables",
    "sharpness_score",
    "write_quality",
]
