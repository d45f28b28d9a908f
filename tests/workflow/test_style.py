"""The project's conventions, checked: ruff, ruff format, snakefmt."""

import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import REPO

BIN = Path(sys.executable).parent


@pytest.mark.parametrize(
    "command",
    [
        ["ruff", "check", "src", "tests", "bench", "workflow"],
        ["ruff", "format", "--check", "src", "tests", "bench", "workflow"],
        ["snakefmt", "--check", "Snakefile", "rules"],
    ],
    ids=["ruff", "ruff-format", "snakefmt"],
)
def test_style(command):
    result = subprocess.run(
        [str(BIN / command[0]), *command[1:]], cwd=REPO, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr
