"""A reviewer's decisions: the review file, how selection applies them, the preview, the audit."""

from __future__ import annotations

import hashlib
import random
from pathlib import Path

import pytest

from charfolio.catalog.audit import run_query
from charfolio.catalog.build import build_catalog
from charfolio.catalog.database import build_duckdb
from charfolio.curate import PRESETS, select
from charfolio.curate.decisions import (
    CheckedDecisions,
    Decision,
    ReviewFileError,
    check_decisions,
    read_decisions,
    update_decisions,
)
from charfolio.curate.review_preview import tier_changes
from charfolio.curate.reviews import stars_first
from charfolio.curate.selection import build_tiers
from charfolio.curate.selection_io import read_selection, select_files
from charfolio.curate.strategies import STRATEGIES, Candidate, rank

from .catalog_data import ALICE, image_file, image_sha256, make_character

HEADER = "file,decision,note,reviewer,reviewed_at,sha256\n"


def _decided(*decisions: Decision) -> CheckedDecisions:
    return CheckedDecisions({d.file: d for d in decisions}, {})


# --- the review file ---------------------------------------------------------------------


def test_a_missing_or_empty_review_file_means_no_decisions(tmp_path: Path) -> None:
    assert read_decisions(tmp_path / "none.csv") == {}
    (tmp_path / "empty.csv").write_text("")
    assert read_decisions(tmp_path / "empty.csv") == {}
    (tmp_path / "header.csv").write_text(HEADER)
    assert read_decisions(tmp_path / "header.csv") == {}


def test_every_bad_row_is_named_with_its_line(tmp_path: Path) -> None:
    path = tmp_path / "demo.csv"
    sha = "a" * 64
    path.write_text(
        HEADER
        + f"images/a.png,accept,,ana,2026-12-03T10:00:00Z,{sha}\n"
        + "images/b.png,maybe,,,,\n"  # line 3: unknown decision
        + "\n"
        + "images/a.png,reject,,,,\n"  # line 5: a second row for a.png
        + "images/c.png,reject,,,yesterday,\n"  # line 6: not ISO 8601
        + "images/d.png,star,,,,ABC\n"  # line 7: not a sha256
        + "../e.png,reject,,,,\n"  # line 8: outside the character
        + "images/f.png,reject\n"  # line 9: short row
    )
    with pytest.raises(ReviewFileError) as error:
        read_decisions(path)
    message = str(error.value)
    for line, words in (
        (3, "'maybe' is not one of accept, reject, star"),
        (5, "also on line 2"),
        (6, "not an ISO 8601 time"),
        (7, "not 64 lowercase hex"),
        (8, "not a relative path"),
        (9, "2 fields"),
    ):
        assert f"{path} line {line}: " in message and words in message, (line, message)
    assert "line 2:" not in message.replace("also on line 2", "")


def test_a_wrong_header_names_the_expected_one(tmp_path: Path) -> None:
    path = tmp_path / "demo.csv"
    path.write_text("file,verdict\nimages/a.png,reject\n")
    with pytest.raises(ReviewFileError, match=r"line 1: .*must be exactly 'file,decision,note"):
        read_decisions(path)


def test_unknown_files_fail_with_their_lines_and_stale_ones_are_set_apart(tmp_path: Path) -> None:
    path = tmp_path / "demo.csv"
    path.write_text(
        HEADER
        + f"images/a.png,reject,,,,{'a' * 64}\n"  # the image the reviewer saw
        + f"images/b.png,accept,,,,{'b' * 64}\n"  # b has been regenerated since
        + "images/c.png,star,,,,\n"  # unpinned: applies to whatever c holds
    )
    decisions = read_decisions(path)
    recorded = {"images/a.png": "a" * 64, "images/b.png": "c" * 64, "images/c.png": "d" * 64}
    checked = check_decisions(decisions, recorded, str(path))
    assert sorted(checked.applied) == ["images/a.png", "images/c.png"]
    assert sorted(checked.stale) == ["images/b.png"]
    with pytest.raises(ReviewFileError, match=rf"{path} line 3: no image 'images/b.png'"):
        check_decisions(decisions, {"images/a.png": None, "images/c.png": None}, str(path))


