"""The lock's inputs fingerprint: `make lock` stamps it into every lock file, the tests compare.

A lock file is current when it was made from the dependency tables of pyproject.toml and the
.in files beside this script as they are now. Their digest is written as the first line of each
lock file; editing any of them without `make lock` makes tests/unit/test_lock.py fail.
"""

from __future__ import annotations

import hashlib
import json
import sys
import tomllib
from pathlib import Path

LOCK_DIR = Path(__file__).resolve().parent
PROJECT_DIR = LOCK_DIR.parents[1]
LOCK_FILES = ("build.txt", "demo.txt", "all.txt")
INPUT_FILES = ("build.in", "constraints.in", "overrides.in")
STAMP_PREFIX = "# lock inputs sha256: "


def inputs_digest(project_dir: Path = PROJECT_DIR) -> str:
    """sha256 over what the resolver reads: pyproject's dependency tables and the .in files."""
    pyproject = tomllib.loads((project_dir / "pyproject.toml").read_text())
    project = pyproject["project"]
    resolver_input = {
        "requires-python": project.get("requires-python"),
        "dependencies": project.get("dependencies", []),
        "optional-dependencies": project.get("optional-dependencies", {}),
        "build-system": pyproject.get("build-system", {}).get("requires", []),
        "files": {name: (project_dir / "envs" / "lock" / name).read_text() for name in INPUT_FILES},
    }
    return hashlib.sha256(json.dumps(resolver_input, sort_keys=True).encode()).hexdigest()


def recorded_digest(lock_file: Path) -> str | None:
    first_line = lock_file.read_text().splitlines()[0] if lock_file.stat().st_size else ""
    return first_line.removeprefix(STAMP_PREFIX) if first_line.startswith(STAMP_PREFIX) else None


def stamp(project_dir: Path = PROJECT_DIR) -> None:
    """Write the current inputs digest as the first line of every lock file."""
    stamp_line = STAMP_PREFIX + inputs_digest(project_dir) + "\n"
    for name in LOCK_FILES:
        path = project_dir / "envs" / "lock" / name
        lines = path.read_text().splitlines(keepends=True)
        body = lines[1:] if lines and lines[0].startswith(STAMP_PREFIX) else lines
        path.write_text(stamp_line + "".join(body))


if __name__ == "__main__":
    if sys.argv[1:] != ["stamp"]:
        sys.exit("usage: python envs/lock/lockfile.py stamp")
    stamp()
