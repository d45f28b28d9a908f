"""Every kill is recoverable: SIGKILL at any GPU rule, `--unlock`, rerun: the same artifacts.

Snakemake deletes a job's declared outputs when the job starts, so a killed job leaves them
missing while everything built from them earlier is still there. The rerun remakes them only
if some job that reads them declares them as input; a job that reads a file it does not
declare (a sibling of its input, a file another artifact names) fails on the rerun, or is
never rerun at all. One demo run is the reference; the tests below work on copies of it.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

from . import file_access
from .conftest import REPO, SNAKEMAKE, config_path, planned_jobs, snakemake
from .determinism import _without_times, differing_files, run_digests

pytestmark = pytest.mark.slow

DEMO = ("--configfile", config_path("demo.yaml"))
# The rules that run on a GPU in production (`resources: gpu=`), from the rules files.
GPU_RULES = sorted(
    name
    for smk in (REPO / "rules").glob("*.smk")
    for name, body in re.findall(r"^rule (\w+):\n((?:[ #].*\n|\n)*)", smk.read_text(), re.M)
    if re.search(r"^\s+gpu=", body, re.M)
)
# GPU rules the demo does not run, and why (the kill test must reach every other one).
NOT_IN_DEMO = {"caption_images": "only characters with an image_folder are captioned"}
# Files a job reads without declaring them, each for a reason that survives a kill.
UNDECLARED_BY_DESIGN = {
    "train_lora": (
        r"lora/[^/]+/tier_\d+/(state|checkpoints)(/.*)?",
        "its own resume state: kept on purpose when a training job is killed (lora.smk)",
    ),
    "render_checkpoints": (
        r"lora/[^/]+/tier_\d+/checkpoints/epoch-\d+\.safetensors",
        "the epochs summary.json lists: train_lora keeps checkpoints/ undeclared so a killed "
        "run resumes, and writes summary.json (declared, deleted at its start) after them",
    ),
    "evaluate_storyboard": (
        r"(story/[^/]+|ablation/[^/]+/[^/]+)/(frame_\d+\.(png|json)|control_map\.png)",
        "the frames storyboard.json names: its job moves them in, then writes storyboard.json "
        "(declared, deleted at the job's start) last",
    ),
}


# Rules whose demo jobs log and finish within milliseconds of their script's start: killed as
# soon as Snakemake has started them (outputs deleted), not once they have logged.
QUICK = {"split_story": "the deterministic splitter writes frames.json right after its log"}


def _differing_artifacts(expected: Path, got: Path) -> list[str]:
    """The files that differ between two results folders, but for a LoRA summary's "resumed":
    a training job killed mid-way resumes from its saved state, to the same weights."""
    differ = differing_files(run_digests(expected), run_digests(got))
    return [path for path in differ if not _same_but_resumed(expected / path, got / path)]


def _same_but_resumed(expected: Path, got: Path) -> bool:
    if expected.name != "summary.json" or not (expected.is_file() and got.is_file()):
        return False
    summaries = [json.loads(path.read_text(encoding="utf-8")) for path in (expected, got)]
    first, second = (_without_times(summary)[0] for summary in summaries)
    return first.pop("resumed", None) is False and second.pop("resumed", None) and first == second


def _command(workdir: Path) -> list[str]:
    return [
        str(SNAKEMAKE),
        "-s",
        str(REPO / "Snakefile"),
        "-d",
        str(workdir),
        "--cores",
        "2",
        *DEMO,
    ]


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> dict:
    """A complete demo run, traced with strace when this machine allows it."""
    root = tmp_path_factory.mktemp("reference")
    workdir = root / "project"
    workdir.mkdir()
    (workdir / "config").symlink_to(REPO / "config")
    trace = root / "strace.txt" if file_access.strace_works() else None
    prefix = [file_access.STRACE, *file_access.STRACE_ARGS, "-o", str(trace)] if trace else []
    env = os.environ | {"PYTHONHASHSEED": "0"}
    result = subprocess.run([*prefix, *_command(workdir)], cwd=workdir, env=env,
                            capture_output=True, text=True, timeout=1500)  # fmt: skip
    assert result.returncode == 0, result.stderr[-8000:]
    return {"workdir": workdir, "log": result.stderr, "trace": trace}


def _copy(reference: dict, target: Path) -> Path:
    """A copy of the finished run, mtimes and relative links kept (Snakemake sees it done)."""
    shutil.copytree(reference["workdir"], target, symlinks=True)
    return target


def test_every_job_reads_only_files_its_rule_declares(reference):
    if reference["trace"] is None:
        pytest.skip("strace is missing or may not trace child processes here (ptrace)")
    jobs = file_access.parse_jobs(reference["log"])
    processes = file_access.parse_trace(
        reference["trace"].read_text(errors="replace"), reference["workdir"]
    )
    # The trace saw every rule's jobs, or the check below would pass by seeing nothing.
    assert file_access.jobs_traced(jobs, processes) == {job.rule for job in jobs}
    found = {}
    for job, paths in file_access.undeclared_reads(jobs, processes).items():
        rule = job.split()[0]
        allowed = UNDECLARED_BY_DESIGN.get(rule, (r"(?!)", ""))[0]
        paths = {p for p in paths if not re.fullmatch(rf"results/[^/]+/{allowed}", p)}
        if paths:
            found[job] = sorted(paths)[:5] + (
                [f"... {len(paths)} in all"] if len(paths) > 5 else []
            )
    assert found == {}, "jobs read results files their rules do not declare as input"


def test_deleted_outputs_of_any_job_are_remade_by_a_rerun(reference, tmp_path):
    """What a killed job leaves: its outputs deleted, everything else done. The rerun's plan
    must include that job (else a reader of those files fails, or the files stay missing)."""
    workdir = _copy(reference, tmp_path / "project")
    not_planned = []
    for job in file_access.parse_jobs(reference["log"]):
        aside = tmp_path / "aside"
        for output in job.outputs:
            (aside / output).parent.mkdir(parents=True, exist_ok=True)
            (workdir / output).rename(aside / output)
        planned = file_access.parse_jobs(snakemake(workdir, "-n", *DEMO).stdout)
        if job.outputs not in [other.outputs for other in planned]:
            not_planned.append(f"{job.rule}: {', '.join(job.outputs)}")
        for output in job.outputs:
            (aside / output).rename(workdir / output)  # a rename keeps the mtime
    assert not_planned == [], "a rerun would not remake these deleted outputs"


def _running_job(log_text: str, workdir: Path, rules: set[str], since_ns: int):
    """A job of one of `rules` that has started (its log written in this run; QUICK rules: its
    block printed) and is not done (Snakemake deleted its outputs at its start)."""
    for job in file_access.parse_jobs(log_text):
        if job.rule not in rules or not job.logs:
            continue
        log = workdir / job.logs[0]
        logged = log.exists() and log.stat().st_mtime_ns > since_ns and log.stat().st_size
        if (logged or job.rule in QUICK) and not all(
            (workdir / output).exists() for output in job.outputs
        ):
            return job
    return None


def _run_until_a_job_of(workdir: Path, rules: set[str], err: Path):
    """Run the demo; SIGKILL its whole process group as soon as a job of `rules` is mid-way.
    Returns (the killed job or None, the run's return code, its stderr)."""
    since = time.time_ns()
    with err.open("w") as sink:
        proc = subprocess.Popen(_command(workdir), cwd=workdir, start_new_session=True,
                                env=os.environ | {"PYTHONHASHSEED": "0"},
                                stdout=subprocess.DEVNULL, stderr=sink)  # fmt: skip
    try:
        while proc.poll() is None:
            job = _running_job(err.read_text(errors="replace"), workdir, rules, since)
            if job is not None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
                return job, proc.returncode, err.read_text(errors="replace")
            time.sleep(0.05)
    except BaseException:
        os.killpg(proc.pid, signal.SIGKILL)
        raise
    return None, proc.returncode, err.read_text(errors="replace")


def test_sigkill_at_each_gpu_rule_then_unlock_and_rerun_gives_the_same_artifacts(
    reference, tmp_path
):
    ran = {job.rule for job in file_access.parse_jobs(reference["log"])}
    assert set(GPU_RULES) - ran == set(NOT_IN_DEMO), "a GPU rule the demo skips needs a reason"
    workdir = _copy(reference, tmp_path / "project")
    remaining, killed = set(GPU_RULES) - set(NOT_IN_DEMO), []
    # Delete every GPU job's outputs, so each run below must start one of them. (Deleting only
    # the roots, e.g. the scenarios, is not enough: remade byte-identical, Snakemake's
    # checksums of small inputs see nothing changed downstream.)
    for job in file_access.parse_jobs(reference["log"]):
        for output in job.outputs if job.rule in remaining else []:
            path = workdir / output
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path)
            else:
                path.unlink()
    for attempt in range(len(remaining) + 1):
        job, code, err = _run_until_a_job_of(workdir, remaining, tmp_path / f"run_{attempt}.err")
        if job is None:
            break
        killed.append(f"{job.rule} ({job.logs[0]})")
        remaining.discard(job.rule)
        # What a user does after a killed run: release Snakemake's lock, then rerun.
        snakemake(workdir, "--unlock", *DEMO)
    assert code == 0, f"the rerun after killing {killed[-1:]} failed:\n{err[-6000:]}"
    expected, got = (folder / "results" / "demo" for folder in (reference["workdir"], workdir))
    assert _differing_artifacts(expected, got) == [], f"after killing {killed}"
    assert remaining == set(), f"never reached (so never killed): {sorted(remaining)}"
    assert planned_jobs(snakemake(workdir, "-n", *DEMO).stdout) == {}, "the rerun left work"
    assert not list((workdir / "results").rglob("*.tmp")), "temporary files were left behind"