def test_updates_keep_other_rows_and_write_sorted_rows(tmp_path: Path) -> None:
    path = tmp_path / "reviews" / "demo.csv"
    update_decisions(path, {"images/b.png": Decision("images/b.png", "reject", note="a, b")})
    update_decisions(path, {"images/a.png": Decision("images/a.png", "star")})
    update_decisions(path, {"images/c.png": Decision("images/c.png", "accept")})
    update_decisions(path, {"images/c.png": None})
    assert (
        path.read_text() == HEADER + "images/a.png,star,,,,\n" + 'images/b.png,reject,"a, b",,,\n'
    )
    assert read_decisions(path)["images/b.png"].note == "a, b"
    with pytest.raises(ReviewFileError, match="'keep' is not one of"):
        update_decisions(path, {"images/d.png": Decision("images/d.png", "keep")})
    assert len(read_decisions(path)) == 2


# --- selection with decisions ------------------------------------------------------------


def _alice_select(*decisions: Decision, tiers: dict[int, float | None] | None = None):
    rows = _alice_rows()
    return select(
        rows["images"],
        rows["faces"],
        rows["quality"],
        rows["clusters"],
        rows["duplicates"],
        PRESETS["balanced"],
        tiers=tiers or {2: None, 4: None},
        duplicate_distance=4,
        decisions=_decided(*decisions) if decisions else None,
    )


def _alice_rows() -> dict[str, list[dict]]:
    """catalog_data's character alice as the stage tables' rows (as make_character writes)."""
    out: dict[str, list[dict]] = {k: [] for k in ("images", "faces", "quality", "clusters")}
    out["duplicates"] = []
    for name, (verdict, _, sharpness, score, cluster) in ALICE.items():
        file = image_file(name)
        out["images"].append(
            {
                "file": file,
                "sha256": image_sha256(name),
                "seed": 100 if name[0] == "a" else 200,
                "mode": "scenario",
                "scenario": None,
                "prompt": "zxq person",
            }
        )
        confidence = 0.97 if verdict == "ok" else None
        out["faces"].append({"file": file, "face_verdict": verdict, "face_confidence": confidence})
        out["quality"].append(
            {
                "file": file,
                "readable": True,
                "sharpness": sharpness,
                "contrast": 60.0,
                "face_confidence": confidence,
                "quality_score": score,
            }
        )
        twin = "a03" if name == "a02" else name
        out["duplicates"].append(
            {
                "file": file,
                "sha256": image_sha256(name),
                "phash": hashlib.sha256(twin.encode()).hexdigest()[:16],
            }
        )
        if cluster is not None:
            out["clusters"].append({"file": file, "cluster": cluster})
    return out


def _by_name(result) -> dict[str, object]:
    return {Path(r.file).stem: r for r in result.rows}


def test_without_decisions_the_final_verdict_is_the_funnels() -> None:
    rows = _by_name(_alice_select())
    assert all(r.verdict == r.pipeline_verdict for r in rows.values())
    assert all(r.reject_reason == r.pipeline_reject_reason for r in rows.values())
    assert all(r.review_decision is None and r.review_status is None for r in rows.values())
    assert rows["b03"].tiers == ("tier_2", "tier_4")


def test_reject_removes_an_image_with_reason_reviewer_and_its_note() -> None:
    b03 = image_file("b03")
    result = _alice_select(Decision(b03, "reject", note="extra finger", reviewer="ana"))
    row = _by_name(result)["b03"]
    assert (row.verdict, row.reject_reason) == ("rejected", "reviewer")
    assert (row.pipeline_verdict, row.pipeline_reject_reason) == ("passed", None)
    assert (row.review_note, row.reviewer, row.review_status) == ("extra finger", "ana", "applied")
    assert row.rank is None and row.tiers == ()
    assert b03 not in result.members[2] and len(result.members[4]) == 4


