"""The slurm profile on a real one-node SLURM cluster (tests/slurm/cluster.sh).

Runs the demo with `--profile profiles/slurm` against slurmctld + slurmd on this machine and
checks, from Snakemake's own output and from SLURM's records, that every job went through
sbatch, that GPU rules asked for a GPU and their memory, and that the small CPU rules went as
group jobs. Nothing here names the workflow's rules: the expectations come from the job
descriptions Snakemake prints (`--verbose`) and from the profile's `groups:`.

Needs root (apt-get installs SLURM, daemons are started); skipped otherwise. Wall time on a
2-core machine with the whole demo (39 jobs: curation, LoRA, refinement rounds,
storyboard and ablation, checkpoint report): about 5 minutes (10 s to install and start
SLURM, the rest is Snakemake start-up in every job plus the executor's status polling, which
waits 10 s longer after every poll that sees no job finish).
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
CLUSTER = Path(__file__).resolve().parent / "cluster.sh"
CLUSTER_CONFIGS = (Path("/etc/slurm/slurm.conf"), Path("/etc/slurm/gres.conf"))
SNAKEMAKE = Path(sys.executable).parent / "snakemake"
PROFILE = REPO / "profiles" / "slurm"
DEMO_CONFIG = REPO / "config" / "demo.yaml"
# Hard limit for one workflow run (seconds); `timeout -k` also kills a hung status check.
RUN_TIMEOUT = int(os.environ.get("CHARFOLIO_SLURM_TIMEOUT", "2400"))
# Runtime-only knobs for a fast test; none of them changes what is submitted:
# poll SLURM every second instead of the profile's production intervals (the executor
# adds 10 s per poll that sees no finished job, so the first poll matters most), and keep
# every SLURM log so the test can read them whatever the profile says.
FAST_POLLING = (
    "--seconds-between-status-checks",
    "1",
    "--slurm-init-seconds-before-status-checks",
    "1",
    "--slurm-keep-successful-logs",
)
# The test node is declared like a small GPU server rather than this machine, so jobs sized
# for production (e.g. mem_mb=16000, 8 threads) are accepted whatever memory happens to be
# free, and the demo's GPU jobs run as one wave (each wave costs a status-polling delay).
# Nothing enforces the sizes (no cgroups): the demo's jobs use far less than they request.
NODE = {
    "CHARFOLIO_SLURM_CPUS": str(max(os.cpu_count() or 1, 32)),
    "CHARFOLIO_SLURM_MEM_MB": "65536",
    "CHARFOLIO_SLURM_GPUS": "4",
}


def _skip_reason() -> str | None:
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        return (
            "needs root: tests/slurm/cluster.sh installs SLURM with apt-get and starts its daemons"
        )
    if shutil.which("slurmctld") is None and shutil.which("apt-get") is None:
        return "SLURM is not installed and apt-get is unavailable to install it"
    return None


_SKIP = _skip_reason()
pytestmark = [pytest.mark.slurm, pytest.mark.skipif(_SKIP is not None, reason=str(_SKIP))]


def _cluster(command: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["bash", str(CLUSTER), command],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )


@pytest.fixture(scope="session")
def slurm_cluster():
    """A running one-node cluster; started (and stopped afterwards) unless one already runs."""
    already_running = _cluster("status").returncode == 0
    if not already_running:
        started = _cluster("start", os.environ | NODE)
        if started.returncode != 0:
            _cluster("stop")
            pytest.fail(f"tests/slurm/cluster.sh start failed:\n{started.stdout}\n{started.stderr}")
    yield
    if not already_running:
        stopped = _cluster("stop")
        assert stopped.returncode == 0, f"cluster.sh stop:\n{stopped.stdout}\n{stopped.stderr}"
        # A config left naming the stopped controller would make every later SLURM client
        # call, and so every snakemake start (the slurm plugin probes scontrol), wait for it.
        leftover = [p for p in CLUSTER_CONFIGS if p.exists()]
        assert not leftover, f"cluster.sh stop left its config behind: {leftover}"


# ---- what Snakemake printed -------------------------------------------------------------


@dataclass
class Job:
    """One job as Snakemake describes it before running it (`rule x:` block)."""

    jobid: int
    rule: str
    local: bool
    wildcards: dict[str, str]
    resources: dict[str, str]
    output: list[str]
    group: int | None  # index of the "Group job" header it was printed under

    @property
    def spec(self) -> tuple[str, tuple[tuple[str, str], ...]]:
        return self.rule, tuple(sorted(self.wildcards.items()))


@dataclass
class GroupHeader:
    name: str
    jobids: list[int] = field(default_factory=list)


@dataclass
class SbatchCall:
    command: str
    options: dict[str, str]
    targets: list[tuple[str, tuple[tuple[str, str], ...]]]  # (rule, wildcards) from --target-jobs

    @property
    def output(self) -> str:
        return self.options["--output"]


_RULE = re.compile(r"^(?P<indent> *)(?P<local>local)?rule (?P<rule>\w+):$")
_FLAGS = re.compile(r" \([a-z, ]+\)$")  # "results/x.parquet (update)": Snakemake's file flags
_GROUP = re.compile(r"Group job (?P<name>\S+) \(jobs in lexicogr\. order\):")
_SUBMITTED = re.compile(
    r"^Job (?P<job>\S+) has been submitted with SLURM jobid (?P<id>\d+) \(log: (?P<log>.+)\)\.$"
)
# sbatch options the plugin writes as two tokens ("--mem 16000"); the others use "=".
_TWO_TOKEN = {
    "--job-name",
    "--output",
    "--comment",
    "-p",
    "-A",
    "-t",
    "-C",
    "--mem",
    "--mem-per-cpu",
    "-D",
    "--clusters",
}


def _pairs(text: str, sep: str = ", ") -> dict[str, str]:
    return dict(item.split("=", 1) for item in text.split(sep) if "=" in item)


def parse_jobs(lines: list[str]) -> tuple[dict[int, Job], list[GroupHeader], Counter]:
    jobs: dict[int, Job] = {}
    groups: list[GroupHeader] = []
    printed: Counter = Counter()  # a job printed twice was retried
    current_group = None
    i = 0
    while i < len(lines):
        header = _GROUP.search(lines[i])
        if header:
            groups.append(GroupHeader(header["name"]))
            current_group = len(groups) - 1
            i += 1
            continue
        m = _RULE.match(lines[i])
        if not m:
            i += 1
            continue
        field_re = re.compile(rf"^{m['indent']}    (\w+): (.*)$")
        fields: dict[str, str] = {}
        i += 1
        while i < len(lines) and (f := field_re.match(lines[i])):
            fields[f[1]] = f[2]
            i += 1
        if "jobid" not in fields:
            continue
        group = current_group if m["indent"] else None
        if not m["indent"]:
            current_group = None
        job = Job(
            jobid=int(fields["jobid"]),
            rule=m["rule"],
            local=bool(m["local"]),
            wildcards=_pairs(fields.get("wildcards", "")),
            resources=_pairs(fields.get("resources", "")),
            output=[_FLAGS.sub("", p) for p in fields.get("output", "").split(", ") if p],
            group=group,
        )
        jobs[job.jobid] = job
        printed[job.jobid] += 1
        if group is not None:
            groups[group].jobids.append(job.jobid)
    return jobs, groups, printed


def _target_specs(command: str) -> list[tuple[str, tuple[tuple[str, str], ...]]]:
    """The jobs a jobstep command line runs: its `--target-jobs rule:wc=v,... ...`."""
    line = next(line for line in command.splitlines() if "--target-jobs" in line)
    words = shlex.split(line)
    start = words.index("--target-jobs") + 1
    specs = []
    for word in words[start:]:
        if word.startswith("--"):
            break
        rule, _, wildcards = word.partition(":")
        specs.append((rule, tuple(sorted(_pairs(wildcards, ",").items()))))
    return specs


def parse_sbatch_call(command: str) -> SbatchCall:
    words = shlex.split(command)
    assert words[0] == "sbatch", command
    options: dict[str, str] = {}
    i = 1
    while i < len(words):
        word = words[i]
        if word in _TWO_TOKEN:
            options[word] = words[i + 1]
            i += 2
            continue
        key, _, value = word.partition("=")
        options[key] = value
        i += 1
    return SbatchCall(command, options, _target_specs(options["--wrap"]))


def parse_sbatch_calls(lines: list[str]) -> list[SbatchCall]:
    # The plugin logs (at --verbose) "sbatch call: sbatch ..." right before running it.
    return [
        parse_sbatch_call(line.split("sbatch call: ", 1)[1])
        for line in lines
        if line.startswith("sbatch call: sbatch ")
    ]


# ---- what SLURM recorded ----------------------------------------------------------------


def slurm_record(slurm_id: str) -> dict[str, str]:
    """`scontrol show job` of a job (kept MinJobAge=3600 s after it ends)."""
    out = subprocess.run(
        ["scontrol", "-o", "show", "job", slurm_id], capture_output=True, text=True, check=True
    ).stdout
    return dict(re.findall(r"(\S+?)=(\S*)", out))


def slurm_batch_script(slurm_id: str) -> str:
    return subprocess.run(
        ["scontrol", "write", "batch_script", slurm_id, "-"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout


def _queue() -> str:
    """SLURM's queue with reasons (a job asking more than the node has pends forever)."""
    try:
        out = subprocess.run(
            ["squeue", "-a", "-t", "all", "-o", "%i %T %r %k"],
            capture_output=True,
            text=True,
            timeout=30,
        )
    except (OSError, subprocess.SubprocessError) as e:
        return f"squeue failed: {e}"
    return f"squeue (job, state, reason, comment):\n{out.stdout}{out.stderr}"


