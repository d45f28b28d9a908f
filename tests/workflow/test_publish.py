"""Readers of results/catalog.duckdb see the old or the new catalog while Snakemake rebuilds it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from charfolio.catalog.audit import run_sql
from charfolio.catalog.build import build_catalog
from tests.unit.catalog_data import ALICE, BOB, make_character

from .conftest import config_path, snakemake

pytestmark = pytest.mark.slow

TINY = config_path("tiny.yaml")
DB = "results/catalog.duckdb"

# Counts the catalog's rows until a stop file appears, one line per read: "ok N" or the error.
# A fresh read-only connection per read, as each `charfolio audit` call makes.
READER = """
import sys
from pathlib import Path
from charfolio.catalog.audit import run_sql
db, stop = sys.argv[1], Path(sys.argv[2])
while not stop.exists():
    try:
        print("ok", run_sql(db, "SELECT count(*) FROM catalog").rows[0][0], flush=True)
    except Exception as error:
        print("error", type(error).__name__, str(error).replace("\\n", " "), flush=True)
"""


def _catalog(workdir: Path, spec: dict, source: str) -> None:
    """results/demo/catalog.parquet over `spec`'s images, made in `source` (not by Snakemake)."""
    inputs = make_character(workdir / source, "demo", spec, {2: None})
    build_catalog(**inputs, out_path=workdir / "results" / "demo" / "catalog.parquet")


def _rows(workdir: Path) -> int:
    return run_sql(workdir / DB, "SELECT count(*) FROM catalog").rows[0][0]


def test_readers_see_the_old_or_the_new_catalog_during_a_rebuild(workdir):
    _catalog(workdir, ALICE, "old")
    snakemake(workdir, DB, "--configfile", TINY)
    assert _rows(workdir) == len(ALICE)

    _catalog(workdir, BOB, "new")  # a newer input: Snakemake rebuilds the DuckDB file
    stop = workdir / "stop"
    reader = subprocess.Popen(
        [sys.executable, "-c", READER, str(workdir / DB), str(stop)],
        stdout=subprocess.PIPE, text=True, cwd=workdir,
    )  # fmt: skip
    try:
        first = reader.stdout.readline().split()
        assert first == ["ok", str(len(ALICE))]  # the reader is reading before the job starts
        run = snakemake(workdir, DB, "--configfile", TINY)
        assert "rule build_duckdb:" in run.stdout + run.stderr
    finally:
        stop.touch()
        reads = [first, *(line.split(maxsplit=2) for line in reader.stdout)]
        reader.wait(timeout=60)

    errors = [" ".join(r) for r in reads if r[0] != "ok"]
    assert not errors, f"{len(errors)} of {len(reads)} reads failed, e.g. {errors[0]}"
    counts = [int(r[1]) for r in reads]
    assert set(counts) <= {len(ALICE), len(BOB)}
    assert counts[-1] == len(BOB)
    # One switch from old to new: no read sees the old catalog after one saw the new.
    assert counts == sorted(counts, reverse=True)


def test_a_failed_rebuild_keeps_the_old_catalog(workdir):
    _catalog(workdir, ALICE, "old")
    snakemake(workdir, DB, "--configfile", TINY)
    catalog = workdir / "results" / "demo" / "catalog.parquet"
    catalog.write_text("not parquet")  # newer, so the catalog is rebuilt, and the build fails

    run = snakemake(workdir, DB, "--configfile", TINY, check=False)
    assert run.returncode != 0
    assert "demo/catalog.parquet" in run.stdout + run.stderr
    assert _rows(workdir) == len(ALICE)
    leftovers = [p.name for p in (workdir / "results").iterdir() if p.name.startswith(".")]
    assert not leftovers, f"temporary files left beside the catalog: {leftovers}"