def test_accept_passes_failed_checks_but_not_an_unreadable_image() -> None:
    names = {
        "b01": "low_sharpness",
        "a00": "no_face",
        "a02": "duplicate",
        "b02": "low_quality_score",
    }
    baseline = _by_name(_alice_select())
    assert {n: baseline[n].reject_reason for n in names} == names
    result = _alice_select(*(Decision(image_file(n), "accept") for n in names))
    rows = _by_name(result)
    for name, reason in names.items():
        row = rows[name]
        assert (row.verdict, row.reject_reason, row.pipeline_reject_reason) == (
            "passed",
            None,
            reason,
        )
        assert row.rank is not None
    # An accepted image that cannot be read stays out: there is nothing to train on.
    unreadable = _alice_rows()
    unreadable["faces"][0]["face_verdict"] = "unreadable"
    unreadable["quality"][0].update(readable=False, quality_score=None)
    result = select(
        *(unreadable[k] for k in ("images", "faces", "quality", "clusters", "duplicates")),
        PRESETS["balanced"],
        tiers={2: None},
        decisions=_decided(Decision(image_file("a00"), "accept")),
    )
    row = _by_name(result)["a00"]
    assert (row.verdict, row.reject_reason, row.review_status) == (
        "rejected",
        "unreadable",
        "ignored",
    )


def test_a_starred_image_leads_its_cluster_and_takes_its_place_in_the_tiers() -> None:
    baseline = _by_name(_alice_select())
    cluster_1 = sorted((r.rank, n) for n, r in baseline.items() if r.cluster == 1 and r.rank)
    assert [n for _, n in cluster_1] == ["a04", "b04", "a05"]  # a05 scores lowest
    rows = _by_name(_alice_select(Decision(image_file("a05"), "star")))
    assert rows["a05"].rank < rows["a04"].rank < rows["b04"].rank
    assert rows["a05"].rank == baseline["a04"].rank  # the cluster keeps its places
    assert baseline["a05"].tiers == () and baseline["b04"].tiers == ("tier_4",)
    assert rows["a05"].tiers == ("tier_4",)  # in a04's place, a04 in b04's
    assert rows["b04"].tiers == ()


@pytest.mark.parametrize("strategy", sorted(STRATEGIES))
def test_stars_lead_their_cluster_under_every_strategy(strategy: str) -> None:
    generator = random.Random(7)
    for _ in range(30):
        candidates = [
            Candidate(
                f"f{i:03d}", generator.randrange(4), generator.randrange(3), generator.random()
            )
            for i in range(40)
        ]
        starred = {c.file for c in generator.sample(candidates, 6)}
        cluster_of = {c.file: c.cluster for c in candidates}
        plain = rank(candidates, strategy, 2)
        ranking = stars_first(plain, cluster_of, starred)
        assert sorted(ranking) == sorted(plain)
        position = {f: i for i, f in enumerate(ranking)}
        for c in set(cluster_of.values()):
            stars = [position[f] for f in starred if cluster_of[f] == c]
            others = [position[f] for f in cluster_of if cluster_of[f] == c and f not in starred]
            assert not stars or not others or max(stars) < min(others)
            # each cluster keeps the slots the strategy gave it
            assert sorted(stars + others) == sorted(
                i for i, f in enumerate(plain) if cluster_of[f] == c
            )


def test_an_accepted_image_meets_every_tier_floor() -> None:
    ranking = ["a", "b", "c"]
    scores = {"a": 0.9, "b": 0.2, "c": 0.8}
    assert build_tiers(ranking, scores, {2: 0.5}) == {2: ("a", "c")}
    assert build_tiers(ranking, scores, {2: 0.5}, exempt={"b"}) == {2: ("a", "b")}


def test_a_stale_decision_is_recorded_not_applied() -> None:
    b03 = image_file("b03")
    stale = Decision(b03, "reject", sha256="f" * 64)
    rows = select(
        *(_alice_rows()[k] for k in ("images", "faces", "quality", "clusters", "duplicates")),
        PRESETS["balanced"],
        tiers={2: None},
        decisions=CheckedDecisions({}, {b03: stale}),
    )
    row = _by_name(rows)["b03"]
    assert (row.verdict, row.review_decision, row.review_status) == ("passed", "reject", "stale")


# --- from files: select_images, the preview, the catalog and the audit -------------------


def _write_review(path: Path, rows: list[tuple[str, str, str]]) -> None:
    lines = [
        f"{image_file(n)},{d},{note},ana,2026-12-03T10:00:00Z,{image_sha256(n)}"
        for n, d, note in rows
    ]
    path.write_text(HEADER + "\n".join(lines) + "\n")


