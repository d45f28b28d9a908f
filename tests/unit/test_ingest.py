import hashlib
import json
import os
import shutil

import numpy as np
import pytest
from PIL import Image

from charfolio.core import tables
from charfolio.core.folder_listing import list_folder
from charfolio.generation.ingest import ingest_folder

from .unprivileged import run_unprivileged, shared_folder


def _png(path, value):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((32, 48, 3), value, np.uint8)).save(path)


def test_ingest_groups_by_subfolder_and_keeps_bad_files(tmp_path):
    folder = tmp_path / "frames"
    _png(folder / "scene_a" / "1.png", 10)
    _png(folder / "scene_b" / "2.PNG", 20)
    _png(folder / "loose.png", 30)
    (folder / "scene_a" / "broken.jpg").write_text("not an image")
    (folder / ".hidden.png").write_text("skip me")
    (folder / "notes.txt").write_text("not an image suffix")
    root = tmp_path / "results" / "c"
    table = ingest_folder(folder, "c", root, root / "images" / "folder.parquet", log=lambda m: None)
    rows = {r["file"]: r for r in table.to_pylist()}
    assert set(rows) == {
        "source/loose.png",
        "source/scene_a/1.png",
        "source/scene_a/broken.jpg",
        "source/scene_b/2.PNG",
    }
    assert rows["source/loose.png"]["seed"] == 0
    assert rows["source/scene_a/1.png"]["seed"] == 1 and rows["source/scene_b/2.PNG"]["seed"] == 2
    assert (
        rows["source/scene_a/1.png"]["width"] == 48
        and rows["source/scene_a/broken.jpg"]["width"] == 0
    )
    assert (root / "source" / "scene_a" / "1.png").exists()
    assert table.schema.names == tables.IMAGES.names


def test_relinking_replaces_only_the_link(tmp_path):
    first, second = tmp_path / "one", tmp_path / "two"
    _png(first / "a.png", 1)
    _png(second / "b.png", 2)
    root = tmp_path / "r"
    ingest_folder(first, "c", root, root / "t.parquet", log=lambda m: None)
    ingest_folder(second, "c", root, root / "t.parquet", log=lambda m: None)
    assert (first / "a.png").exists()  # the old folder is untouched
    assert (root / "source").resolve() == second.resolve()


def test_source_path_that_is_a_real_folder_is_never_replaced(tmp_path):
    _png(tmp_path / "in" / "a.png", 1)
    root = tmp_path / "r"
    (root / "source").mkdir(parents=True)
    with pytest.raises(FileExistsError, match="move it away"):
        ingest_folder(tmp_path / "in", "c", root, root / "t.parquet", log=lambda m: None)


def test_empty_and_missing_folders_are_clear_errors(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="no images"):
        ingest_folder(tmp_path / "empty", "c", tmp_path / "r", tmp_path / "t.parquet")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        ingest_folder(tmp_path / "nope", "c", tmp_path / "r", tmp_path / "t.parquet")
    assert list_folder(tmp_path / "empty").entries == ()


def _ingest(folder, root, **kwargs):
    lines: list[str] = []
    table = ingest_folder(
        folder, "c", root, root / "images" / "folder.parquet", log=lines.append, **kwargs
    )
    return {r["file"]: r for r in table.to_pylist()}, "\n".join(lines)


def _problem(row) -> str | None:
    """The code of why ingest could not read a row's file (None when it could)."""
    problem = json.loads(row["settings_json"]).get("unreadable")
    return problem.split(":", 1)[0] if problem else None


def test_every_file_but_sidecars_is_a_row(tmp_path):
    folder = tmp_path / "in"
    _png(folder / "a.png", 10)
    Image.new("P", (16, 8)).save(folder / "anim.gif")
    Image.fromarray(np.full((8, 16, 3), 90, np.uint8)).save(folder / "photo.avif")
    (folder / "phone.heic").write_bytes(b"\x00\x00\x00\x18ftypheic" + b"\x00" * 64)
    (folder / "scan.unknownext").write_bytes(b"who knows")
    for sidecar in ("a.txt", "a.caption", "a.json", "a.xmp", "a.yaml", "a.npz", "Thumbs.db"):
        (folder / sidecar).write_text("not an image")
    rows, log = _ingest(folder, tmp_path / "r")
    assert set(rows) == {
        f"source/{n}" for n in ("a.png", "anim.gif", "photo.avif", "phone.heic", "scan.unknownext")
    }
    assert (rows["source/anim.gif"]["width"], rows["source/photo.avif"]["width"]) == (16, 16)
    assert rows["source/phone.heic"]["width"] == 0  # Pillow cannot read it: the stages say so
    assert all(_problem(r) is None for r in rows.values())  # all regular files, all hashed
    assert "7 sidecar" in log


