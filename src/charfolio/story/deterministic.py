"""The deterministic splitter: a story's sentences become frames, padded or merged to a count.

The frame count is `story.stories.{name}.frames` when set, else the number of sentences
clamped to [min_frames, max_frames]. Then, always the same way for the same text:

1. Sentences (split after . ! ? ; and at line breaks) are the beats.
2. Too few beats: the longest beat that has a clause boundary (a comma, a dash, " and then ",
   " then ", " but ", " while ", " and ") with at least three words on either side is split
   there, at the boundary nearest its middle; repeated until the count is reached or no beat
   can split.
3. Still too few: beats get a second shot, in story order (beat 1, beat 2, ... then again
   with the next shot): "close-up", then "wide shot", "side view", "low angle", "from
   behind"; each extra shot follows its beat.
4. Too many beats: the adjacent pair with the fewest words together merges into
   "first, then second" (the earliest pair on ties), until the count is reached.

Frame 1 is then made establishing (front-facing, face clearly visible; see frames.py).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from charfolio.story.frames import StoryError, has_words

EXTRA_SHOTS = ("close-up", "wide shot", "side view", "low angle", "from behind")
MIN_CLAUSE_WORDS = 3
_SENTENCE_END = re.compile(r"(?<=[.!?;…])\s+|\s*\n+\s*")
_CLAUSE_BOUNDARY = re.compile(
    r"\s*(?:,|;|:| - | – | — )\s*(?:and then |then |and |but |so )?"
    r"|\s+(?:and then|then|but|while|and)\s+",
    re.IGNORECASE,
)
_LEADING_LINK = re.compile(r"^(?:and then|then|and|but|so|while)\s+", re.IGNORECASE)


def clean(beat: str) -> str:
    """One line, no surrounding punctuation or quotes, no leading "and"/"then"."""
    text = " ".join(beat.split()).strip(" \t\"'“”‘’.,;:!?…-–—")
    return _LEADING_LINK.sub("", text)


def sentences(text: str) -> list[str]:
    beats = [clean(s) for s in _SENTENCE_END.split(text.strip())]
    return [b for b in beats if has_words(b)]


def frame_count(n_beats: int, frames: int | None, min_frames: int, max_frames: int) -> int:
    if min_frames > max_frames:
        raise StoryError(
            f"story.splitter.min_frames ({min_frames}) is above max_frames ({max_frames}); "
            f"make min_frames <= max_frames"
        )
    return frames if frames is not None else min(max(n_beats, min_frames), max_frames)


def _split_point(beat: str) -> tuple[str, str] | None:
    """The clause boundary nearest the middle with enough words either side, if any."""
    n_words = len(beat.split())
    best: tuple[float, str, str] | None = None
    for match in _CLAUSE_BOUNDARY.finditer(beat):
        left, right = clean(beat[: match.start()]), clean(beat[match.end() :])
        words_left, words_right = len(left.split()), len(right.split())
        if min(words_left, words_right) < MIN_CLAUSE_WORDS:
            continue
        off_centre = abs(words_left - n_words / 2)
        if best is None or off_centre < best[0]:  # strict: the earlier boundary wins ties
            best = (off_centre, left, right)
    return None if best is None else (best[1], best[2])


def _split_clauses(beats: list[str], target: int) -> list[str]:
    beats = list(beats)
    while len(beats) < target:
        splittable = [(i, p) for i, b in enumerate(beats) if (p := _split_point(b)) is not None]
        if not splittable:
            break
        i, (left, right) = max(splittable, key=lambda s: (len(beats[s[0]].split()), -s[0]))
        beats[i : i + 1] = [left, right]
    return beats


def _add_shots(beats: list[str], target: int) -> list[str]:
    extra: dict[int, list[str]] = {i: [] for i in range(len(beats))}
    for j in range(target - len(beats)):
        beat = j % len(beats)
        shot = EXTRA_SHOTS[(j // len(beats)) % len(EXTRA_SHOTS)]
        extra[beat].append(f"{shot}, {beats[beat]}")
    return [d for i, beat in enumerate(beats) for d in (beat, *extra[i])]


def _merge(beats: list[str], target: int) -> list[str]:
    beats = list(beats)
    while len(beats) > target:
        i = min(
            range(len(beats) - 1),
            key=lambda k: (len(beats[k].split()) + len(beats[k + 1].split()), k),
        )
        beats[i : i + 2] = [f"{beats[i]}, then {beats[i + 1]}"]
    return beats


def deterministic_split(
    text: str, frames: int | None = None, min_frames: int = 6, max_frames: int = 10
) -> list[str]:
    """The story's frame descriptions, in order (frame 1 not yet made establishing)."""
    beats = sentences(text)
    if not beats:
        raise StoryError(
            f"the story text {text[:60]!r} has no words; write the story as a few sentences"
        )
    target = frame_count(len(beats), frames, min_frames, max_frames)
    if len(beats) < target:
        beats = _add_shots(_split_clauses(beats, target), target)
    return _merge(beats, target)


def splitter_bounds(splitter: Mapping[str, Any]) -> tuple[int, int]:
    return int(splitter.get("min_frames", 6)), int(splitter.get("max_frames", 10))
