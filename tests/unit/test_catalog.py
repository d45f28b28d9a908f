"""The master catalog: one joined row per image, and the DuckDB built over all characters."""

from __future__ import annotations

import json
import re
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest

from charfolio.catalog import build as catalog
from charfolio.catalog import database
from charfolio.catalog.build import build_catalog
from charfolio.catalog.database import build_duckdb
from charfolio.core import tables
from charfolio.curate.selection import STAGES

from .catalog_data import ALICE, BOB, build_results, make_character


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("catalog") / "results"
    build_results(root)
    return root


def _rows(path: Path) -> dict[str, dict]:
    return {r["file"]: r for r in tables.read_table(path, tables.CATALOG).to_pylist()}


def test_catalog_has_one_joined_row_per_image(results: Path) -> None:
    path = results / "alice" / "catalog.parquet"
    assert pq.read_schema(path).names == tables.CATALOG.names
    rows = _rows(path)
    assert len(rows) == len(ALICE) == 12

    dup = rows["images/seed_100/a02.png"]
    assert (dup["verdict"], dup["reject_stage"], dup["reject_reason"]) == (
        "rejected",
        "duplicate",
        "duplicate",
    )
    assert (dup["duplicate_of"], dup["duplicate_kind"], dup["duplicate_distance"]) == (
        "images/seed_100/a03.png",
        "phash",
        0,
    )
    assert dup["duplicate_face_distance"] is None  # no faces or embeddings compared here
    assert dup["phash"] == rows["images/seed_100/a03.png"]["phash"]

    no_face = rows["images/seed_100/a00.png"]
    assert (no_face["face_verdict"], no_face["n_faces"], no_face["face_pass"]) == (
        "no_face",
        0,
        False,
    )
    assert no_face["cluster"] is None and no_face["cluster_position"] is None
    assert no_face["reject_stage"] == "face" and no_face["tiers"] == []

    low = rows["images/seed_200/b01.png"]
    assert (low["reject_stage"], low["reject_reason"], low["sharpness"]) == (
        "thresholds",
        "low_sharpness",
        50.0,
    )
    assert rows["images/seed_200/b02.png"]["reject_reason"] == "low_quality_score"

    passed = [r for r in rows.values() if r["verdict"] == "passed"]
    assert sorted(r["rank"] for r in passed) == [1, 2, 3, 4, 5, 6]
    assert all(r["reject_stage"] is None for r in passed)
    assert sum("tier_2" in r["tiers"] for r in rows.values()) == 2
    assert sum("tier_4" in r["tiers"] for r in rows.values()) == 4
    for r in rows.values():
        assert r["path"] == f"alice/{r['file']}"
        assert r["exists"] and r["bytes_on_disk"] == r["bytes"]
        assert r["model_id"] == "tiny-test-model" and r["quality_score"] is not None
        assert [e["tier"] for e in r["tier_entries"]] == r["tiers"]
        if "tier_2" in r["tiers"]:
            assert "tier_4" in r["tiers"]  # nested
        for entry in r["tier_entries"]:
            assert entry["split"] in ("train", "val")
            assert (results / "alice" / entry["tier_file"]).is_file()


def test_cluster_columns(results: Path) -> None:
    rows = _rows(results / "alice" / "catalog.parquet")
    clustered = [r for r in rows.values() if r["cluster"] is not None]
    assert len(clustered) == 9  # the face-ok images
    for c in (0, 1):
        members = sorted(
            (r for r in clustered if r["cluster"] == c), key=lambda r: r["cluster_position"]
        )
        assert [r["cluster_position"] for r in members] == list(range(1, len(members) + 1))
        distances = [r["cluster_distance"] for r in members]
        assert distances == sorted(distances)
        assert {r["cluster_size"] for r in members} == {len(members)}
    assert sum(r["cluster"] == 0 for r in clustered) == 5


def test_every_column_is_documented() -> None:
    documented = set(re.findall(r"^([a-z_0-9]+) {2,}", catalog.__doc__ or "", re.MULTILINE))
    assert set(tables.CATALOG.names) <= documented


def test_funnel_steps_follow_the_selection_stages() -> None:
    assert [stage for _, _, stage in database.FUNNEL_STEPS[1:]] == list(STAGES)


def test_missing_file_is_recorded(tmp_path: Path) -> None:
    inputs = make_character(tmp_path, "bob", BOB, {2: None})
    (inputs["character_root"] / "images/seed_300/c02.png").unlink()
    table = build_catalog(**inputs, out_path=tmp_path / "catalog.parquet")
    facts = {r["file"]: (r["exists"], r["bytes_on_disk"]) for r in table.to_pylist()}
    assert facts["images/seed_300/c02.png"] == (False, None)
    assert facts["images/seed_300/c00.png"][0] is True


def test_stale_tier_manifest_fails(tmp_path: Path) -> None:
    inputs = make_character(tmp_path, "bob", BOB, {2: None})
    manifest = inputs["tier_manifests"][2]
    rows = tables.read_table(manifest, tables.TIER_MANIFEST).to_pylist()
    tables.write_table(manifest, rows[:1], tables.TIER_MANIFEST)
    with pytest.raises(ValueError, match=r"manifest\.parquet.*rerun the build_tier rule"):
        build_catalog(**inputs, out_path=tmp_path / "catalog.parquet")


def test_unbuilt_tier_is_left_out(tmp_path: Path) -> None:
    inputs = make_character(tmp_path, "bob", BOB, {2: None})
    inputs["tier_manifests"] = {2: tmp_path / "nowhere" / "manifest.parquet"}
    table = build_catalog(**inputs, out_path=tmp_path / "catalog.parquet")
    assert all(r["tiers"] == [] for r in table.to_pylist())


def test_stage_table_missing_an_image_fails(tmp_path: Path) -> None:
    inputs = make_character(tmp_path, "bob", BOB, {2: None})
    faces = tables.read_table(inputs["faces"], tables.FACES).to_pylist()
    tables.write_table(inputs["faces"], faces[1:], tables.FACES)
    with pytest.raises(ValueError, match=r"faces\.parquet has no row.*rerun the faces rule"):
        build_catalog(**inputs, out_path=tmp_path / "catalog.parquet")


def test_duckdb_over_all_characters(results: Path) -> None:
    db = results / "catalog.duckdb"
    catalogs = [results / c / "catalog.parquet" for c in ("alice", "bob")]
    build_duckdb(catalogs, db)
    build_duckdb(catalogs, db)  # rebuilt from scratch, not appended to
    assert [p.name for p in results.iterdir() if p.name.startswith(".")] == []  # no temp left
    con = duckdb.connect(str(db), read_only=True)
    try:
        counts = con.execute(
            "SELECT character, count(*) FROM catalog GROUP BY 1 ORDER BY 1"
        ).fetchall()
        assert counts == [("alice", 12), ("bob", 3)]
        tables_sql = "SELECT table_name FROM information_schema.tables"
        names = {r[0] for r in con.execute(tables_sql).fetchall()}
        expected = {"catalog", "sources", "funnel_steps", "funnel", "seeds", "clusters"}
        assert expected | {"quality", "tiers", "duplicates", "staged", "image_stages"} <= names
        assert con.execute("SELECT images FROM sources ORDER BY catalog").fetchall() == [
            (12,),
            (3,),
        ]
    finally:
        con.close()


def test_duckdb_funnel_matches_the_selection_report(results: Path) -> None:
    db = results / "funnel_check.duckdb"
    build_duckdb([results / "alice" / "catalog.parquet"], db)
    report = json.loads((results / "alice" / "selection_report.json").read_text())
    con = duckdb.connect(str(db), read_only=True)
    try:
        reached = dict(
            con.execute("SELECT step, images FROM funnel WHERE rejected_for IS NULL").fetchall()
        )
        reasons = dict(
            con.execute(
                "SELECT rejected_for, images FROM funnel WHERE rejected_for IS NOT NULL"
            ).fetchall()
        )
    finally:
        con.close()
    stages = report["funnel"]["stages"]
    assert [reached[i + 1] for i in range(len(stages))] == [s["passed"] for s in stages]
    assert reasons == {k: v for k, v in report["funnel"]["reasons"].items() if v}


def test_duckdb_refuses_a_character_twice(results: Path, tmp_path: Path) -> None:
    path = results / "bob" / "catalog.parquet"
    with pytest.raises(ValueError, match="both hold character 'bob'"):
        build_duckdb([path, path], tmp_path / "x.duckdb")
