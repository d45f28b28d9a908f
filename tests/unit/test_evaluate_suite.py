"""The checkpoint report's prompt suite: deterministic, per category, trigger token first."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from charfolio.core.config import ConfigError, load_character, validate
from charfolio.evaluate import SUITE_CATEGORIES, build_suite, make_suite, read_suite, write_suite
from charfolio.evaluate.suite import FRAMING, LIGHTS, SCENES, max_prompts_per_category

REPO = Path(__file__).resolve().parents[2]


def test_same_settings_give_the_same_suite_and_another_seed_another() -> None:
    first = build_suite("nova", "woman", per_category=10, seed=9000)
    assert first == build_suite("nova", "woman", per_category=10, seed=9000)
    other = build_suite("nova", "woman", per_category=10, seed=9001)
    assert [p.prompt for p in first] != [p.prompt for p in other]


def test_category_counts_ids_and_seeds() -> None:
    suite = build_suite("nova", "woman", per_category=10)
    assert Counter(p.category for p in suite) == dict.fromkeys(SUITE_CATEGORIES, 10)
    assert [p.category for p in suite[::10]] == list(SUITE_CATEGORIES)  # config order, grouped
    assert len({p.prompt_id for p in suite}) == len(suite) == 50
    assert suite[0].prompt_id == "close_up_01" and suite[-1].prompt_id == "complex_background_10"
    assert len({p.seed for p in suite}) == 50
    assert [p.seed for p in suite[:3]] == [9000, 9001, 9002]
    assert suite[10].seed == 10000  # medium's block


def test_prompts_lead_with_token_and_vary_the_scene() -> None:
    suite = build_suite("nova", "woman", per_category=10)
    for p in suite:
        assert p.prompt.startswith(f"nova woman, {FRAMING[p.category]}, ")
        assert p.description == "a woman" + p.prompt.removeprefix("nova woman")
        assert "nova" not in p.description
    for category in SUITE_CATEGORIES:
        scenes = [p.prompt.split(", ")[-2] for p in suite if p.category == category]
        assert len(set(scenes)) == 10  # 12 scenes: none repeats in 10 prompts
        assert {p.prompt.split(", ")[-1] for p in suite if p.category == category} <= set(LIGHTS)


def test_every_pair_is_distinct_up_to_the_limit() -> None:
    limit = max_prompts_per_category("full_body")
    assert limit == len(SCENES["full_body"]) * len(LIGHTS)
    suite = build_suite("nova", "woman", ["full_body"], per_category=limit)
    assert len({p.prompt for p in suite}) == limit
    with pytest.raises(ValueError, match=r"prompts_per_category is 97; use 1 to 96"):
        build_suite("nova", "woman", ["full_body"], per_category=limit + 1)


def test_a_category_keeps_its_prompts_when_others_change() -> None:
    full = build_suite("nova", "woman", per_category=4)
    alone = build_suite("nova", "woman", ["full_body", "close_up"], per_category=4)
    assert alone[:4] == [p for p in full if p.category == "full_body"]
    assert alone[4:] == [p for p in full if p.category == "close_up"]


def test_the_demo_character_file() -> None:
    character = load_character(REPO / "config" / "characters" / "demo.yaml")
    suite = build_suite(character.token, character.class_word, per_category=2)
    assert suite[0].prompt.startswith("nova woman, close-up portrait")


def test_parquet_round_trip(tmp_path: Path) -> None:
    evaluation = {"categories": ["medium", "close_up"], "prompts_per_category": 3, "seed": 5}
    suite = make_suite(tmp_path / "suite.parquet", "nova", "woman", evaluation)
    assert [p.category for p in suite] == ["medium"] * 3 + ["close_up"] * 3
    assert read_suite(tmp_path / "suite.parquet") == suite


def test_bad_inputs_name_the_key(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"evaluation.categories: unknown \['portrait'\]"):
        build_suite("nova", "woman", ["portrait"])
    with pytest.raises(ValueError, match="lists a category twice"):
        build_suite("nova", "woman", ["medium", "medium"])
    with pytest.raises(ValueError, match="prompts_per_category is 0"):
        build_suite("nova", "woman", per_category=0)
    with pytest.raises(ValueError, match="trigger token and class word"):
        build_suite(" ", "woman")
    write_suite(tmp_path / "empty.parquet", [])
    with pytest.raises(ValueError, match=r"empty.parquet: the prompt suite is empty"):
        read_suite(tmp_path / "empty.parquet")


def test_unknown_category_is_a_schema_error() -> None:
    with pytest.raises(ConfigError) as info:
        validate({"evaluation": {"categories": ["close_up", "portrait"]}}, "config", "my.yaml")
    assert "evaluation.categories" in str(info.value) and "'portrait'" in str(info.value)
    with pytest.raises(ConfigError, match=r"evaluation\.ranking_weights"):
        validate({"evaluation": {"ranking_weights": {"beauty": 1}}}, "config", "my.yaml")
