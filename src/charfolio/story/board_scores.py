"""A storyboard's evaluation: identity consistency, prompt adherence and diversity.

- Identity consistency: the main face of every frame, described by the configured face
  backend (dlib offline, InsightFace in production), compared by cosine similarity, frame 1
  against the others and all pairs (charfolio.metrics). Frames without a face are listed,
  not fatal. Values compare only within one face backend (see metrics.py).
- Prompt adherence: CLIP text-image agreement of each frame with its description, on [0, 1].
- Diversity: mean pairwise cosine distance of the frames' CLIP image embeddings (0 = all
  alike); a storyboard should vary its shots while its face stays the same.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from PIL import Image

from charfolio.core.atomic import write_text_atomic
from charfolio.faces.detector import FaceDetector
from charfolio.metrics import diversity, identity_scores
from charfolio.story.frames import StoryError


class ImageTextScorer(Protocol):
    """charfolio.embed.text_image.TextImageScorer."""

    def score(self, images: Sequence[np.ndarray], texts: Sequence[str]) -> np.ndarray: ...

    def embed_images(self, images: Sequence[np.ndarray]) -> np.ndarray: ...


def read_storyboard(path: str | os.PathLike[str]) -> dict[str, Any]:
    path = Path(path)
    try:
        summary = json.loads(path.read_text(encoding="utf-8"))
        summary["frames"][0]["file"]
    except (OSError, ValueError, KeyError, IndexError, TypeError) as error:
        raise StoryError(
            f"{path}: not a readable storyboard.json ({error!r}); rerun the rule that renders it"
        ) from error
    return summary


def _load_frames(folder: Path, summary: dict[str, Any]) -> list[np.ndarray]:
    images = []
    for entry in summary["frames"]:
        path = folder / entry["file"]
        try:
            with Image.open(path) as image:
                images.append(np.asarray(image.convert("RGB"), dtype=np.uint8))
        except OSError as error:
            raise StoryError(
                f"{path}: frame {entry['frame']} cannot be read ({error}); rerun the rule that "
                f"renders {folder}"
            ) from error
    return images


def _mean(values: Sequence[float]) -> float | None:
    return float(np.mean(values)) if len(values) else None


def evaluate_storyboard(
    storyboard: str | os.PathLike[str],
    out: str | os.PathLike[str],
    detector: FaceDetector,
    scorer: ImageTextScorer,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Evaluate the storyboard whose storyboard.json is `storyboard`; write `out` (JSON)."""
    summary = read_storyboard(storyboard)
    folder = Path(storyboard).parent
    images = _load_frames(folder, summary)
    descriptions = [entry["description"] for entry in summary["frames"]]
    identity = identity_scores(images, detector)
    adherence = [float(s) for s in scorer.score(images, descriptions)]
    threshold = summary["threshold"]
    diverse = diversity(scorer.embed_images(images)) if len(images) > 1 else None
    faces = {f.index: f for f in identity.frames}
    frames = [
        {
            "frame": entry["frame"],
            "file": entry["file"],
            "n_faces": faces[i].n_faces,
            "face_confidence": faces[i].confidence,
            "face_box": list(faces[i].box) if faces[i].box is not None else None,
            "face_reason": faces[i].reason,
            "prompt_adherence": adherence[i],
            "passed": adherence[i] >= threshold,
        }
        for i, entry in enumerate(summary["frames"])
    ]
    result = {
        "character": summary["character"],
        "story": summary["story"],
        "mode": summary["mode"],
        "n_frames": len(images),
        "identity": {
            "face_backend": detector.name,
            "descriptor_model": detector.descriptor_model,
            "frames_with_face": len(images) - len(identity.missing),
            "frames_without_face": [i + 1 for i in identity.missing],  # frame numbers
            "first_frame_has_face": identity.first_frame_has_face,
            **{
                # Consistency.n_frames counts the frames compared: those with a face
                ("frames_compared" if key == "n_frames" else key): value
                for key, value in asdict(identity.consistency).items()
            },
        },
        "prompt_adherence": {
            "threshold": threshold,
            "mean": _mean(adherence),
            "min": min(adherence) if adherence else None,
            "passed": sum(f["passed"] for f in frames),
        },
        "diversity": diverse,
        "frames": frames,
    }
    result["identity"]["first_vs_rest"] = list(identity.consistency.first_vs_rest)
    write_text_atomic(out, json.dumps(result, indent=2) + "\n")
    c = identity.consistency
    log(
        f"evaluated {folder}: faces in {result['identity']['frames_with_face']}/{len(images)} "
        f"frames, frame 1 vs rest {_fmt(c.first_vs_rest_mean)}, all pairs "
        f"{_fmt(c.pairwise_mean)}; CLIP mean {_fmt(result['prompt_adherence']['mean'])}; "
        f"diversity {_fmt(diverse)}"
    )
    return result


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"
