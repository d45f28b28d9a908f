"""A full disk during embed_images is an error naming the file, not a SIGBUS and a stray file.

The job runs in a subprocess inside a user + mount namespace (`unshare -rm`, no root needed)
with its output folder on a 1 MiB tmpfs; the embeddings need 2 MiB.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

# Embeds 8 copies of one image with a 65,536-wide constant embedder (2 MiB of float32) into
# argv[2], then prints what is left in that folder. Output: "error <message>" or "ok".
JOB = """
import sys
from pathlib import Path
import numpy as np
from charfolio.embed import embed_images

class WideEmbedder:
    name = model = "wide"
    dim = 65536
    def embed(self, images):
        return np.full((len(images), self.dim), 1.0 / 256, dtype=np.float32)

root, out = Path(sys.argv[1]), Path(sys.argv[2])
try:
    embed_images(["image.png"] * 8, root, WideEmbedder(), 4, out / "e.npy", out / "e.parquet")
    print("ok")
except OSError as error:
    print("error", error)
"""


def _namespaces_work() -> bool:
    if shutil.which("unshare") is None:
        return False
    probe = subprocess.run(["unshare", "-rm", "true"], capture_output=True)
    return probe.returncode == 0


@pytest.mark.skipif(
    not _namespaces_work(),
    reason="needs `unshare -rm` (user and mount namespaces) to mount a small tmpfs without root",
)
def test_a_full_disk_names_the_file_and_leaves_nothing_behind(tmp_path: Path) -> None:
    Image.new("RGB", (8, 8), (90, 30, 30)).save(tmp_path / "image.png")
    small = tmp_path / "small"
    small.mkdir()
    script = (
        'mount -t tmpfs -o size=1m tmpfs "$2" || exit 99\n'
        '"$3" -c "$4" "$1" "$2"\n'
        'echo "exit $?"\n'
        'ls -A "$2"\n'
    )
    run = subprocess.run(
        ["unshare", "-rm", "sh", "-c", script, "sh", str(tmp_path), str(small), sys.executable, JOB],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    if run.returncode == 99:
        pytest.skip(f"cannot mount a tmpfs in a user namespace here: {run.stderr.strip()}")
    lines = run.stdout.splitlines()
    assert "exit 0" in lines, f"the job died instead of failing: {run.stdout}{run.stderr[-2000:]}"
    message = lines[0]
    assert message.startswith("error ") and "No space left on device" in message, message
    assert str(small / "e.npy") in message and "2,097,280 bytes" in message, message
    assert lines[lines.index("exit 0") + 1 :] == [], "files were left on the full disk"
