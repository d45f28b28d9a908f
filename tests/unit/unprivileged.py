"""Run Python code as a user without privileges, for tests of permission errors.

Root reads every file whatever its mode, so as root the code runs under `setpriv` as
nobody (65534); as any other user it runs as that user. Files the code must reach go in
`shared_folder()`, which every user can enter and write.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

import charfolio

SOURCE = Path(charfolio.__file__).resolve().parents[1]  # the tree under test, not /work/main


def shared_folder() -> Path:
    """A fresh folder under the system temp folder that any user may enter and write."""
    folder = Path(tempfile.mkdtemp(prefix="charfolio-unprivileged-"))
    folder.chmod(0o777)
    return folder


def run_unprivileged(code: str, *args: str) -> subprocess.CompletedProcess[str]:
    prefix: list[str] = []
    if os.geteuid() == 0:
        setpriv = shutil.which("setpriv")
        if setpriv is None:
            pytest.skip("running as root without setpriv (util-linux): cannot drop privileges")
        prefix = [setpriv, "--reuid=65534", "--regid=65534", "--clear-groups"]
    env = {**os.environ, "PYTHONPATH": str(SOURCE), "HOME": "/tmp"}
    return subprocess.run(
        [*prefix, sys.executable, "-c", code, *args],
        capture_output=True,
        text=True,
        env=env,
        cwd="/",
        timeout=300,
    )
