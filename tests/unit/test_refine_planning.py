"""Targeted modifiers (valid scenarios aimed at the gaps) and the rounds' stopping arithmetic."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from charfolio.balance.targets import DOCUMENT_TARGETS, Range, gap, mix_gaps
from charfolio.core import tables
from charfolio.faces.shots import SHOT_PHRASES
from charfolio.refine.planning import (
    VOCABULARY,
    allocate,
    estimate_pass_rate,
    gap_needs,
    modifier_rows,
    needs_at_size,
    next_round_size,
    rounds_needed,
    should_stop,
    targeted_modifiers,
    write_targeted_scenarios,
)
from charfolio.scenarios.validation import categorize, normalise, validate_scenario


def test_modifiers_are_valid_scenarios_aimed_at_the_gaps() -> None:
    needs = {"full_body": 28, "wide": 5, "multi_character": 3}
    modifiers = targeted_modifiers(needs, 12)
    assert Counter(m.aim for m in modifiers) == {"full_body": 9, "wide": 2, "multi_character": 1}
    seen: set[str] = set()
    for m in modifiers:
        assert validate_scenario(m.text, seen) is None, m.text
        seen.add(normalise(m.text))
        assert m.category == categorize(m.text)
    for m in modifiers:
        if m.aim == "full_body":
            assert "full body" in m.text or "full length" in m.text
        if m.aim == "wide":
            assert "wide" in m.text or "long shot" in m.text


@pytest.mark.parametrize("aim", list(VOCABULARY))
def test_every_aim_writes_only_valid_lines(aim: str) -> None:
    modifiers = targeted_modifiers({aim: 1}, 40, seed=3)
    assert len(modifiers) == 40 and len({normalise(m.text) for m in modifiers}) == 40
    assert all(validate_scenario(m.text, set()) is None for m in modifiers)


def test_shot_aims_use_the_caption_phrases() -> None:
    for aim in ("close_up", "full_body", "wide"):
        framings = VOCABULARY[aim][0]
        assert any(SHOT_PHRASES[aim].split()[0] in f for f in framings)


def test_deterministic_seen_and_errors() -> None:
    first = targeted_modifiers({"wide": 2}, 5, seed=1)
    assert first == targeted_modifiers({"wide": 2}, 5, seed=1)
    assert first != targeted_modifiers({"wide": 2}, 5, seed=2)
    taken = {normalise(m.text) for m in first}
    later = targeted_modifiers({"wide": 2}, 5, seen=taken, seed=1)
    assert not taken & {normalise(m.text) for m in later}
    assert targeted_modifiers({}, 5) == []
    with pytest.raises(ValueError, match="no modifiers for"):
        targeted_modifiers({"portrait": 3}, 2)
    with pytest.raises(ValueError, match="ask for fewer per round"):
        targeted_modifiers({"wide": 1}, 10_000)


def test_from_gap_objects() -> None:
    gaps = mix_gaps({"close_up": 40, "medium": 10}, {}, 50, DOCUMENT_TARGETS)
    needs = gap_needs(gaps)
    assert needs["full_body"] == 17 and needs["wide"] == 3 and "close_up" not in needs
    modifiers = targeted_modifiers(gaps, 6)
    assert {m.aim for m in modifiers} <= set(needs)
    assert gap_needs([gap("wide", "shot_type", 5, 50, Range(0.05, 0.1))]) == {}


def test_allocate_largest_remainder() -> None:
    assert allocate({"a": 1, "b": 1, "c": 2}, 4) == {"a": 1, "b": 1, "c": 2}
    assert allocate({"a": 10, "b": 1}, 3) == {"a": 3, "b": 0}
    assert allocate({"a": 3, "b": 3}, 1) == {"a": 1, "b": 0}  # ties: name order
    assert sum(allocate({"a": 7, "b": 5, "c": 1}, 10).values()) == 10
    assert allocate({"a": 0}, 5) == {}
    with pytest.raises(ValueError):
        allocate({"a": 1}, -1)


def test_rows_fit_the_scenarios_table(tmp_path: Path) -> None:
    rows = modifier_rows(targeted_modifiers({"full_body": 1}, 3), start_index=10)
    table = tables.write_table(tmp_path / "s.parquet", rows, tables.SCENARIOS)
    assert table.column("index").to_pylist() == [10, 11, 12]
    assert set(table.column("model").to_pylist()) == {"targeted:full_body"}


def test_stop_and_round_arithmetic() -> None:
    assert not should_stop(69, 70) and should_stop(70, 70) and should_stop(90, 70)
    with pytest.raises(ValueError):
        should_stop(3, 0)
    assert rounds_needed(70, per_round=40, pass_rate=0.5) == 4  # 20 kept per round
    assert rounds_needed(70, per_round=40, pass_rate=0.5, curated=50) == 1
    assert rounds_needed(70, per_round=40, pass_rate=0.5, curated=70) == 0
    assert rounds_needed(30, per_round=10, pass_rate=0.3) == 10  # exactly 3 per round
    assert next_round_size(50, 70, pass_rate=0.4, max_per_round=100) == 50
    assert next_round_size(0, 70, pass_rate=0.4, max_per_round=100) == 100
    assert next_round_size(70, 70, pass_rate=0.4, max_per_round=100) == 0
    with pytest.raises(ValueError):
        rounds_needed(10, per_round=0, pass_rate=0.5)
    with pytest.raises(ValueError):
        next_round_size(0, 10, pass_rate=0.0, max_per_round=5)


def test_pass_rate_estimate() -> None:
    assert estimate_pass_rate(4, 0) == pytest.approx(5 / 14)  # not 0 after a bad first round
    assert estimate_pass_rate(1000, 300) == pytest.approx(305 / 1010)
    assert estimate_pass_rate(0, 0) == 0.5
    assert estimate_pass_rate(10, 3, prior_images=0) == pytest.approx(0.3)
    with pytest.raises(ValueError):
        estimate_pass_rate(3, 4)


def test_needs_at_size() -> None:
    counts = {"close_up": 30, "medium": 10, "full_body": 5, "wide": 0}
    assert needs_at_size(counts, 100, DOCUMENT_TARGETS.shot_types) == {
        "close_up": 0,
        "medium": 15,
        "full_body": 20,
        "wide": 5,
    }


def test_write_targeted_scenarios(tmp_path: Path) -> None:
    report = tmp_path / "balance.json"
    report.write_text(json.dumps({"needs": {"full_body": 10, "wide": 2}}))
    old = modifier_rows(targeted_modifiers({"full_body": 1}, 4, seed=0), start_index=0)
    tables.write_table(tmp_path / "scenarios.parquet", old, tables.SCENARIOS)
    table = write_targeted_scenarios(
        report, tmp_path / "round.parquet", 6, tmp_path / "scenarios.parquet", seed=0
    )
    rows = table.to_pylist()
    assert [r["index"] for r in rows] == [4, 5, 6, 7, 8, 9]
    assert not {normalise(r["text"]) for r in rows} & {normalise(r["text"]) for r in old}
    assert Counter(r["model"] for r in rows) == {"targeted:full_body": 5, "targeted:wide": 1}
    (tmp_path / "other.json").write_text("{}")
    with pytest.raises(ValueError, match="not a balance report"):
        write_targeted_scenarios(tmp_path / "other.json", tmp_path / "x.parquet", 2)
