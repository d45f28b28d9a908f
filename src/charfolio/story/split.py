"""Split a configured story into frames with the configured backend; write frames.json.

`story.splitter.backend: deterministic` always gives the same frames for the same text
(see deterministic.py). `llama_cpp` asks a local GGUF model (see llama_split.py); when no
attempt gives valid frames, the deterministic frames are used and frames.json records why.
A missing model file or package is an error, not a fallback: it is a config problem.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import Any

from charfolio.story.deterministic import deterministic_split, frame_count, sentences
from charfolio.story.frames import StoryError, StoryFrames, has_words, number_frames, write_frames
from charfolio.story.llama_split import Completer, llama_split, open_llama

BACKENDS = ("deterministic", "llama_cpp")


def split_story(
    name: str,
    text: str,
    splitter: Mapping[str, Any],
    frames: int | None = None,
    model_cache: str | None = None,
    log: Callable[[str], None] = print,
    llm: Completer | None = None,
) -> StoryFrames:
    """The frames of story `name` (story.stories.{name}); `llm` replaces loading the GGUF."""
    if not has_words(text):
        raise StoryError(
            f"story.stories.{name}.text has no words ({text[:60]!r}); write the story as a "
            f"few sentences"
        )
    backend = splitter.get("backend", "deterministic")
    if backend not in BACKENDS:
        raise StoryError(f"story.splitter.backend: {backend!r} is not one of {BACKENDS}")
    min_frames, max_frames = int(splitter.get("min_frames", 6)), int(splitter.get("max_frames", 10))
    deterministic = deterministic_split(text, frames, min_frames, max_frames)
    if backend == "deterministic":
        log(f"story {name}: {len(deterministic)} frames from the deterministic splitter")
        return StoryFrames(name, text, number_frames(deterministic), backend, backend)

    settings = splitter.get("llama_cpp") or {}
    model = None
    if llm is None:
        llm, model = open_llama(settings, model_cache)
    n_frames = frame_count(len(sentences(text)), frames, min_frames, max_frames)
    allowed = range(frames, frames + 1) if frames is not None else range(min_frames, max_frames + 1)
    found, attempts = llama_split(llm, text, n_frames, allowed, settings, log)
    if found is not None:
        log(f"story {name}: {len(found)} frames from llama_cpp ({model})")
        return StoryFrames(
            name, text, number_frames(list(found)), backend, backend, model, None, tuple(attempts)
        )
    reason = (
        f"llama_cpp gave no valid frames in {len(attempts)} attempt(s); last: "
        f"{attempts[-1]['reason']}. Used the deterministic splitter instead"
    )
    log(f"story {name}: {reason}")
    return StoryFrames(
        name,
        text,
        number_frames(deterministic),
        "deterministic",
        backend,
        model,
        reason,
        tuple(attempts),
    )


def make_frames(
    name: str,
    story: Mapping[str, Any],
    splitter: Mapping[str, Any],
    out: str | os.PathLike[str],
    model_cache: str | None = None,
    log: Callable[[str], None] = print,
) -> StoryFrames:
    """Split `story` ({text, frames}) and write its frames.json atomically."""
    result = split_story(
        name, story["text"], splitter, story.get("frames"), model_cache=model_cache, log=log
    )
    write_frames(out, result)
    for frame in result.frames:
        log(f"  frame {frame.index}: {frame.description}")
    return result
