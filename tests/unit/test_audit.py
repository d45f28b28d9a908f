"""`charfolio audit`: exact canned-query results, read-only SQL, injection, missing files, CLI."""

from __future__ import annotations

import argparse
import csv
import io
import json
import shutil
from pathlib import Path

import duckdb
import pytest

from charfolio.catalog.audit import (
    QUERIES,
    add_audit_parser,
    find_missing,
    format_text,
    run_query,
    run_sql,
)
from charfolio.catalog.database import build_duckdb

from .catalog_data import build_results


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("audit") / "results"
    catalogs = build_results(root)
    build_duckdb(catalogs, root / "catalog.duckdb")
    return root


@pytest.fixture(scope="module")
def db(results: Path) -> Path:
    return results / "catalog.duckdb"


def _records(db: Path, name: str, character: str | None = None) -> list[dict]:
    result = run_query(db, name, character)
    return [dict(zip(result.columns, row, strict=True)) for row in result.rows]


def test_funnel_exact(db: Path) -> None:
    rows = [(r["stage"], r["rejected_for"], r["images"]) for r in _records(db, "funnel", "alice")]
    assert rows == [
        ("generated", None, 12),
        ("face_ok", None, 9),
        ("face_ok", "multiple_faces", 1),
        ("face_ok", "no_face", 2),
        ("unique", None, 8),
        ("unique", "duplicate", 1),
        ("thresholds_ok", None, 7),
        ("thresholds_ok", "low_sharpness", 1),
        ("score_ok", None, 6),
        ("score_ok", "low_quality_score", 1),
        ("passed", None, 6),  # no reviewer rejects
        ("tier_2", None, 2),
        ("tier_4", None, 4),
    ]
    assert _records(db, "funnel", "alice")[-1]["share"] == pytest.approx(4 / 12, abs=1e-4)


def test_funnel_over_all_characters(db: Path) -> None:
    rows = _records(db, "funnel")
    bob = [(r["stage"], r["images"]) for r in rows if r["character"] == "bob"]
    assert bob == [
        ("generated", 3),
        ("face_ok", 3),
        ("unique", 3),
        ("thresholds_ok", 3),
        ("score_ok", 3),
        ("passed", 3),
        ("tier_2", 2),
    ]
    assert len(rows) == 13 + 7


def test_seeds_exact(db: Path) -> None:
    keys = ("seed", "generated", "face_ok", "unique", "thresholds_ok", "passed", "tier_2", "tier_4")
    rows = [tuple(r[k] for k in keys) for r in _records(db, "seeds")]
    assert rows == [
        (100, 6, 4, 3, 3, 3, 1, 2),
        (200, 6, 5, 5, 4, 3, 1, 2),
        (300, 3, 3, 3, 3, 3, 2, 0),
    ]


def test_clusters_exact(db: Path) -> None:
    keys = ("cluster", "images", "passed", "tier_4", "tier_4_share")
    rows = [tuple(r[k] for k in keys) for r in _records(db, "clusters", "alice")]
    assert [row[:3] for row in rows] == [(0, 5, 3), (1, 4, 3)]
    assert sum(row[3] for row in rows) == 4
    assert sum(row[4] for row in rows) == pytest.approx(1.0)


def test_quality_percentiles(db: Path) -> None:
    rows = _records(db, "quality", "alice")
    assert "metric_order" not in rows[0]
    by = {(r["stage"], r["metric"]): r for r in rows}
    assert by[("generated", "quality_score")]["n"] == 12
    passed = by[("passed", "quality_score")]
    assert passed["n"] == 6
    assert passed["p50"] == pytest.approx(0.925)
    assert (passed["min"], passed["max"]) == (0.9, 0.96)
    assert by[("thresholds_ok", "sharpness")]["min"] == 400.0
    assert by[("generated", "sharpness")]["min"] == 50.0
    assert len(rows) == 8 * 3  # 6 steps and 2 tiers, 3 metrics each


def test_tiers_exact(db: Path) -> None:
    keys = ("character", "tier", "requested", "images", "train", "val")
    rows = [tuple(r[k] for k in keys) for r in _records(db, "tiers")]
    assert rows == [
        ("alice", "tier_2", 2, 2, 1, 1),
        ("alice", "tier_4", 4, 4, 2, 2),
        ("bob", "tier_2", 2, 2, 1, 1),
    ]


def test_duplicates_exact(db: Path) -> None:
    rows = _records(db, "duplicates")
    assert len(rows) == 1
    row = rows[0]
    assert (row["file"], row["duplicate_of"], row["duplicate_kind"], row["duplicate_distance"]) == (
        "images/seed_100/a02.png",
        "images/seed_100/a03.png",
        "phash",
        0,
    )
    assert (row["kept_quality_score"], row["kept_verdict"]) == (0.95, "passed")


def test_unknown_query_is_refused(db: Path) -> None:
    with pytest.raises(ValueError, match="unknown audit query"):
        run_query(db, "catalog; DROP TABLE catalog")


@pytest.mark.parametrize(
    "character",
    [
        "alice' OR '1'='1",
        "alice'; DROP TABLE catalog; --",
        "' OR 1=1 --",
        'alice" OR 1=1 --',
        "%",
    ],
)
@pytest.mark.parametrize("query", sorted(QUERIES))
def test_injection_through_character_returns_nothing(db: Path, query: str, character: str) -> None:
    assert run_query(db, query, character).rows == []
    assert run_sql(db, "SELECT count(*) FROM catalog").rows == [(15,)]


def test_missing_injection_returns_nothing(db: Path, results: Path) -> None:
    assert find_missing(db, results, "x' OR '1'='1").rows == []


