"""`charfolio audit`: canned queries and ad-hoc SQL over the catalog DuckDB, read-only.

The database is opened read-only with external access off and the configuration locked, so
no query can write to it, read or write other files, load extensions or undo those settings.
Canned queries read the views `charfolio.catalog.database.build_duckdb` makes; their view and
column names come from the `QUERIES` allow-list and the character filter is a bound parameter.
File existence (`missing`) is checked here in Python, because DuckDB may not touch files.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from charfolio.core.layout import RESULTS, Results

PathLike = str | os.PathLike[str]
DEFAULT_DB = Results().duckdb
DEFAULT_RESULTS = RESULTS
FORMATS = ("text", "csv", "json")


@dataclass(frozen=True)
class Query:
    view: str
    order: str
    help: str
    columns: str = "*"


QUERIES: dict[str, Query] = {
    "funnel": Query(
        "funnel",
        "character, step, rejected_for NULLS FIRST",
        "images reaching each step (generated, face ok, unique, thresholds ok, passed, each "
        "tier) and, per reject reason, those rejected on the way",
    ),
    "seeds": Query("seeds", "character, seed", "images per seed group at each step"),
    "clusters": Query(
        "clusters", "character, cluster", "cluster sizes, passing images, tier counts and shares"
    ),
    "quality": Query(
        "quality",
        "character, step, metric_order",
        "percentiles of quality_score, sharpness and contrast among the images at each step",
        columns="* EXCLUDE (metric_order)",
    ),
    "tiers": Query(
        "tiers", "character, requested", "tier sizes, train/val, seeds, clusters, scores"
    ),
    "duplicates": Query(
        "duplicates",
        "character, file",
        "images rejected as duplicates, how each matched the kept copy",
    ),
    "reviews": Query(
        "reviews",
        "character, decision, file",
        "a reviewer's decisions (config/reviews/{character}.csv) with the verdict each "
        "overruled; stale ones (the image changed since) were not applied",
    ),
}


@dataclass(frozen=True)
class Result:
    columns: tuple[str, ...]
    rows: list[tuple[Any, ...]]


def connect(db: PathLike) -> Any:
    """Open the catalog database read-only, without file or network access."""
    import duckdb

    if not Path(db).is_file():
        raise FileNotFoundError(
            f"{db} not found; build it with the catalog rule (snakemake {DEFAULT_DB}) or pass --db"
        )
    config = {
        "enable_external_access": False,
        "autoinstall_known_extensions": False,
        "autoload_known_extensions": False,
        "allow_community_extensions": False,
        "lock_configuration": True,  # last: nothing may switch the settings above back on
    }
    return duckdb.connect(str(db), read_only=True, config=config)


def _fetch(con: Any, sql: str, params: dict[str, Any] | None = None) -> Result:
    cursor = con.execute(sql, params) if params else con.execute(sql)
    if cursor is None:  # duckdb returns no cursor for text without a statement ("", "--")
        raise ValueError(
            'no SQL statement to run; give one, e.g. "SELECT verdict, count(*) FROM catalog '
            'GROUP BY 1"'
        )
    if cursor.description is None:  # a statement without a result set
        return Result((), [])
    return Result(tuple(d[0] for d in cursor.description), cursor.fetchall())


def run_query(db: PathLike, name: str, character: str | None = None) -> Result:
    """A canned query (a key of QUERIES), optionally for one character."""
    if name not in QUERIES:
        raise ValueError(f"unknown audit query {name!r}; use one of {sorted(QUERIES)}, or sql")
    q = QUERIES[name]
    sql = (
        f"SELECT {q.columns} FROM {q.view} "
        f"WHERE $character IS NULL OR character = $character ORDER BY {q.order}"
    )
    con = connect(db)
    try:
        return _fetch(con, sql, {"character": character})
    finally:
        con.close()


def run_sql(db: PathLike, statement: str) -> Result:
    """Any SQL, on the read-only connection: writes and file access fail with duckdb errors."""
    con = connect(db)
    try:
        return _fetch(con, statement)
    finally:
        con.close()


def find_missing(db: PathLike, results: PathLike, character: str | None = None) -> Result:
    """Catalogued images (and their tier copies) whose file is gone now, under `results`."""
    con = connect(db)
    try:
        candidates = _fetch(
            con,
            "SELECT character, file, path, verdict, tier_entries FROM catalog "
            "WHERE $character IS NULL OR character = $character ORDER BY character, file",
            {"character": character},
        )
    finally:
        con.close()
    root = Path(results)
    rows = []
    for char, file, path, verdict, entries in candidates.rows:
        folder = Path(path).parts[0]  # the character folder, as recorded in `path`
        expected = [("image", path)]
        expected += [(e["tier"], f"{folder}/{e['tier_file']}") for e in entries]
        for what, relative in expected:
            # exists() follows links, so a tier link to a deleted image counts as missing
            if not (root / relative).exists():
                rows.append((char, file, what, relative, verdict))
    return Result(("character", "file", "missing", "path", "verdict"), rows)


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4f}".rstrip("0").rstrip(".") if value == value else "nan"
    if isinstance(value, list | tuple):
        return ",".join(_cell(v) for v in value)
    return str(value)


def format_text(result: Result) -> str:
    """An aligned table; numbers right-aligned."""
    if not result.columns:
        return "(no result)\n"
    cells = [[_cell(v) for v in row] for row in result.rows]
    widths = [max([len(c)] + [len(r[i]) for r in cells]) for i, c in enumerate(result.columns)]
    numeric = [
        all(isinstance(row[i], int | float) for row in result.rows if row[i] is not None)
        and any(row[i] is not None for row in result.rows)
        for i in range(len(result.columns))
    ]

    def line(values: Sequence[str]) -> str:
        parts = [
            v.rjust(w) if num else v.ljust(w)
            for v, w, num in zip(values, widths, numeric, strict=True)
        ]
        return "  ".join(parts).rstrip()

    out = [line(result.columns), line(["-" * w for w in widths])]
    out += [line(r) for r in cells]
    out.append(f"({len(result.rows)} row{'s' if len(result.rows) != 1 else ''})")
    return "\n".join(out) + "\n"


def format_csv(result: Result) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(result.columns)
    for row in result.rows:
        writer.writerow(["" if v is None else _cell(v) if isinstance(v, list) else v for v in row])
    return buffer.getvalue()


def format_json(result: Result) -> str:
    records = [dict(zip(result.columns, row, strict=True)) for row in result.rows]
    return json.dumps(records, indent=2, default=str) + "\n"


FORMATTERS = {"text": format_text, "csv": format_csv, "json": format_json}


def cmd_audit(args: argparse.Namespace) -> int:
    import duckdb

    try:
        if args.query == "sql":
            result = run_sql(args.db, args.statement)
        elif args.query == "missing":
            result = find_missing(args.db, args.results, args.character)
        else:
            result = run_query(args.db, args.query, args.character)
    except (duckdb.Error, FileNotFoundError, ValueError) as error:
        hint = ""
        if isinstance(error, duckdb.Error) and args.query == "sql":
            hint = " (audit SQL is read-only and cannot read or write files)"
        print(f"charfolio audit {args.query}: {error}{hint}", file=sys.stderr)
        return 2
    sys.stdout.write(FORMATTERS[args.format](result))
    return 0


def add_audit_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register `charfolio audit <query> ...` on the main parser's subparsers."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--db", default=DEFAULT_DB, help=f"catalog database (default {DEFAULT_DB})")
    formats = common.add_mutually_exclusive_group()
    formats.add_argument("--csv", dest="format", action="store_const", const="csv")
    formats.add_argument("--json", dest="format", action="store_const", const="json")
    character = argparse.ArgumentParser(add_help=False)
    character.add_argument("--character", help="only this character")

    audit = subparsers.add_parser(
        "audit",
        help="query the catalog: funnel, seeds, clusters, quality, tiers, duplicates, "
        "reviews, missing, or read-only sql",
        description="Query the catalog DuckDB (read-only). Each query takes --character to "
        "filter, and --csv or --json to change the output from an aligned table.",
    )
    queries = audit.add_subparsers(dest="query", required=True, metavar="query")
    for name, query in QUERIES.items():
        p = queries.add_parser(name, parents=[common, character], help=query.help)
        p.set_defaults(format="text")
    p = queries.add_parser(
        "missing", parents=[common, character], help="catalogued files that are gone now"
    )
    p.add_argument(
        "--results",
        default=DEFAULT_RESULTS,
        help=f"the results folder the catalog's paths are relative to (default {DEFAULT_RESULTS})",
    )
    p.set_defaults(format="text")
    p = queries.add_parser(
        "sql",
        parents=[common],
        help="run SQL, read-only: tables catalog, sources, funnel_steps; views funnel, seeds, "
        "clusters, quality, tiers, duplicates, reviews, staged, image_stages",
    )
    p.add_argument("statement", help='e.g. "SELECT verdict, count(*) FROM catalog GROUP BY 1"')
    p.set_defaults(format="text")
    audit.set_defaults(func=cmd_audit)
    return audit
