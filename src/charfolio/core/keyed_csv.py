"""A small CSV file people edit and a program updates: one row per `file`, a fixed header.

The human review files (decisions and ratings) are such files. They are read strictly
(the header exactly, one row per file, each problem named with the file and line number, as
an editor shows it) and updated under a lock with a whole-file atomic replace, so two
writers (two browser tabs, two review servers) never lose each other's rows and a reader
never sees half a file. Rows are written sorted by file, so the file diffs well in git.
"""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import fcntl
import io
import os
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path

from charfolio.core.atomic import atomic_path
from charfolio.core.regular_file import open_regular

KEY = "file"
Row = dict[str, str]


class CsvFileError(ValueError):
    """A keyed CSV file that cannot be used as it is; the message names the file and line."""


def read_keyed_csv(
    path: str | os.PathLike[str],
    columns: Sequence[str],
    check_row: Callable[[Row], str | None] = lambda row: None,
) -> dict[str, tuple[int, Row]]:
    """file -> (line number, row); a missing file is an empty mapping.

    `check_row` returns a problem with the row (or None). Every problem of the file is
    collected and raised at once, one per line, as `path line N: problem`.
    """
    source = Path(path)
    try:
        with open_regular(source) as stream:  # a FIFO or device is refused, not waited on
            text = stream.read().decode("utf-8-sig")  # a BOM from a spreadsheet is fine
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError) as error:
        raise CsvFileError(f"{source}: cannot be read as UTF-8 text ({error})") from None
    text = text.replace("\r\n", "\n")  # saved on Windows
    records = _records(text, source)
    header_line, header = next(((n, c) for n, c in records if _filled(c)), (0, None))
    if header is None:
        return {}  # an empty file: no rows yet
    if [h.strip() for h in header] != list(columns):
        raise CsvFileError(
            f"{source} line {header_line}: the header is {','.join(header)!r}; it must be "
            f"exactly {','.join(columns)!r}"
        )
    rows: dict[str, tuple[int, Row]] = {}
    problems: list[str] = []
    for line, cells in records:
        if not _filled(cells):
            continue  # blank lines are allowed
        if len(cells) != len(columns):
            problems.append(f"line {line}: {len(cells)} fields, the header has {len(columns)}")
            continue
        row = {c: v.strip() for c, v in zip(columns, cells, strict=True)}
        problem = _key_problem(row[KEY]) or check_row(row)
        if problem is None and row[KEY] in rows:
            problem = f"{row[KEY]!r} is also on line {rows[row[KEY]][0]}; keep one row per file"
        if problem is not None:
            problems.append(f"line {line}: {problem}")
            continue
        rows[row[KEY]] = (line, row)
    if problems:
        shown = "\n".join(f"  {source} {p}" for p in problems[:20])
        more = f"\n  ... and {len(problems) - 20} more" if len(problems) > 20 else ""
        raise CsvFileError(f"{source} has {len(problems)} bad row(s):\n{shown}{more}")
    return rows


def _filled(cells: Sequence[str]) -> bool:
    return any(c.strip() for c in cells)


def _records(text: str, source: Path) -> Iterator[tuple[int, list[str]]]:
    """(line number where the row starts, cells): a quoted cell may span lines, and an
    editor shows the row's first line. A line the csv module cannot parse is a CsvFileError."""
    reader = csv.reader(io.StringIO(text, newline=""))
    start = 1
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            raise CsvFileError(f"{source} line {start}: not CSV ({error})") from None
        yield start, cells
        start = reader.line_num + 1


_SHA256 = re.compile(r"[0-9a-f]{64}")
MAX_TEXT = 2000  # a note is a sentence, not a document: the csv module reads 128 kB at most


def sha256_problem(value: str) -> str | None:
    """The sha256 of the image a row was made on: 64 lowercase hex digits, or empty."""
    if value and not _SHA256.fullmatch(value):
        return f"sha256 {value!r} is not 64 lowercase hex digits (or empty)"
    return None


def time_problem(column: str, value: str) -> str | None:
    """An ISO 8601 time (a trailing Z for UTC is fine), or empty."""
    if value:
        try:
            dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return f"{column} {value!r} is not an ISO 8601 time"
    return None


def text_problem(column: str, value: str) -> str | None:
    """Free text: at most MAX_TEXT characters, no control characters but line breaks and tabs."""
    if len(value) > MAX_TEXT:
        return f"{column} is {len(value)} characters long; keep it to {MAX_TEXT}"
    if any(ord(c) < 32 and c not in "\n\t" for c in value):
        return f"{column} holds a control character"
    return None


def _key_problem(file: str) -> str | None:
    """A file key is a relative POSIX path inside the character's results, spelled one way
    (no ".", ".." or empty parts), so it names the same image as the reports' keys."""
    if not file:
        return "the file column is empty"
    parts = file.split("/")
    odd = "\\" in file or any(ord(c) < 32 for c in file)
    if odd or any(part in ("", ".", "..") for part in parts):
        return f"file {file!r} is not a relative path inside the character's results"
    return None


def write_keyed_csv(
    path: str | os.PathLike[str], columns: Sequence[str], rows: Mapping[str, Row]
) -> None:
    """All rows, sorted by file, replacing the file atomically."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    for key in sorted(rows):
        writer.writerow([rows[key].get(c, "") for c in columns])
    with atomic_path(path, shared=True) as tmp:
        tmp.write_text(buffer.getvalue(), encoding="utf-8")


@contextlib.contextmanager
def folder_flock(folder: Path) -> Iterator[None]:
    """An exclusive flock(2) on the folder itself: no lock file is left beside the CSVs,
    and the kernel drops the lock when the holder exits, however it exits."""
    folder.mkdir(parents=True, exist_ok=True)
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def update_keyed_csv(
    path: str | os.PathLike[str],
    columns: Sequence[str],
    changes: Mapping[str, Row | None],
    check_row: Callable[[Row], str | None] = lambda row: None,
) -> dict[str, Row]:
    """Apply `changes` (file -> new row, or None to remove it) to the file as it is now.

    Read, change and write happen under the folder's lock, so concurrent updates of other
    rows are kept. The changed rows are checked like rows read from the file. Returns all
    rows after the change.
    """
    target = Path(path)
    # Written as they will be read back: every column, stripped, missing ones empty.
    new = {
        key: None if row is None else {c: str(row.get(c, "") or "").strip() for c in columns}
        for key, row in changes.items()
    }
    for key, row in new.items():
        problem = _key_problem(key)
        if problem is None and row is not None:
            problem = check_row(row)
            if problem is None and row[KEY] != key:
                problem = f"row for {key!r} names file {row[KEY]!r}"
        if problem is not None:
            raise CsvFileError(f"{target}: refused change: {problem}")
    with folder_flock(target.parent):
        current = {k: row for k, (_, row) in read_keyed_csv(target, columns, check_row).items()}
        for key, row in new.items():
            if row is None:
                current.pop(key, None)
            else:
                current[key] = row
        write_keyed_csv(target, columns, current)
    return current
