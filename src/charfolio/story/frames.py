"""A story's frame descriptions: the one file every storyboard mode of that story renders.

`frames.json` is written once per story by the splitter (deterministic or llama.cpp), so the
ablation's baseline, simple and reference_guided storyboards render identical descriptions
with identical seeds, and differ only in how they render.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from charfolio.core.atomic import write_text_atomic

# Frame 1 anchors identity (the methodology: "Frame 1 must show character's face clearly"):
# its description always carries these phrases, added where the splitter's text lacks them.
ESTABLISHING_PHRASES = ("front-facing", "face clearly visible")


class StoryError(ValueError):
    """A story that cannot be split, or a frames file that cannot be read; says what to fix."""


@dataclass(frozen=True)
class Frame:
    index: int  # 1-based, the storyboard's frame number
    description: str


@dataclass(frozen=True)
class StoryFrames:
    """The frames of one story and how they were made (backend, attempts, any fallback)."""

    story: str
    text: str
    frames: tuple[Frame, ...]
    backend: str  # the backend that made the frames: deterministic | llama_cpp
    requested_backend: str
    model: str | None = None  # the GGUF file name for llama_cpp
    fallback_reason: str | None = None  # why llama_cpp's output was not used
    attempts: tuple[dict[str, Any], ...] = field(default=())  # llama_cpp: per attempt verdicts

    @property
    def descriptions(self) -> list[str]:
        return [f.description for f in self.frames]


def establishing(description: str) -> str:
    """`description` with the establishing phrases frame 1 needs, each added once."""
    missing = [p for p in ESTABLISHING_PHRASES if p not in description.lower()]
    return ", ".join([description, *missing])


def number_frames(descriptions: list[str]) -> tuple[Frame, ...]:
    """Frames 1..n; frame 1 made establishing."""
    return tuple(
        Frame(i, establishing(d) if i == 1 else d) for i, d in enumerate(descriptions, start=1)
    )


def frame_prompt(
    token: str, class_word: str, description: str, extra_words: Sequence[str] = ()
) -> str:
    """The render prompt: the trigger token and class word lead, as in the training captions;
    the trigger words of any extra LoRAs follow the description."""
    return ", ".join([f"{token} {class_word}", description, *extra_words])


def has_words(text: str) -> bool:
    return re.search(r"[^\W_]", text) is not None


def write_frames(path: str | os.PathLike[str], frames: StoryFrames) -> None:
    record = asdict(frames)
    record["n_frames"] = len(frames.frames)
    write_text_atomic(path, json.dumps(record, indent=2, ensure_ascii=False) + "\n")


def read_frames(path: str | os.PathLike[str]) -> StoryFrames:
    path = Path(path)
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        frames = tuple(Frame(int(f["index"]), str(f["description"])) for f in raw["frames"])
        story = StoryFrames(
            story=raw["story"],
            text=raw["text"],
            frames=frames,
            backend=raw["backend"],
            requested_backend=raw["requested_backend"],
            model=raw.get("model"),
            fallback_reason=raw.get("fallback_reason"),
            attempts=tuple(raw.get("attempts") or ()),
        )
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise StoryError(
            f"{path}: not a readable frames file ({error!r}); delete it and rerun the "
            f"split_story rule"
        ) from error
    if [f.index for f in frames] != list(range(1, len(frames) + 1)) or not frames:
        raise StoryError(f"{path}: frames are not numbered 1..n; rerun the split_story rule")
    return story
