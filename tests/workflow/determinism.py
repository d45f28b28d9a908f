"""Compare two runs' results file by file: same config and seeds must give the same bytes.

Every file's sha256 must match, wherever the project was. The only exceptions are the
fields in TIME_FIELDS (a JSON key at any depth, a Parquet or CSV column): they hold a time,
which no two runs share. A file that has none of them is compared byte for byte.

Run as a script to compare two results folders:
    python -m tests.workflow.determinism /tmp/a/results/demo /tmp/b/results/demo
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import sys
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

# The one list of fields that may differ between two runs, and why each holds a time.
TIME_FIELDS: dict[str, str] = {
    "timestamp": "when an image was made (images tables, catalog.parquet): provenance of the run",
    "seconds": "how long the work took (lora summary.json and epochs.csv, storyboard.json)",
    "seconds_per_frame": "storyboard render time per frame (storyboard.json, ablation.parquet)",
    "seconds_to_first_step": "training start-up time (lora summary.json)",
    "steps_per_second": "training speed (lora summary.json)",
}
# Top-level folders of results/{character} that are not artifacts.
SKIPPED_FOLDERS: dict[str, str] = {
    "logs": "job logs: timestamped lines",
    "benchmarks": "Snakemake's per-job time and memory",
}


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _without_times(value: Any) -> tuple[Any, bool]:
    """`value` with every TIME_FIELDS key dropped, at any depth; and whether one was."""
    if isinstance(value, dict):
        kept, dropped = {}, False
        for key, item in value.items():
            if key in TIME_FIELDS:
                dropped = True
                continue
            kept[key], inner = _without_times(item)
            dropped = dropped or inner
        return kept, dropped
    if isinstance(value, list):
        items = [_without_times(item) for item in value]
        return [item for item, _ in items], any(inner for _, inner in items)
    return value, False


def _json_digest(data: bytes) -> str:
    value, dropped = _without_times(json.loads(data))
    return _sha256(json.dumps(value).encode()) if dropped else _sha256(data)


def _parquet_digest(path: Path, data: bytes) -> str:
    table = pq.read_table(path)
    times = [name for name in table.column_names if name in TIME_FIELDS]
    if not times:
        return _sha256(data)
    kept = table.drop_columns(times)
    sink = io.BytesIO()
    with pa.ipc.new_stream(sink, kept.schema) as writer:  # the schema's metadata too
        writer.write_table(kept)
    return _sha256(sink.getvalue())


def _csv_digest(data: bytes) -> str:
    rows = list(csv.reader(io.StringIO(data.decode("utf-8"))))
    keep = [i for i, name in enumerate(rows[0] if rows else []) if name not in TIME_FIELDS]
    if not rows or len(keep) == len(rows[0]):
        return _sha256(data)
    return _sha256(json.dumps([[row[i] for i in keep if i < len(row)] for row in rows]).encode())


def file_digest(path: Path) -> str:
    """sha256 of a file, of its TIME_FIELDS-free content when it has any; a link's target."""
    if path.is_symlink():
        return f"symlink to {os.readlink(path)}"
    data = path.read_bytes()
    if path.suffix == ".json":
        return _json_digest(data)
    if path.suffix == ".parquet":
        return _parquet_digest(path, data)
    if path.suffix == ".csv":
        return _csv_digest(data)
    return _sha256(data)


def run_digests(root: Path) -> dict[str, str]:
    """{path relative to `root`: digest} of every file and link, hidden ones too."""
    digests = {}
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root)
        if relative.parts[0] in SKIPPED_FOLDERS or (path.is_dir() and not path.is_symlink()):
            continue
        digests[relative.as_posix()] = file_digest(path)
    return digests


def differing_files(first: dict[str, str], second: dict[str, str]) -> list[str]:
    """The files whose digests differ between two runs, or that only one run has."""
    return sorted(p for p in first.keys() | second.keys() if first.get(p) != second.get(p))


def main(argv: list[str]) -> int:
    first, second = run_digests(Path(argv[0])), run_digests(Path(argv[1]))
    differ = differing_files(first, second)
    for path in differ:
        print(path)
    print(f"{len(differ)} of {len(first.keys() | second.keys())} files differ", file=sys.stderr)
    return 1 if differ else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
