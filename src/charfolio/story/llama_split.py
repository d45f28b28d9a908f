"""The llama.cpp splitter: a local GGUF model writes "Frame N: ..." lines, which are validated.

The prompt is a few-shot completion (small GGUF models are base models): one example story
with its frames, then the story, its frame count and an open "Frame 1:". An attempt's
output is accepted when it has frames 1..n in order (n within the allowed count), each with
at least MIN_WORDS words, none repeated, none copied from the example, and each naming
something from the story (a content word of the story text). Otherwise the next attempt runs
with another sampling seed; after `max_attempts` the deterministic splitter's frames are used
and the reason is recorded in frames.json.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from charfolio.scenarios.llama import resolve_gguf
from charfolio.story.deterministic import clean

MIN_WORDS = 3
REPEAT_PENALTY = 1.1  # small models loop on their own lines without it
EXAMPLE_STORY = (
    "A knight leaves her castle at dawn. She rides through a dark forest and meets a wolf. "
    "She fights the wolf with her sword. At night she rests by a small fire."
)
EXAMPLE_FRAMES = (
    "the knight standing at the castle gate at dawn, front-facing, face clearly visible",
    "the knight riding her horse out through the castle gate, morning mist",
    "the knight riding through a dark forest, tall pine trees",
    "a grey wolf blocking the path in front of the knight",
    "the knight swinging her sword at the wolf, dramatic action",
    "the knight resting by a small camp fire at night, tired smile",
)
_FRAME_LINE = re.compile(r"^\s*\**\s*frame\s+(\d+)\s*\**\s*[:.)-]\s*(.*)$", re.IGNORECASE)
# Words of four letters or more that say nothing about a scene (content_words skips them).
_STOP_WORDS = frozenset(
    {"about", "after", "again", "also", "around", "away", "back", "been", "before", "being",
     "from", "have", "into", "just", "like", "more", "once", "only", "over", "same", "some",
     "still", "than", "that", "their", "them", "then", "there", "they", "this", "through",
     "until", "very", "were", "what", "when", "where", "which", "while", "with", "finally"}
)  # fmt: skip


class Completer(Protocol):
    """The part of llama_cpp.Llama used here (tests pass a stand-in)."""

    def create_completion(self, prompt: str, **kwargs: Any) -> dict[str, Any]: ...


def build_prompt(text: str, n_frames: int) -> str:
    example = "\n".join(f"Frame {i}: {d}" for i, d in enumerate(EXAMPLE_FRAMES, start=1))
    return (
        "Storyboards: each story is split into numbered frames, one picture per frame. "
        "Frame 1 shows the character's face clearly, front-facing.\n\n"
        f"Story ({len(EXAMPLE_FRAMES)} frames): {EXAMPLE_STORY}\n{example}\n\n"
        f"Story ({n_frames} frames): {' '.join(text.split())}\nFrame 1:"
    )


def content_words(text: str) -> set[str]:
    return {w for w in re.findall(r"[a-z]{4,}", text.lower()) if w not in _STOP_WORDS}


@dataclass(frozen=True)
class Verdict:
    descriptions: tuple[str, ...]
    reason: str | None  # None: accepted


def parse_frames(
    completion: str, story_text: str, allowed: range, truncated: bool = False
) -> Verdict:
    """Validate one completion (starting after the prompt's "Frame 1:")."""
    lines = ("Frame 1:" + completion).splitlines()
    if truncated:  # the last line was cut by max_tokens
        lines = lines[:-1]
    numbered = [(int(m[1]), clean(m[2])) for line in lines if (m := _FRAME_LINE.match(line))]
    descriptions = tuple(d for _, d in numbered)
    numbers = [n for n, _ in numbered]
    if numbers != list(range(1, len(numbers) + 1)):
        return Verdict(descriptions, f"frames numbered {numbers}, not 1..n in order")
    if len(numbers) not in allowed:
        return Verdict(
            descriptions,
            f"{len(numbers)} frames, expected {allowed.start}"
            + (f"-{allowed.stop - 1}" if len(allowed) > 1 else ""),
        )
    story_words = content_words(story_text)
    examples = {" ".join(e.lower().split()) for e in EXAMPLE_FRAMES}
    seen: set[str] = set()
    for number, description in numbered:
        key = " ".join(description.lower().split())
        if len(description.split()) < MIN_WORDS:
            return Verdict(descriptions, f"frame {number} has fewer than {MIN_WORDS} words")
        if key in examples:
            return Verdict(descriptions, f"frame {number} copies the prompt's example")
        if key in seen:
            return Verdict(descriptions, f"frame {number} repeats an earlier frame")
        if not content_words(description) & story_words:
            return Verdict(descriptions, f"frame {number} names nothing from the story")
        seen.add(key)
    return Verdict(descriptions, None)


def open_llama(settings: Mapping[str, Any], model_cache: str | None) -> tuple[Completer, str]:
    """The GGUF model of `story.splitter.llama_cpp`, loaded once, and its file name."""
    path = resolve_gguf(settings.get("model_path"), model_cache, "story.splitter", "deterministic")
    try:
        from llama_cpp import Llama
    except ImportError as err:
        raise ImportError(
            "story.splitter.backend: llama_cpp needs llama-cpp-python; install charfolio[llm] "
            "(with CMAKE_ARGS=-DGGML_NATIVE=OFF for a portable build) or set "
            "story.splitter.backend: deterministic"
        ) from err
    kwargs: dict[str, Any] = {
        "model_path": str(path),
        "n_ctx": settings.get("n_ctx", 4096),
        "n_gpu_layers": settings.get("n_gpu_layers", 0),
        "seed": settings.get("seed", 0),
        "verbose": False,
    }
    if settings.get("n_threads"):
        kwargs["n_threads"] = settings["n_threads"]
    return Llama(**kwargs), path.name


def llama_split(
    llm: Completer,
    text: str,
    n_frames: int,
    allowed: range,
    settings: Mapping[str, Any],
    log: Callable[[str], None] = print,
) -> tuple[tuple[str, ...] | None, list[dict[str, Any]]]:
    """(descriptions or None when every attempt failed, one record per attempt)."""
    prompt = build_prompt(text, n_frames)
    max_attempts = int(settings.get("max_attempts", 3))
    records: list[dict[str, Any]] = []
    for attempt in range(1, max_attempts + 1):
        seed = int(settings.get("seed", 0)) + attempt - 1
        out = llm.create_completion(
            prompt,
            max_tokens=int(settings.get("max_tokens", 600)),
            temperature=float(settings.get("temperature", 0.4)),
            repeat_penalty=REPEAT_PENALTY,
            seed=seed,
            stop=["\n\n", "\nStory"],
        )
        choice = out["choices"][0]
        verdict = parse_frames(
            choice["text"], text, allowed, truncated=choice.get("finish_reason") == "length"
        )
        records.append(
            {
                "attempt": attempt,
                "seed": seed,
                "accepted": verdict.reason is None,
                "reason": verdict.reason,
                "frames": list(verdict.descriptions),
            }
        )
        log(
            f"llama_cpp split attempt {attempt}/{max_attempts}: "
            + ("accepted" if verdict.reason is None else f"rejected ({verdict.reason})")
        )
        if verdict.reason is None:
            return verdict.descriptions, records
    return None, records