def test_the_preview_is_what_a_rerun_builds(tmp_path: Path) -> None:
    inputs = make_character(tmp_path, "alice", ALICE, {2: None, 4: None})
    root = tmp_path / "alice"
    (root / "collapse.json").write_text('{"verdict": "ok"}')

    def run(review: Path | None, out: str):
        return select_files(
            images=inputs["image_tables"],
            faces=inputs["faces"],
            quality=inputs["quality"],
            clusters=inputs["clusters"],
            duplicates=inputs["duplicates"],
            thresholds=PRESETS["balanced"],
            strategy="balanced",
            per_cluster=3,
            tiers={2: None, 4: None},
            duplicate_distance=4,
            out_table=root / f"{out}.parquet",
            out_report=root / f"{out}.json",
            review=review,
            log=lambda _: None,
        )

    before = run(None, "before")
    review = tmp_path / "alice.csv"
    _write_review(
        review, [("b03", "reject", "extra finger"), ("a05", "star", ""), ("b01", "accept", "")]
    )
    changes = tier_changes(root / "before.parquet", read_decisions(review))
    after = run(review, "after")
    for n in (2, 4):
        expected_added = [f for f in after.members[n] if f not in before.members[n]]
        expected_removed = [f for f in before.members[n] if f not in after.members[n]]
        assert list(changes[f"tier_{n}"].added) == expected_added
        assert list(changes[f"tier_{n}"].removed) == expected_removed
    assert changes["tier_2"].summary() == "+1 / -1"  # a05 in, b03 out
    assert set(after.members[2]) == {image_file("a03"), image_file("a05")}
    assert read_selection(root / "after.parquet").members == after.members


def test_the_catalog_and_audit_list_decisions_with_the_verdict_they_overruled(
    tmp_path: Path,
) -> None:
    decisions = {
        image_file("b03"): Decision(
            image_file("b03"), "reject", note="extra finger", reviewer="ana"
        ),
        image_file("b01"): Decision(image_file("b01"), "accept", reviewer="ana"),
        image_file("a05"): Decision(image_file("a05"), "star", reviewer="ana"),
    }
    stale = {image_file("a04"): Decision(image_file("a04"), "reject", sha256="f" * 64)}
    inputs = make_character(
        tmp_path, "alice", ALICE, {2: None, 4: None}, CheckedDecisions(decisions, stale)
    )
    catalog = tmp_path / "alice" / "catalog.parquet"
    build_catalog(**inputs, out_path=catalog)
    db = build_duckdb([catalog], tmp_path / "catalog.duckdb")
    result = run_query(db, "reviews", "alice")
    rows = {
        Path(r[result.columns.index("file")]).stem: dict(zip(result.columns, r, strict=True))
        for r in result.rows
    }
    assert set(rows) == {"b03", "b01", "a05", "a04"}
    b03, b01, a04 = rows["b03"], rows["b01"], rows["a04"]
    assert (b03["decision"], b03["pipeline_verdict"], b03["verdict"], b03["reject_reason"]) == (
        "reject",
        "passed",
        "rejected",
        "reviewer",
    )
    assert b03["note"] == "extra finger" and b03["overruled"] is True
    assert (b01["pipeline_reject_reason"], b01["verdict"], b01["overruled"]) == (
        "low_sharpness",
        "passed",
        True,
    )
    assert (a04["status"], a04["verdict"], a04["overruled"]) == ("stale", "passed", False)
    assert rows["a05"]["overruled"] is False  # it passed anyway; the star only moved it up
    funnel = run_query(db, "funnel", "alice")
    rejected = {(r[2], r[3]): r[4] for r in funnel.rows if r[3] is not None}
    assert rejected[("passed", "reviewer")] == 1


def test_validate_names_a_bad_review_file_line(tmp_path: Path, monkeypatch, capsys) -> None:
    from charfolio.cli import main

    repo = Path(__file__).resolve().parents[2]
    monkeypatch.chdir(repo)  # the demo config's folders are relative to the checkout
    reviews = tmp_path / "reviews"
    reviews.mkdir()
    override = tmp_path / "review_dir.yaml"
    override.write_text(f"review_dir: {reviews}\n")
    argv = ["validate", "config/demo.yaml", str(override)]
    assert main(argv) == 0
    (reviews / "demo.csv").write_text(HEADER + "images/a.png,approve,,,,\n")
    assert main(argv) == 2
    assert f"{reviews}/demo.csv line 2: decision 'approve' is not one of" in capsys.readouterr().err
    (reviews / "demo.csv").write_text(HEADER)
    (reviews / "demo_ratings.csv").write_text(
        "file,rating,reviewer,rated_at,sha256\nstory/a.png,7,,,\n"
    )
    assert main(argv) == 2
    assert "demo_ratings.csv line 2: rating '7'" in capsys.readouterr().err