@pytest.mark.timeout(120)
def test_special_files_become_unreadable_rows_without_being_opened(tmp_path):
    folder = tmp_path / "in"
    _png(folder / "good.png", 10)
    os.mkfifo(folder / "fifo.png")  # opening it for reading would wait for a writer forever
    (folder / "zero.png").symlink_to("/dev/zero")  # reading it would never end
    (folder / "gone.png").symlink_to(tmp_path / "deleted.png")
    (folder / "loop_a.png").symlink_to(folder / "loop_b.png")
    (folder / "loop_b.png").symlink_to(folder / "loop_a.png")
    rows, log = _ingest(folder, tmp_path / "r")
    assert {f: _problem(r) for f, r in rows.items()} == {
        "source/good.png": None,
        "source/fifo.png": "not_a_file",
        "source/zero.png": "not_a_file",
        "source/gone.png": "dangling_link",
        "source/loop_a.png": "symlink_loop",
        "source/loop_b.png": "symlink_loop",
    }
    assert all(r["sha256"] == "" and r["width"] == 0 for f, r in rows.items() if "good" not in f)
    assert "1 readable" in log and "5 unreadable" in log


def test_a_folder_link_loop_is_walked_once(tmp_path):
    folder = tmp_path / "in"
    _png(folder / "scene" / "a.png", 10)
    (folder / "scene" / "up").symlink_to(folder)  # scene/up/scene/up/... as far as ELOOP goes
    (folder / "again").symlink_to(folder / "scene")
    rows, log = _ingest(folder, tmp_path / "r")
    assert set(rows) == {"source/scene/a.png"}
    assert "2 folders already walked" in log


def test_a_folder_of_links_to_images_elsewhere_is_ingested(tmp_path):
    elsewhere = tmp_path / "library"
    _png(elsewhere / "x.png", 10)
    _png(elsewhere / "shoot" / "y.png", 20)
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "x.png").symlink_to(elsewhere / "x.png")
    (folder / "shoot").symlink_to(elsewhere / "shoot")
    rows, log = _ingest(folder, tmp_path / "r")
    assert set(rows) == {"source/x.png", "source/shoot/y.png"}
    assert (
        rows["source/x.png"]["sha256"]
        == hashlib.sha256((elsewhere / "x.png").read_bytes()).hexdigest()
    )
    assert "2 reached through links outside" in log


def test_a_file_above_the_byte_limit_is_a_row_and_not_read(tmp_path):
    folder = tmp_path / "in"
    _png(folder / "small.png", 10)
    (folder / "huge.tif").write_bytes(b"\x00" * 5000)
    rows, _ = _ingest(folder, tmp_path / "r", max_bytes=4000)
    assert _problem(rows["source/huge.tif"]) == "too_many_bytes"
    assert rows["source/huge.tif"]["bytes"] == 5000 and rows["source/huge.tif"]["sha256"] == ""
    assert _problem(rows["source/small.png"]) is None


UNREADABLE_ENTRIES = """
import json, sys
from pathlib import Path
from charfolio.generation.ingest import ingest_folder
folder, root = Path(sys.argv[1]), Path(sys.argv[2])
table = ingest_folder(folder, "c", root, root / "t.parquet", log=lambda m: None)
print(json.dumps({r["file"]: json.loads(r["settings_json"]).get("unreadable")
                  for r in table.to_pylist()}))
"""


def test_unreadable_file_and_subfolder_are_rows_for_a_user_without_access(tmp_path):
    shared = shared_folder()
    try:
        folder = shared / "in"
        _png(folder / "ok.png", 10)
        _png(folder / "locked.png", 20)
        _png(folder / "private" / "inside.png", 30)
        for path in (folder, folder / "private"):
            path.chmod(0o755)
        (folder / "ok.png").chmod(0o644)
        (folder / "locked.png").chmod(0o000)
        (folder / "private").chmod(0o000)
        result = run_unprivileged(UNREADABLE_ENTRIES, str(folder), str(shared / "r"))
        assert result.returncode == 0, result.stderr
        problems = json.loads(result.stdout)
        assert problems["source/ok.png"] is None
        assert problems["source/locked.png"].startswith("os_error: ")
        assert problems["source/private"].startswith("unlistable_folder: ")
        assert "Permission denied" in problems["source/private"]
    finally:
        (shared / "in" / "private").chmod(0o755)
        shutil.rmtree(shared)


def test_a_link_to_a_folder_enclosing_the_images_is_a_row_not_a_walk_of_the_disk(tmp_path):
    home = tmp_path / "home"
    folder = home / "photos"
    _png(folder / "a.png", 10)
    _png(home / "Downloads" / "unrelated.png", 20)
    (folder / "home").symlink_to(home)  # e.g. ln -s ~ photos/home, or a link to /
    rows, _ = _ingest(folder, tmp_path / "r")
    assert set(rows) == {"source/a.png", "source/home"}
    assert _problem(rows["source/home"]) == "encloses_folder"