@pytest.mark.parametrize(
    "statement",
    [
        "CREATE TABLE x(a INT)",
        "DELETE FROM catalog",
        "INSERT INTO catalog (character) VALUES ('eve')",
        "UPDATE catalog SET verdict = 'passed'",
        "DROP VIEW funnel",
        "CREATE VIEW v AS SELECT 1",
        "COPY catalog TO '{tmp}/out.csv'",
        "COPY (SELECT 1) TO '{tmp}/out.parquet' (FORMAT parquet)",
        "EXPORT DATABASE '{tmp}/export'",
        "SELECT * FROM read_csv('/etc/passwd')",
        "SELECT * FROM read_text('/etc/passwd')",
        "SELECT * FROM glob('/etc/*')",
        "ATTACH '{tmp}/other.duckdb' AS other",
        "ATTACH ':memory:' AS mem",
        "INSTALL httpfs",
        "LOAD httpfs",
        "SET enable_external_access = true",
        "RESET lock_configuration",
        "CHECKPOINT; DELETE FROM catalog",
    ],
)
def test_writes_and_file_access_fail(db: Path, tmp_path: Path, statement: str) -> None:
    before = db.read_bytes()
    with pytest.raises(duckdb.Error):
        run_sql(db, statement.format(tmp=tmp_path))
    assert list(tmp_path.iterdir()) == []
    assert db.read_bytes() == before
    assert run_sql(db, "SELECT count(*) FROM catalog").rows == [(15,)]


def test_sql_reads(db: Path) -> None:
    sql = "SELECT character, count(*) AS n FROM catalog WHERE verdict = 'passed' GROUP BY 1"
    result = run_sql(db, sql + " ORDER BY 1")
    assert result.columns == ("character", "n")
    assert result.rows == [("alice", 6), ("bob", 3)]


def test_missing_finds_deleted_files(tmp_path: Path, results: Path) -> None:
    copy = tmp_path / "results"
    shutil.copytree(results, copy, symlinks=True)
    db = copy / "catalog.duckdb"
    assert find_missing(db, copy).rows == []

    (copy / "alice/images/seed_100/a00.png").unlink()  # rejected: in no tier
    rows = find_missing(db, copy, "alice").rows
    file = "images/seed_100/a00.png"
    assert rows == [("alice", file, "image", f"alice/{file}", "rejected")]

    tiered = run_sql(
        db,
        "SELECT file, tiers FROM catalog WHERE character = 'bob' AND len(tiers) > 0 "
        "ORDER BY file LIMIT 1",
    ).rows[0]
    (copy / "bob" / tiered[0]).unlink()  # the tier links to it now dangle too
    rows = find_missing(db, copy).rows
    bob = [(r[1], r[2]) for r in rows if r[0] == "bob"]
    assert bob == [(tiered[0], "image"), *((tiered[0], t) for t in tiered[1])]
    assert len(rows) == 1 + 1 + len(tiered[1])
    assert find_missing(db, copy, "bob").rows == [r for r in rows if r[0] == "bob"]


def _cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    parser = argparse.ArgumentParser(prog="charfolio")
    add_audit_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    code = args.func(args)
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_formats(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _cli(["audit", "funnel", "--character", "alice", "--db", str(db)], capsys)
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split() == ["character", "step", "stage", "rejected_for", "images", "share"]
    assert lines[-1] == "(13 rows)"
    widths = {len(line) for line in lines[1:-1]}  # aligned: right-aligned last column
    assert len(widths) == 1

    code, out, _ = _cli(["audit", "tiers", "--db", str(db), "--csv"], capsys)
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [(r["character"], r["tier"], r["images"]) for r in rows] == [
        ("alice", "tier_2", "2"),
        ("alice", "tier_4", "4"),
        ("bob", "tier_2", "2"),
    ]

    code, out, _ = _cli(["audit", "seeds", "--db", str(db), "--json", "--character", "bob"], capsys)
    assert json.loads(out) == [
        {
            "character": "bob",
            "seed": 300,
            "seed_group": 2,
            "generated": 3,
            "face_ok": 3,
            "unique": 3,
            "thresholds_ok": 3,
            "score_ok": 3,
            "passed": 3,
            "tier_2": 2,
            "tier_4": 0,
        }
    ]


def test_cli_sql_and_missing(db: Path, results: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _cli(
        ["audit", "sql", "SELECT count(*) AS n FROM catalog", "--db", str(db), "--csv"], capsys
    )
    assert (code, out) == (0, "n\n15\n")
    code, out, err = _cli(["audit", "sql", "DELETE FROM catalog", "--db", str(db)], capsys)
    assert code == 2 and "read-only" in err and out == ""
    code, out, _ = _cli(["audit", "missing", "--db", str(db), "--results", str(results)], capsys)
    assert code == 0 and out.splitlines()[-1] == "(0 rows)"


def test_cli_names_a_missing_database(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _cli(["audit", "funnel", "--db", str(tmp_path / "nope.duckdb")], capsys)
    assert code == 2
    assert "nope.duckdb not found" in err and "catalog rule" in err


def test_text_table_of_no_rows(db: Path) -> None:
    text = format_text(run_query(db, "duplicates", "bob"))
    assert text.splitlines()[-1] == "(0 rows)"


@pytest.mark.parametrize("statement", ["", "   ", " ; ", "-- only a comment"])
def test_cli_refuses_an_empty_statement(
    db: Path, capsys: pytest.CaptureFixture[str], statement: str
) -> None:
    code, out, err = _cli(["audit", "sql", statement, "--db", str(db)], capsys)
    assert code == 2 and out == ""
    assert "no SQL statement" in err and "SELECT" in err