def test_a_review_file_that_is_no_regular_file_or_text_is_refused(tmp_path: Path) -> None:
    import os

    fifo = tmp_path / "fifo.csv"
    os.mkfifo(fifo)
    with pytest.raises(ReviewFileError, match=r"fifo\.csv: cannot be read .*not a regular file"):
        read_decisions(fifo)  # before: blocked for ever waiting for a writer
    (tmp_path / "folder.csv").mkdir()
    with pytest.raises(ReviewFileError, match=r"folder\.csv: cannot be read"):
        read_decisions(tmp_path / "folder.csv")
    latin = tmp_path / "latin.csv"
    latin.write_bytes(HEADER.encode() + "images/a.png,reject,caf\xe9,,,\n".encode("latin-1"))
    with pytest.raises(ReviewFileError, match=r"latin\.csv: cannot be read as UTF-8"):
        read_decisions(latin)
    windows = tmp_path / "windows.csv"
    text = "\ufeff" + HEADER + 'images/a.png,reject,"two\nlines",,,\n'
    windows.write_bytes(text.replace("\n", "\r\n").encode())  # as Excel saves it
    assert read_decisions(windows)["images/a.png"].note == "two\nlines"


# --- an accepted image the face gate rejected: it has no cluster of its own -------------


def test_nearest_clusters_are_by_centroid_and_skip_unreadable_rows() -> None:
    import numpy as np

    from charfolio.curate.nearest_cluster import nearest_clusters

    vectors = np.array(
        [[0, 0], [0, 2], [10, 10], [10, 12], [9, 9], [1, 1], [0, 0]], dtype=np.float32
    )
    rows = {f: i for i, f in enumerate("abcdefz")}
    clusters = {"a": 0, "b": 0, "c": 1, "d": 1}
    # centroids (0, 1) and (10, 11); z's all-zero row is an image that could not be read
    assert nearest_clusters(clusters, vectors, rows) == {"e": 1, "f": 0}


def _loose_world(nearest: dict[str, int] | None):
    """Clusters of 6, 6 and 2 good images and one no-face image, accepted, scoring 0.10."""
    rows: dict[str, list[dict]] = {k: [] for k in ("images", "faces", "quality", "clusters")}
    names = [f"c{c}_{i}" for c, size in enumerate((6, 6, 2)) for i in range(size)] + ["loose"]
    for n, name in enumerate(names):
        rows["images"].append({"file": name, "sha256": None, "seed": n, "mode": "scenario",
                               "scenario": None, "prompt": "p"})  # fmt: skip
        verdict = "no_face" if name == "loose" else "ok"
        rows["faces"].append({"file": name, "face_verdict": verdict, "face_confidence": 0.97})
        score = 0.10 if name == "loose" else 0.9 - n / 100
        rows["quality"].append({"file": name, "readable": True, "sharpness": 400.0,
                                "contrast": 60.0, "face_confidence": 0.97, "quality_score": score})  # fmt: skip
        if name != "loose":
            rows["clusters"].append({"file": name, "cluster": int(name[1])})
    return select(
        rows["images"], rows["faces"], rows["quality"], rows["clusters"], None,
        PRESETS["balanced"], "balanced", per_cluster=1, tiers={4: 0.5, 20: None},
        decisions=_decided(Decision("loose", "accept")), nearest=nearest,
    )  # fmt: skip


def test_an_accepted_face_reject_competes_in_its_nearest_cluster_not_ahead_of_all() -> None:
    # Before: a one-image group of its own took a first-round place, and (accepted images
    # meet every floor) a place in tier_4 ahead of every cluster's second best.
    result = _loose_world({"loose": 2})
    loose = _by_name(result)["loose"]
    assert (loose.verdict, loose.cluster, loose.nearest_cluster) == ("passed", None, 2)
    assert loose.tiers == ("tier_20",)
    ranking = [r.file for r in result.ranked()]
    # It scores lowest of cluster 2, so it comes third there: in round 3 of 6, not last.
    assert [f for f in ranking if f.startswith("c2") or f == "loose"] == ["c2_0", "c2_1", "loose"]
    assert ranking.index("loose") == 8  # rounds 1 and 2 hold 3 images each, then c0_2, c1_2
    # Without embeddings there is no nearest cluster: it ranks after every clustered image.
    result = _loose_world(None)
    assert result.ranked()[-1].file == "loose" and "tier_4" not in _by_name(result)["loose"].tiers


