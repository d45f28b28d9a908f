"""Table rows pointing at what is not an image file: every stage says `unreadable`, none hangs.

An ingested folder can hold a FIFO named .png (opening it waits for a writer forever), a link
to /dev/zero (reading it never ends), a folder, a dangling link or a file the user may not
read. Each stage reads its rows' files itself, so each one must refuse these on its own.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from charfolio.catalog.report.thumbs import Thumbnails
from charfolio.core.imaging import UNREADABLE, read_rgb
from charfolio.embed import embed_images, load_embeddings
from charfolio.embed.colour_layout import ColourLayoutEmbedder
from charfolio.faces import analyze_faces, create_face_detector
from charfolio.quality import score_images
from charfolio.quality.duplicates import hash_images

from .unprivileged import run_unprivileged, shared_folder

HOSTILE = ["fifo.png", "folder.png", "gone.png", "zero.png"]
FILES = ["good.png", *HOSTILE]


@pytest.fixture()
def root(tmp_path: Path) -> Path:
    Image.fromarray(np.full((40, 60, 3), 120, np.uint8)).save(tmp_path / "good.png")
    os.mkfifo(tmp_path / "fifo.png")
    (tmp_path / "folder.png").mkdir()
    (tmp_path / "gone.png").symlink_to(tmp_path / "deleted.png")
    (tmp_path / "zero.png").symlink_to("/dev/zero")
    return tmp_path


def _silent(_: str) -> None:
    pass


@pytest.mark.timeout(120)
def test_the_reader_refuses_each(root: Path) -> None:
    codes = {f: read_rgb(root / f).detail for f in HOSTILE}
    assert {f: d.split(":", 1)[0] for f, d in codes.items()} == {
        "fifo.png": "not_a_file",
        "folder.png": "not_a_file",
        "gone.png": "missing",
        "zero.png": "not_a_file",
    }
    assert read_rgb(root / "good.png").ok


@pytest.mark.timeout(120)
def test_faces_quality_and_hashes_give_unreadable_rows(root: Path) -> None:
    faces = analyze_faces(FILES, root, create_face_detector({"backend": "dlib"}), _silent)
    assert [r["face_verdict"] for r in faces][1:] == [UNREADABLE] * len(HOSTILE)
    quality = score_images(FILES, root, {}, workers=1, log=_silent)
    assert [r["reason"] for r in quality] == [None] + [UNREADABLE] * len(HOSTILE)
    hashes = hash_images(FILES, root, log=_silent)
    assert hashes[0]["sha256"] and hashes[0]["phash"]
    assert all(r["sha256"] is None and r["phash"] is None for r in hashes[1:])


@pytest.mark.timeout(120)
def test_embeddings_give_zero_rows(root: Path, tmp_path: Path) -> None:
    npy, index = tmp_path / "e.npy", tmp_path / "e.parquet"
    embed_images(FILES, root, ColourLayoutEmbedder(), 8, npy, index, log=_silent)
    vectors, rows = load_embeddings(npy, index)
    assert [r["ok"] for r in rows] == [True] + [False] * len(HOSTILE)
    assert not vectors[1:].any()


@pytest.mark.timeout(120)
def test_thumbnails_are_placeholders(root: Path) -> None:
    thumbs = Thumbnails(root)
    assert thumbs.uri("good.png").startswith("data:image/jpeg;base64,")
    assert [thumbs.uri(f) for f in HOSTILE] == [None] * len(HOSTILE)


STAGES_AS_USER = """
import json, sys
from pathlib import Path
from charfolio.quality.duplicates import hash_images
from charfolio.core.imaging import read_rgb
from charfolio.catalog.report.thumbs import Thumbnails
root = Path(sys.argv[1])
print(json.dumps({
    "read": read_rgb(root / "locked.png").detail,
    "hash": hash_images(["locked.png"], root, log=lambda m: None)[0]["sha256"],
    "thumb": Thumbnails(root).uri("locked.png"),
}))
"""


def test_a_file_the_user_may_not_read(tmp_path: Path) -> None:
    shared = shared_folder()
    try:
        Image.fromarray(np.full((8, 8, 3), 9, np.uint8)).save(shared / "locked.png")
        (shared / "locked.png").chmod(0o000)
        result = run_unprivileged(STAGES_AS_USER, str(shared))
        assert result.returncode == 0, result.stderr
        seen = json.loads(result.stdout)
        assert seen["read"].startswith("os_error: ") and "Permission denied" in seen["read"]
        assert seen["hash"] is None and seen["thumb"] is None
    finally:
        shutil.rmtree(shared)
