"""What the ratings view rates: storyboard frames and checkpoint images.

Keys are paths relative to results/{character}/, as the ratings file records them. Boards
are found through their storyboard.json (written last, so a half-rendered board is not
listed); checkpoint images are the image files of each run's images/ folder.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from charfolio.core.layout import CharacterResults, board_name
from charfolio.review.files import MEDIA_TYPES


@dataclass(frozen=True)
class Rateable:
    file: str  # relative to results/{character}/
    group: str  # the board or checkpoint run it belongs to
    label: str  # frame number and description, or the image's name


def _relative(path: Path, root: Path) -> str:
    return path.relative_to(root).as_posix()


def _glob(pattern: str) -> list[Path]:
    """Path.glob of a pattern that may be absolute (a results root given as one)."""
    path = Path(pattern)
    anchor = Path(path.anchor)
    return sorted(
        anchor.glob(str(path.relative_to(anchor))) if path.is_absolute() else Path().glob(pattern)
    )


def board_frames(results: CharacterResults) -> list[Rateable]:
    root = Path(results.root)
    items = []
    patterns = (results.storyboard(board_name("*")), results.storyboard(board_name("*", "*")))
    for pattern in patterns:
        for path in _glob(pattern):
            board = _relative(path.parent, root)
            try:
                frames = json.loads(path.read_text(encoding="utf-8"))["frames"]
            except (OSError, ValueError, KeyError, TypeError):
                continue  # an unreadable board: nothing to rate on it
            for frame in frames:
                if not isinstance(frame, dict) or not isinstance(frame.get("file"), str):
                    continue
                label = f"frame {frame.get('frame', '?')}: {frame.get('description', '')}"
                items.append(Rateable(f"{board}/{frame['file']}", board, label.strip()))
    return items


def checkpoint_images(results: CharacterResults) -> list[Rateable]:
    root = Path(results.root)
    items = []
    for folder in _glob(results.checkpoint_images("*", "*")):
        if not folder.is_dir():
            continue
        for path in sorted(folder.iterdir()):
            if path.suffix.lower() in MEDIA_TYPES:
                items.append(
                    Rateable(_relative(path, root), _relative(folder.parent, root), path.name)
                )
    return items


def rateables(results: CharacterResults) -> list[Rateable]:
    return [*board_frames(results), *checkpoint_images(results)]
