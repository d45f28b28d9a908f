"""The folder listing the workflow takes at DAG time: light, and its digest follows the files."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from charfolio.core.folder_listing import list_folder


def test_importing_it_loads_no_heavy_module() -> None:
    # rules/common.smk imports it in every Snakemake process, each job's included.
    code = (
        "import sys, charfolio.core.folder_listing; "
        "print(sorted({'PIL', 'pyarrow', 'numpy', 'torch'} & set(sys.modules)))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_the_digest_changes_with_an_entry_and_only_then(tmp_path: Path) -> None:
    (tmp_path / "scene").mkdir()
    for name in ("a.png", "scene/b.jpg"):
        (tmp_path / name).write_bytes(b"pixels of " + name.encode())
    first = list_folder(tmp_path).digest()
    assert list_folder(tmp_path).digest() == first

    (tmp_path / "a.txt").write_text("a caption")  # a sidecar is not an entry
    (tmp_path / ".DS_Store").write_bytes(b"hidden")
    assert list_folder(tmp_path).digest() == first

    digests = {first}
    changes = {
        "touched": lambda: os.utime(tmp_path / "a.png", ns=(0, 10**18)),
        "rewritten": lambda: (tmp_path / "a.png").write_bytes(b"other pixels"),
        "made unreadable": lambda: (tmp_path / "a.png").chmod(0o000),
        "added": lambda: (tmp_path / "scene" / "c.gif").write_bytes(b"GIF89a"),
        "renamed": lambda: (tmp_path / "scene" / "c.gif").rename(tmp_path / "scene" / "d.gif"),
        "deleted": lambda: (tmp_path / "scene" / "b.jpg").unlink(),
    }
    for change, make in changes.items():
        make()
        digest = list_folder(tmp_path).digest()
        assert digest not in digests, change
        digests.add(digest)
