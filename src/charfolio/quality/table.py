"""The quality stage: every image's raw measures and component scores, one QUALITY row each."""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import pyarrow as pa

from charfolio.core import tables
from charfolio.core.imaging import DEFAULT_MAX_PIXELS, map_images, read_rgb
from charfolio.core.progress import Progress
from charfolio.quality.measures import DEFAULT_WORKING_RESOLUTION, measure_image
from charfolio.quality.scores import (
    DEFAULT_WEIGHTS,
    check_weights,
    contrast_score,
    defect_factor,
    face_score,
    quality_score,
    sharpness_score,
)


@dataclass(frozen=True)
class MainFace:
    """What the quality stage needs of the faces table: the main face's confidence and box."""

    confidence: float | None
    box: tuple[float, float, float, float] | None


NO_FACE = MainFace(None, None)


def main_face(face_row: Mapping[str, Any]) -> MainFace:
    """The main (largest, listed first) face of a FACES row."""
    boxes = face_row.get("boxes")
    return MainFace(face_row.get("face_confidence"), tuple(boxes[0]) if boxes else None)


def main_faces(faces_path: str | os.PathLike[str]) -> dict[str, MainFace]:
    """file -> its main face, from faces.parquet."""
    faces = tables.read_table(faces_path, tables.FACES).select(["file", "face_confidence", "boxes"])
    return {row["file"]: main_face(row) for row in faces.to_pylist()}


def _measure_file(
    job: tuple[str, tuple[float, ...] | None], max_pixels: int, working_resolution: int
) -> dict[str, Any]:
    path, box = job
    read = read_rgb(path, max_pixels=max_pixels)
    if not read.ok:
        return {"detail": read.detail, "width": read.width, "height": read.height}
    measures = measure_image(read.array, box, working_resolution)
    return {**measures.as_row(), "width": read.width, "height": read.height}


def _one_thread() -> None:
    # Each worker is one core; OpenCV's own threads would oversubscribe the job's cores.
    cv2.setNumThreads(1)


def score_images(
    paths: Sequence[str],
    root: str | os.PathLike[str],
    faces: Mapping[str, MainFace],
    workers: int,
    log: Callable[[str], None] = print,
    *,
    weights: Mapping[str, float] | None = None,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    working_resolution: int = DEFAULT_WORKING_RESOLUTION,
) -> list[dict[str, Any]]:
    """One QUALITY row per image, in input order; each image decoded once, in `workers` processes.

    `faces` maps a file (as given in `paths`) to its main face from the faces table; a file
    that is absent has no face: face measures are null and the face score is 0.
    """
    weights = check_weights(weights or DEFAULT_WEIGHTS)
    root = Path(root)
    progress = Progress(len(paths), "quality", log)
    work = functools.partial(
        _measure_file, max_pixels=max_pixels, working_resolution=working_resolution
    )
    jobs = [(str(root / p), faces.get(p, NO_FACE).box) for p in paths]
    raw = map_images(work, jobs, workers, progress, _one_thread)
    rows = []
    for file, metrics in zip(paths, raw, strict=True):
        confidence = faces.get(file, NO_FACE).confidence
        row: dict[str, Any] = dict.fromkeys(tables.QUALITY.names)
        row.update(file=file, face_confidence=confidence)
        if "detail" in metrics:
            row.update(
                readable=False,
                reason="unreadable",
                reason_detail=metrics["detail"],
                width=metrics["width"],
                height=metrics["height"],
            )
        else:
            s = sharpness_score(metrics["sharpness"], metrics["face_sharpness"])
            c = contrast_score(metrics["contrast"])
            f = face_score(confidence)
            defects = defect_factor(metrics)
            row.update(
                metrics,
                readable=True,
                sharpness_score=s,
                contrast_score=c,
                face_score=f,
                defect_factor=defects,
                quality_score=quality_score(s, c, f, weights, defects),
            )
        rows.append(row)
    return rows


def write_quality(path: str | os.PathLike[str], rows: Sequence[Mapping[str, Any]]) -> pa.Table:
    return tables.write_table(path, rows, tables.QUALITY)


def score_quality_of_tables(
    image_tables: Sequence[str | os.PathLike[str]],
    root: str | os.PathLike[str],
    faces_path: str | os.PathLike[str],
    out_path: str | os.PathLike[str],
    *,
    weights: Mapping[str, float] | None = None,
    workers: int = 1,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    working_resolution: int = DEFAULT_WORKING_RESOLUTION,
    log: Callable[[str], None] = print,
) -> pa.Table:
    """The quality stage for a character: raw measures, component scores and weighted score."""
    rows = score_images(
        tables.image_files(image_tables), root, main_faces(faces_path), workers, log,
        weights=weights, max_pixels=max_pixels, working_resolution=working_resolution,
    )  # fmt: skip
    return write_quality(out_path, rows)