# ---- the run ----------------------------------------------------------------------------


def run_workflow(workdir: Path, snakefile: Path, *args: str) -> tuple[int, str, float]:
    """Run snakemake under `timeout -k`; return exit code, combined output and seconds."""
    log = workdir / "snakemake.out"
    cmd = [
        "timeout", "-k", "10", str(RUN_TIMEOUT),
        str(SNAKEMAKE), "-s", str(snakefile), "-d", str(workdir),
        "--profile", str(PROFILE), "--verbose", *FAST_POLLING, *args,
    ]  # fmt: skip
    start = time.monotonic()
    with log.open("w") as out:
        code = subprocess.run(
            cmd, cwd=workdir, stdout=out, stderr=subprocess.STDOUT, timeout=RUN_TIMEOUT + 60
        ).returncode
    return code, log.read_text(), time.monotonic() - start


def _megabytes(value: str) -> int | None:
    m = re.fullmatch(r"(\d+(?:\.\d+)?)([MGT])", value)
    return round(float(m[1]) * {"M": 1, "G": 1024, "T": 1024**2}[m[2]]) if m else None


def _gpu_request(resources: dict[str, str]) -> bool:
    gpu = resources.get("gpu", "0")
    return (gpu.isdigit() and int(gpu) > 0) or "gpu" in resources.get("gres", "")


