import numpy as np
import pytest
from PIL import Image

from charfolio import tables
from charfolio.ingest import find_images, ingest_folder


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
    assert find_images(tmp_path / "empty") == []
