"""Per-category aggregates and the checkpoint ranking, on scripted scores."""

from __future__ import annotations

from typing import Any

import pytest

from charfolio.evaluate import rank_checkpoints, rank_scores, summarize
from charfolio.evaluate.ranking import ALL, check_ranking_weights


def overall(lora: str, checkpoint: str, epoch: int | None, **metrics: float | None) -> dict:
    row: dict[str, Any] = {"lora": lora, "checkpoint": checkpoint, "epoch": epoch}
    row.update({"identity": 0.5, "face_rate": 0.5, "adherence": 0.5, "quality": 0.5})
    row.update(metrics)
    return row


def image(checkpoint: str, category: str, *, faces: int = 1, identity: float | None = 0.9,
          adherence: float = 0.6, quality: float = 0.5, reason: str | None = None) -> dict:  # fmt: skip
    epoch = int(checkpoint.split("-")[1]) if checkpoint.startswith("epoch") else None
    return {
        "lora": "p/tier_10", "preset": "p", "tier": 10, "checkpoint": checkpoint,
        "epoch": epoch, "final": checkpoint == "final", "category": category,
        "n_faces": faces, "identity": identity, "identity_reason": reason,
        "adherence": adherence, "quality_score": quality,
    }  # fmt: skip


def test_rank_scores() -> None:
    assert rank_scores([0.1, 0.3, 0.2]) == [0.0, 1.0, 0.5]
    assert rank_scores([0.2, 0.2, 0.1]) == [0.75, 0.75, 0.0]  # ties share their mean
    assert rank_scores([None, 0.4, 0.1]) == [0.0, 1.0, 0.5]  # missing ranks last
    assert rank_scores([0.3]) == [1.0] and rank_scores([None]) == [0.0]
    assert rank_scores([0.1 + 0.2, 0.3]) == [0.5, 0.5]  # equal to 6 decimals is a tie


def test_the_ranking_follows_the_weighted_rank_scores() -> None:
    rows = [
        overall("a", "epoch-0001", 1, identity=0.80, face_rate=0.9, adherence=0.60, quality=0.5),
        overall("a", "epoch-0002", 2, identity=0.90, face_rate=0.8, adherence=0.62, quality=0.4),
        overall("a", "epoch-0003", 3, identity=0.85, face_rate=1.0, adherence=0.55, quality=0.6),
    ]
    ranked = rank_checkpoints(rows)  # identity 0.4, face rate 0.2, adherence 0.2, quality 0.2
    # epoch 2: 0.4*1 + 0.2*0 + 0.2*1 + 0.2*0 = 0.6; epoch 3: 0.4*.5 + .2 + 0 + .2 = 0.6;
    # epoch 1: 0.4*0 + 0.2*0.5 + 0.2*0.5 + 0.2*0.5 = 0.3. Tie 2/3: higher identity wins.
    assert [(r["checkpoint"], r["rank"]) for r in ranked] == [
        ("epoch-0002", 1), ("epoch-0003", 2), ("epoch-0001", 3),
    ]  # fmt: skip
    assert [r["score"] for r in ranked] == pytest.approx([0.6, 0.6, 0.3])
    assert ranked[0]["identity_rank_score"] == 1.0
    by_quality = rank_checkpoints(rows, {"quality": 1.0})
    assert [r["checkpoint"] for r in by_quality] == ["epoch-0003", "epoch-0001", "epoch-0002"]
    assert by_quality[0]["metrics_used"] == ["quality"]


def test_full_ties_keep_lora_and_epoch_order() -> None:
    rows = [
        overall("a", "epoch-0001", 1),
        overall("a", "epoch-0002", 2),
        overall("b", "final", None),
    ]
    assert [(r["lora"], r["checkpoint"]) for r in rank_checkpoints(rows)] == [
        ("a", "epoch-0001"), ("a", "epoch-0002"), ("b", "final"),
    ]  # fmt: skip
    first = rank_checkpoints(rows[::-1])[0]
    assert (first["lora"], first["checkpoint"]) == ("b", "final")