def _asks_for_gpu(call: SbatchCall) -> bool:
    return (
        call.options.get("--gpus", "") not in ("", "0")
        or "gpu" in call.options.get("--gres", "")
        or "gpu" in call.options.get("--gpus-per-node", "")
    )


def check_slurm_run(workdir: Path, code: int, output: str) -> dict[str, int]:
    """All the assertions on one finished run; returns a few counts for the report."""
    tail = "\n".join(output.splitlines()[-60:])
    where = f"(full output: {workdir / 'snakemake.out'})"
    assert code == 0, f"snakemake exited with {code} {where}:\n{tail}\n{_queue()}"
    run_id = re.search(r"^SLURM run ID: (\S+)$", output, re.M)
    assert run_id, f"the slurm executor did not start {where}"

    lines = output.splitlines()
    jobs, group_headers, printed = parse_jobs(lines)
    calls = parse_sbatch_calls(lines)
    submitted = [m.groupdict() for line in lines if (m := _SUBMITTED.match(line))]
    remote = {j.spec: j for j in jobs.values() if not j.local}
    assert remote, f"Snakemake printed no jobs to submit {where}"

    # -- every non-local job was submitted by exactly one sbatch call, and nothing else was
    retried = sorted(jobs[i].rule for i, n in printed.items() if n > 1)
    assert not retried, f"jobs were retried (a first attempt failed): {retried} {where}"
    targets = Counter(spec for call in calls for spec in call.targets)
    missing = sorted(set(remote) - set(targets))
    assert not missing, f"jobs never submitted through sbatch: {missing} {where}"
    extra = sorted(set(targets) - set(remote))
    assert not extra, f"sbatch targets that are not jobs of this run: {extra} {where}"
    twice = sorted(spec for spec, n in targets.items() if n > 1)
    assert not twice, f"jobs submitted more than once: {twice} {where}"

    # -- the executor reported one SLURM job per call; SLURM agrees on each of them
    assert len(submitted) == len(calls), (
        f"{len(calls)} sbatch calls but {len(submitted)} 'has been submitted' lines {where}"
    )
    call_of = {spec: call for call in calls for spec in call.targets}
    seen_calls = set()
    for sub in submitted:
        slurm_id, log_path = sub["id"], sub["log"]
        record = slurm_record(slurm_id)
        assert record.get("JobName") == run_id[1], (slurm_id, record.get("JobName"))
        assert record.get("JobState") == "COMPLETED" and record.get("ExitCode") == "0:0", (
            f"SLURM job {slurm_id}: {record.get('JobState')} {record.get('ExitCode')}"
        )
        assert record.get("StdOut") == log_path, (slurm_id, record.get("StdOut"), log_path)
        assert Path(log_path).is_file(), f"SLURM log missing: {log_path}"
        # What SLURM ran: the jobstep for exactly the jobs of one sbatch call.
        ran = _target_specs(slurm_batch_script(slurm_id))
        call = call_of.get(ran[0])
        assert call is not None, f"SLURM job {slurm_id} ran {ran}, which no sbatch call named"
        assert sorted(ran) == sorted(call.targets), (slurm_id, ran, call.targets)
        assert call.output.replace("%j", slurm_id) == log_path, (call.output, log_path)
        seen_calls.add(id(call))
        if len(ran) == 1 and "mem_mb" in remote[ran[0]].resources:
            assert _megabytes(record.get("MinMemoryNode", "")) == int(
                remote[ran[0]].resources["mem_mb"]
            ), (slurm_id, record.get("MinMemoryNode"), remote[ran[0]].resources["mem_mb"])
        if any(_gpu_request(remote[spec].resources) for spec in ran):
            assert "gpu" in record.get("TresPerJob", ""), (
                f"SLURM job {slurm_id} ({ran}) has no GPU request: "
                f"TresPerJob={record.get('TresPerJob')}"
            )
    assert len(seen_calls) == len(calls), "some sbatch call has no SLURM job"

    # -- rules that declare a GPU asked sbatch for one, with their memory
    gpu_jobs = [j for j in remote.values() if _gpu_request(j.resources)]
    for job in gpu_jobs:
        call = call_of[job.spec]
        assert _asks_for_gpu(call), (
            f"{job.rule} {job.wildcards} declares gpu={job.resources.get('gpu')} "
            f"but was submitted without --gpus/--gres: {call.command[:400]}"
        )
        if job.group is None and "mem_mb" in job.resources:
            assert call.options.get("--mem") == job.resources["mem_mb"], (
                f"{job.rule}: mem_mb={job.resources['mem_mb']} but sbatch --mem "
                f"{call.options.get('--mem')}"
            )

    # -- and no job that declares no GPU holds one
    for call in calls:
        if not any(_gpu_request(remote[spec].resources) for spec in call.targets):
            assert not _asks_for_gpu(call), f"a GPU for {call.targets}: {call.command[:400]}"

    # -- small CPU rules went as group jobs, one sbatch call per group job Snakemake formed
    profile = yaml.safe_load((PROFILE / "config.yaml").read_text())
    grouped_rules = set(profile.get("groups") or {})
    grouped_jobs = [j for j in remote.values() if j.rule in grouped_rules]
    for job in grouped_jobs:
        assert job.group is not None, f"{job.rule} {job.wildcards} was not run in a group job"
        expected = profile["groups"][job.rule]
        assert group_headers[job.group].name == expected, (job.rule, group_headers[job.group].name)
    for header in group_headers:
        members = sorted(jobs[i].spec for i in header.jobids)
        matching = [c for c in calls if sorted(c.targets) == members]
        assert len(matching) == 1, (
            f"group job {header.name} with {members} was not submitted as one sbatch call"
        )
        assert f"/group_{header.name}_" in matching[0].output, matching[0].output

    # -- every job's outputs exist
    for job in remote.values():
        for path in job.output:
            assert (workdir / path).exists(), f"{job.rule} did not produce {path}"
    return {
        "jobs": len(remote),
        "sbatch_calls": len(calls),
        "gpu_jobs": len(gpu_jobs),
        "grouped_jobs": len(grouped_jobs),
        "group_calls": len(group_headers),
    }


@pytest.mark.usefixtures("slurm_cluster")
@pytest.mark.timeout(RUN_TIMEOUT + 600)
def test_demo_runs_on_slurm(tmp_path: Path) -> None:
    (tmp_path / "config").symlink_to(REPO / "config")
    code, output, seconds = run_workflow(
        tmp_path, REPO / "Snakefile", "--configfile", str(DEMO_CONFIG)
    )
    counts = check_slurm_run(tmp_path, code, output)
    print(f"demo on SLURM: {counts} in {seconds:.0f} s")
    assert counts["gpu_jobs"] > 0, "the demo has no GPU job: nothing checked the GPU request"
    assert counts["grouped_jobs"] > 0, "the demo has no job of a grouped (small CPU) rule"
    # Complete outputs and metadata: the same command has nothing left to do.
    again = subprocess.run(
        [str(SNAKEMAKE), "-s", str(REPO / "Snakefile"), "-d", str(tmp_path), "-n",
         "--profile", str(PROFILE), "--configfile", str(DEMO_CONFIG)],
        cwd=tmp_path, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert "Nothing to be done" in again.stdout + again.stderr, again.stdout + again.stderr
