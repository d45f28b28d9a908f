"""A run killed with SIGKILL mid-job and rerun rebuilds exactly the incomplete outputs."""

from __future__ import annotations

import os
import signal
import subprocess
import time

import pyarrow.parquet as pq
import pytest

from .conftest import REPO, SNAKEMAKE, TINY_TARGETS, config_path, snakemake

pytestmark = pytest.mark.slow


def _partial_shard(root):
    """A shard folder with images but no table yet: a generate_images job is mid-way."""
    for folder in (root / "images").glob("seed_*"):
        if (
            folder.is_dir()
            and any(folder.glob("*.png"))
            and not folder.with_suffix(".parquet").exists()
        ):
            return folder
    return None


def test_sigkill_then_rerun_rebuilds_only_incomplete_outputs(workdir):
    root = workdir / "results" / "demo"
    cmd = [str(SNAKEMAKE), "-s", str(REPO / "Snakefile"), "-d", str(workdir), "--cores", "1",
           *TINY_TARGETS, "--configfile", config_path("tiny.yaml")]  # fmt: skip
    proc = subprocess.Popen(cmd, cwd=workdir, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    deadline = time.monotonic() + 600
    try:
        while (partial := _partial_shard(root)) is None:
            assert proc.poll() is None, "the run ended before it could be killed"
            assert time.monotonic() < deadline, "no generate_images job started in time"
            time.sleep(0.2)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    scenarios_mtime = (root / "scenarios.parquet").stat().st_mtime_ns
    assert not partial.with_suffix(".parquet").exists()

    # What a user does after a killed run: release Snakemake's lock, then rerun.
    snakemake(workdir, "--unlock", "--configfile", config_path("tiny.yaml"))
    dry = snakemake(workdir, "-n", *TINY_TARGETS, "--configfile", config_path("tiny.yaml")).stdout
    assert f"output: {partial.relative_to(workdir)}," in dry  # the half-made shard is redone
    assert "make_scenarios" not in dry.split("Job stats:")[1]

    snakemake(workdir, *TINY_TARGETS, "--configfile", config_path("tiny.yaml"))
    assert (root / "scenarios.parquet").stat().st_mtime_ns == scenarios_mtime
    for table_path in (root / "images").glob("seed_*.parquet"):
        rows = pq.read_table(table_path).to_pylist()
        assert len(rows) == 6
        assert sorted(p.name for p in table_path.with_suffix("").glob("*.png")) == sorted(
            os.path.basename(r["file"]) for r in rows
        )
    assert not list(root.rglob("*.tmp")), "temporary files were left behind"