def test_the_preview_starts_from_the_funnels_verdicts_not_the_last_decisions(
    tmp_path: Path,
) -> None:
    """A reviewer changes decisions the last run already applied: the preview must undo them
    before applying the new ones, as a rerun would."""
    inputs = make_character(tmp_path, "alice", ALICE, {2: None, 4: None})
    root = tmp_path / "alice"
    first = tmp_path / "first.csv"
    _write_review(first, [("b03", "reject", ""), ("b01", "accept", ""), ("a05", "star", "")])
    second = tmp_path / "second.csv"  # b03's reject withdrawn, b01 now rejected, a04 starred
    _write_review(second, [("b01", "reject", ""), ("a05", "star", ""), ("a04", "star", "")])

    def run(review: Path, out: str):
        return select_files(
            images=inputs["image_tables"], faces=inputs["faces"], quality=inputs["quality"],
            clusters=inputs["clusters"], duplicates=inputs["duplicates"],
            thresholds=PRESETS["balanced"], strategy="balanced", per_cluster=3,
            tiers={2: None, 4: None}, duplicate_distance=4, out_table=root / f"{out}.parquet",
            out_report=root / f"{out}.json", review=review, log=lambda _: None,
        )  # fmt: skip

    before, after = run(first, "first"), run(second, "second")
    changes = tier_changes(root / "first.parquet", read_decisions(second))
    for n in (2, 4):
        assert set(before.members[n]) - set(changes[f"tier_{n}"].removed) | set(
            changes[f"tier_{n}"].added
        ) == set(after.members[n]), n
    assert image_file("b03") in after.members[4]  # back in, as the funnel had it
    # And the same decisions again change nothing.
    assert all(
        not c.added and not c.removed
        for c in tier_changes(root / "first.parquet", read_decisions(first)).values()
    )


def test_a_note_the_file_could_not_hold_is_refused_before_it_is_written(tmp_path: Path) -> None:
    """The csv module reads at most 128 kB a field: a longer note would make the file
    unreadable for every later run (found by posting a 10 MB note to the page)."""
    path = tmp_path / "demo.csv"
    update_decisions(path, {"images/a.png": Decision("images/a.png", "reject", note="fine")})
    for note, words in (("x" * 2001, "2001 characters long"), ("bell\a", "control character")):
        with pytest.raises(ReviewFileError, match=words):
            update_decisions(path, {"images/a.png": Decision("images/a.png", "reject", note=note)})
    assert read_decisions(path)["images/a.png"].note == "fine"
    update_decisions(path, {"images/a.png": Decision("images/a.png", "reject", note="two\nlines")})
    assert read_decisions(path)["images/a.png"].note == "two\nlines"


def test_validate_names_a_decision_on_an_image_the_selection_lacks(
    tmp_path: Path, monkeypatch, capsys
) -> None:
    from charfolio.cli import main

    make_character(tmp_path / "results", "alice", ALICE, {2: None})
    (tmp_path / "config" / "characters").mkdir(parents=True)
    (tmp_path / "config" / "characters" / "alice.yaml").write_text(
        "name: alice\ntoken: zxq\nclass_word: person\nbase_prompt: a person\nbase_seed: 1\n"
    )
    (tmp_path / "config.yaml").write_text("characters: [alice]\n")
    monkeypatch.chdir(tmp_path)
    reviews = tmp_path / "config" / "reviews"
    reviews.mkdir()
    (reviews / "alice.csv").write_text(
        HEADER + f"{image_file('a03')},star,,,,\nimages/nope.png,reject,,,,\n"
    )
    assert main(["validate", "config.yaml"]) == 2
    assert "alice.csv line 3: no image 'images/nope.png'" in capsys.readouterr().err
    (reviews / "alice.csv").write_text(HEADER + f"{image_file('a03')},star,,,,\n")
    assert main(["validate", "config.yaml"]) == 0
