import os
import signal
import subprocess
import sys

import pyarrow.parquet as pq
import pytest

from charfolio.core import tables
from charfolio.core.atomic import atomic_path, make_staging_dir, write_text_atomic
from charfolio.core.progress import Progress, format_duration


def test_atomic_path_leaves_nothing_on_failure(tmp_path):
    target = tmp_path / "out.txt"
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("killed")
    assert not target.exists()
    assert list(tmp_path.iterdir()) == []


def test_atomic_write_replaces_whole_file(tmp_path):
    target = tmp_path / "out.txt"
    write_text_atomic(target, "one")
    write_text_atomic(target, "two")
    assert target.read_text() == "two"


def test_sigkill_mid_write_never_leaves_a_partial_target(tmp_path):
    target = tmp_path / "big.bin"
    code = (
        "import sys, time\n"
        "from charfolio.core.atomic import atomic_path\n"
        "with atomic_path(sys.argv[1]) as tmp:\n"
        "    with open(tmp, 'wb') as fh:\n"
        "        fh.write(b'x' * 1000); fh.flush(); print('writing', flush=True); time.sleep(60)\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", code, str(target)], stdout=subprocess.PIPE)
    assert proc.stdout.readline().strip() == b"writing"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not target.exists()
    # The rerun's write of the same target takes the killed writer's temporary file with it.
    write_text_atomic(target, "done")
    assert [p.name for p in tmp_path.iterdir()] == ["big.bin"]


def test_write_table_enforces_schema(tmp_path):
    row = {"index": 0, "text": ", a", "category": "other", "backend": "template",
           "model": "m", "verdict": "accepted", "reason": None, "attempt": 1}  # fmt: skip
    path = tmp_path / "s.parquet"
    tables.write_table(path, [row], tables.SCENARIOS)
    assert pq.read_table(path).schema.names == tables.SCENARIOS.names
    with pytest.raises(ValueError, match="not in the"):
        tables.write_table(path, [row | {"surprise": 1}], tables.SCENARIOS)


def test_read_table_rejects_foreign_files(tmp_path):
    path = tmp_path / "x.parquet"
    tables.write_table(path, [], tables.IMAGES)
    with pytest.raises(ValueError, match="not a charfolio scenarios table"):
        tables.read_table(path, tables.SCENARIOS)


def test_progress_reports_rate_and_eta():
    lines: list[str] = []
    progress = Progress(total=4, label="job", log=lines.append, every_seconds=0)
    progress.advance(2)
    progress.advance(2)
    assert lines[0].startswith("job: 2/4 (50%)") and "ETA" in lines[0]
    assert lines[-1].startswith("job: 4/4 (100%)")
    assert format_duration(3725) == "1h02m" and format_duration(65) == "1m05s"


def test_atomic_files_get_umask_permissions(tmp_path):
    old = os.umask(0o022)
    try:
        write_text_atomic(tmp_path / "shared.txt", "x")
    finally:
        os.umask(old)
    assert (tmp_path / "shared.txt").stat().st_mode & 0o777 == 0o644


def test_concurrent_writers_of_a_shared_cache_file_never_share_a_temporary_file(tmp_path):
    """Two jobs filling one model cache entry at once: each writes its own temporary file,
    and the one that finishes last (the outer block) still renames its whole file into place."""
    target = tmp_path / "model.gguf"
    with atomic_path(target, shared=True) as first, atomic_path(target, shared=True) as second:
        assert first != second
        first.write_bytes(b"A" * 100)
        second.write_bytes(b"B" * 100)
    assert target.read_bytes() == b"A" * 100
    assert [p.name for p in tmp_path.iterdir()] == ["model.gguf"]


def test_staging_folders_keep_a_group_shared_parents_setgid_bit(tmp_path):
    """In a project folder with g+s, what is made inside must stay in the project's group."""
    parent = tmp_path / "project"
    parent.mkdir()
    parent.chmod(0o2775)
    old = os.umask(0o002)
    try:
        staging = make_staging_dir(parent, prefix=".tier_8.")
    finally:
        os.umask(old)
    assert staging.stat().st_mode & 0o7777 == 0o2775


def test_the_umask_is_read_without_being_changed(tmp_path, monkeypatch):
    from charfolio.core import atomic

    calls: list[int] = []
    real_umask = os.umask
    monkeypatch.setattr(os, "umask", lambda mask: calls.append(mask) or real_umask(mask))
    old = real_umask(0o027)
    try:
        assert atomic._umask() == 0o027
    finally:
        real_umask(old)
    assert calls == []  # no moment with umask 0 for another thread to create a file in
