"""Run the real Snakemake workflow in a scratch working directory."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SNAKEMAKE = Path(sys.executable).parent / "snakemake"
# The tiny model's images are noise (no faces, empty tiers): train_lora has nothing to fit,
# so tiny-config runs stop at the catalog and report.
TINY_TARGETS = (
    "results/demo/catalog.parquet",
    "results/demo/report.html",
    "results/demo/embeddings/open_clip-charfolio-tiny-vit-random.npy",
)


def snakemake(
    workdir: Path,
    *args: str,
    check: bool = True,
    timeout: int = 1200,
    env: Mapping[str, str] | None = None,
) -> subprocess.CompletedProcess:
    cmd = [str(SNAKEMAKE), "-s", str(REPO / "Snakefile"), "-d", str(workdir), "--cores", "2", *args]
    run_env = dict(os.environ if env is None else env) | {"PYTHONHASHSEED": "0"}
    result = subprocess.run(
        cmd, capture_output=True, text=True, timeout=timeout, env=run_env, cwd=workdir
    )
    if check and result.returncode != 0:
        raise AssertionError(
            f"snakemake {' '.join(args)} failed:\n{result.stdout[-4000:]}\n{result.stderr[-8000:]}"
        )
    return result


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    """A working directory that sees the repo's config/ (relative paths resolve as in the repo)."""
    (tmp_path / "config").symlink_to(REPO / "config")
    return tmp_path


def config_path(name: str) -> str:
    local = REPO / "tests" / "workflow" / "configs" / name
    return str(local if local.exists() else REPO / "config" / name)


def planned_jobs(dry_run_output: str) -> dict[str, int]:
    """The job counts of a dry run's "Job stats" table ({} when nothing is to be done)."""
    if "Job stats:" not in dry_run_output:
        return {}
    counts = {}
    for line in dry_run_output.split("Job stats:")[1].splitlines()[3:]:
        name, count = line.split()
        if name == "total":
            return counts
        counts[name] = int(count)
    raise AssertionError("no total line in the job stats")