def test_missing_identity_everywhere_leaves_it_out() -> None:
    rows = [
        overall("a", "epoch-0001", 1, identity=None, quality=0.9),
        overall("a", "epoch-0002", 2, identity=None, quality=0.1),
    ]
    ranked = rank_checkpoints(rows)
    assert ranked[0]["checkpoint"] == "epoch-0001"
    assert ranked[0]["metrics_used"] == ["face_rate", "adherence", "quality"]
    # face rate and adherence tie at 0.5 each: 0.2*(0.5 + 0.5 + 1) / 0.6
    assert ranked[0]["score"] == pytest.approx(2 / 3)


def test_a_checkpoint_without_faces_loses_identity() -> None:
    rows = [
        overall("a", "epoch-0001", 1, identity=None, face_rate=0.0),
        overall("a", "epoch-0002", 2, identity=0.2, face_rate=0.1),
    ]
    assert rank_checkpoints(rows)[0]["checkpoint"] == "epoch-0002"


def test_bad_weights() -> None:
    with pytest.raises(ValueError, match="ranking_weights must map some of"):
        check_ranking_weights({"beauty": 1.0})
    with pytest.raises(ValueError, match="ranking_weights must map"):
        check_ranking_weights({"identity": -1.0})
    with pytest.raises(ValueError, match="are all 0"):
        check_ranking_weights({"identity": 0.0})
    assert check_ranking_weights({"identity": 2}) == {
        "identity": 2.0, "face_rate": 0.0, "adherence": 0.0, "quality": 0.0,
    }  # fmt: skip


def test_summaries_per_category_and_overall() -> None:
    rows = [
        image("epoch-0002", "close_up", identity=0.9, adherence=0.6),
        image("epoch-0002", "close_up", identity=0.7, adherence=0.8),
        image("epoch-0002", "full_body", faces=0, identity=None, reason="no_face", quality=0.1),
        image("epoch-0002", "full_body", identity=0.5),
        image("epoch-0001", "close_up", faces=0, identity=None, reason="no_face"),
        image("epoch-0001", "full_body", faces=0, identity=None, reason="no_face"),
    ]
    summary = summarize(rows, ["close_up", "full_body"])
    assert [(r["checkpoint"], r["category"]) for r in summary] == [
        ("epoch-0001", "close_up"), ("epoch-0001", "full_body"), ("epoch-0001", ALL),
        ("epoch-0002", "close_up"), ("epoch-0002", "full_body"), ("epoch-0002", ALL),
    ]  # fmt: skip
    close, full, total = summary[3:]
    assert (close["n_images"], close["n_faces"], close["face_rate"]) == (2, 2, 1.0)
    assert close["identity"] == pytest.approx(0.8) and close["adherence"] == pytest.approx(0.7)
    assert (full["face_rate"], full["identity"], full["identity_images"]) == (0.5, 0.5, 1)
    assert full["quality"] == pytest.approx(0.3)
    # "all" averages the categories, not the images
    assert total["identity"] == pytest.approx(0.65) and total["face_rate"] == pytest.approx(0.75)
    assert total["n_images"] == 4 and total["identity_images"] == 3
    assert summary[2]["identity"] is None and summary[2]["identity_reason"] == "no_face"
    assert summary[2]["face_rate"] == 0.0


def test_a_run_wide_reason_wins_over_no_face() -> None:
    rows = [
        image("epoch-0001", "close_up", faces=0, identity=None, reason="no_references"),
        image("epoch-0001", "close_up", identity=None, reason="no_references"),
    ]
    (close, total) = summarize(rows, ["close_up"])
    assert close["identity_reason"] == total["identity_reason"] == "no_references"
    with pytest.raises(ValueError, match=r"categories \['close_up'\] not in the suite"):
        summarize(rows, ["medium"])
