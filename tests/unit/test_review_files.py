"""The human review files: keyed CSV reading and locked updates, and the ratings on top."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

import pytest

from charfolio.core.digest import sha256_file
from charfolio.core.keyed_csv import CsvFileError, read_keyed_csv, update_keyed_csv
from charfolio.core.ratings import (
    RATING_COLUMNS,
    MeanRating,
    Rating,
    mean_rating,
    read_ratings,
    update_ratings,
)

HEADER = ",".join(RATING_COLUMNS)
SHA = "a" * 64


def write(path: Path, *lines: str, bom: bool = False) -> Path:
    path.write_text(("\ufeff" if bom else "") + "\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_missing_and_empty_files_are_no_ratings(tmp_path):
    assert read_ratings(tmp_path / "none.csv") == {}
    assert read_ratings(write(tmp_path / "header.csv", HEADER)) == {}
    (tmp_path / "empty.csv").write_text("")
    assert read_ratings(tmp_path / "empty.csv") == {}


def test_bom_blank_lines_and_spaces_are_accepted(tmp_path):
    path = write(
        tmp_path / "r.csv",
        "",
        HEADER,
        "",
        f"story/a/frame_01.png, 4 ,ana,2026-12-03T10:00:00Z,{SHA}",
        "  ,  ,",
        "story/a/frame_02.png,2,,,",
        "",
        bom=True,
    )
    assert read_ratings(path) == {
        "story/a/frame_01.png": Rating(
            "story/a/frame_01.png", 4, "ana", "2026-12-03T10:00:00Z", SHA
        ),
        "story/a/frame_02.png": Rating("story/a/frame_02.png", 2),
    }


def test_a_wrong_header_is_refused_on_line_1(tmp_path):
    path = write(tmp_path / "r.csv", "file,rating,reviewer", "a.png,3,ana")
    with pytest.raises(CsvFileError, match=r"r\.csv line 1: the header is 'file,rating,reviewer'"):
        read_ratings(path)


def test_every_bad_line_is_listed_with_its_number(tmp_path):
    path = write(
        tmp_path / "r.csv",
        HEADER,
        "ok.png,3,,,",  # line 2
        "zero.png,0,,,",
        "six.png,6,,,",
        "half.png,3.5,,,",
        "letter.png,x,,,",
        "short.png,3",  # line 7
        "ok.png,5,,,",  # line 8: a second row for ok.png
        "../outside.png,3,,,",
        "/abs/olute.png,3,,,",  # line 10
        "sha.png,3,,,ABC",
        "when.png,3,ana,yesterday,",  # line 12
    )
    with pytest.raises(CsvFileError) as caught:
        read_ratings(path)
    message = str(caught.value)
    assert "has 10 bad row(s)" in message
    expected = {
        3: "rating '0'",
        4: "rating '6'",
        5: "rating '3.5'",
        6: "rating 'x'",
        7: "2 fields, the header has 5",
        8: "'ok.png' is also on line 2",
        9: "'../outside.png' is not a relative path",
        10: "'/abs/olute.png' is not a relative path",
        11: "sha256 'ABC'",
        12: "rated_at 'yesterday' is not an ISO 8601 time",
    }
    lines = message.splitlines()[1:]
    assert len(lines) == len(expected)
    for line, (number, problem) in zip(lines, expected.items(), strict=True):
        assert f"r.csv line {number}: " in line and problem in line, line


def test_line_numbers_count_physical_lines_and_odd_bytes_fail_cleanly(tmp_path):
    path = write(tmp_path / "r.csv", HEADER, '"multi', 'line.png",3,,,', "bad.png,9,,,")
    with pytest.raises(CsvFileError, match=r"line 4: rating '9'"):
        read_ratings(path)
    (tmp_path / "nul.csv").write_bytes(f"{HEADER}\na.png,3,,,\nb\0.png,3,,,\n".encode())
    with pytest.raises(CsvFileError, match=r"nul\.csv line 3: file 'b\\x00\.png' is not"):
        read_ratings(tmp_path / "nul.csv")
    write(tmp_path / "huge.csv", HEADER, "a.png,3,,,", "x" * 200_000 + ".png,3,,,")
    with pytest.raises(CsvFileError, match=r"huge\.csv line 3: not CSV"):
        read_ratings(tmp_path / "huge.csv")
    (tmp_path / "latin.csv").write_bytes(f"{HEADER}\nb\xe9.png,3,,,\n".encode("latin-1"))
    with pytest.raises(CsvFileError, match="cannot be read as UTF-8"):
        read_ratings(tmp_path / "latin.csv")


@pytest.mark.parametrize("key", ["../a.png", "/a.png", "a/../../b.png", "a\\b.png", "", "./a.png",
                                 "a//b.png"])  # fmt: skip
def test_updates_refuse_keys_outside_the_results(tmp_path, key):
    with pytest.raises(CsvFileError, match="refused change"):
        update_ratings(tmp_path / "r.csv", {key: Rating(key, 3)})
    assert not (tmp_path / "r.csv").exists()


def test_updates_refuse_bad_rows_and_keep_the_file(tmp_path):
    path = tmp_path / "r.csv"
    update_ratings(path, {"a.png": Rating("a.png", 3)})
    before = path.read_text()
    for bad in (Rating("b.png", 0), Rating("b.png", 6), Rating("other.png", 3)):
        with pytest.raises(CsvFileError, match="refused change"):
            update_ratings(path, {"b.png": bad})
    assert path.read_text() == before


def test_an_update_of_a_partial_row_fills_empty_columns(tmp_path):
    path = tmp_path / "r.csv"
    update_keyed_csv(path, RATING_COLUMNS, {"a.png": {"file": "a.png", "rating": "2"}})
    assert path.read_text() == f"{HEADER}\na.png,2,,,\n"


def test_update_sorts_rows_and_none_removes(tmp_path):
    path = tmp_path / "reviews" / "demo_ratings.csv"
    update_ratings(path, {f: Rating(f, 3, "ana") for f in ("c.png", "a.png", "b/x.png")})
    update_ratings(path, {"b/x.png": None, "a.png": Rating("a.png", 5, "bo"), "gone.png": None})
    assert path.read_text() == f"{HEADER}\na.png,5,bo,,\nc.png,3,ana,,\n"
    assert list(read_ratings(path)) == ["a.png", "c.png"]
    assert [p.name for p in path.parent.iterdir()] == ["demo_ratings.csv"]  # no lock or tmp file


def test_an_update_never_overwrites_a_broken_file(tmp_path):
    path = write(tmp_path / "r.csv", HEADER, "a.png,9,,,")
    with pytest.raises(CsvFileError, match="line 2"):
        update_ratings(path, {"b.png": Rating("b.png", 3)})
    assert "a.png,9" in path.read_text()


def _add_rows(path: str, prefix: str, n: int) -> None:
    for i in range(n):
        update_ratings(path, {f"{prefix}/{i:02d}.png": Rating(f"{prefix}/{i:02d}.png", 1 + i % 5)})


def test_concurrent_processes_keep_each_others_rows(tmp_path):
    path = str(tmp_path / "r.csv")
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_add_rows, args=(path, p, 50)) for p in ("one", "two")]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(120)
        assert worker.exitcode == 0
    ratings = read_ratings(path)
    assert len(ratings) == 100
    assert list(ratings) == sorted(ratings)
    assert ratings["two/49.png"].rating == 5


def test_read_keyed_csv_returns_line_numbers(tmp_path):
    path = write(tmp_path / "k.csv", "file,note", "", "b.png,x", "a.png,y")
    assert read_keyed_csv(path, ("file", "note")) == {
        "b.png": (3, {"file": "b.png", "note": "x"}),
        "a.png": (4, {"file": "a.png", "note": "y"}),
    }


def test_mean_rating_leaves_out_stale_ratings(tmp_path):
    board = tmp_path / "story" / "launch"
    board.mkdir(parents=True)
    for i in range(1, 5):
        (board / f"frame_{i:02d}.png").write_bytes(f"pixels {i}".encode())
    files = [f"story/launch/frame_{i:02d}.png" for i in range(1, 5)]
    current = {f: sha256_file(tmp_path / f) for f in files}
    ratings = {
        files[0]: Rating(files[0], 5, sha256=current[files[0]]),
        files[1]: Rating(files[1], 2, sha256=current[files[1]]),
        files[2]: Rating(files[2], 1, sha256="0" * 64),  # an earlier render: stale
        "story/other/frame_01.png": Rating("story/other/frame_01.png", 1),  # not this board
    }
    assert mean_rating(ratings, files, tmp_path) == MeanRating(3.5, 2, 1)
    (board / "frame_01.png").write_bytes(b"re-rendered")
    assert mean_rating(ratings, files, tmp_path) == MeanRating(2.0, 1, 2)
    # a rating without a sha256 counts as current; no rating at all is an empty mean
    assert mean_rating({files[3]: Rating(files[3], 4)}, files, tmp_path) == MeanRating(4.0, 1, 0)
    assert mean_rating({}, files, tmp_path) == MeanRating(None, 0, 0)
