"""Which results/ files each job of a run opened, against what its rule declares.

A job that reads a file its rule does not declare is wrong in a way Snakemake cannot see:
nothing reruns the job when that file changes, and nothing remakes the file when it is
missing (a killed job's outputs are deleted at its start), so the rerun fails or is stale.

The run is traced with `strace -f` (openat, the process tree, the working directory's
paths); Snakemake's own log gives each job's rule, inputs, outputs and log. A job's
processes are the tree under the forked process that opens its log and runs its script. A results/ path a job opens for
reading must be one of its declared files, inside a declared folder, a folder above one,
or a file or folder the job made itself (staging files, its own outputs read back).

Run as a script on a trace and a Snakemake log:
    python -m tests.workflow.file_access TRACE SNAKEMAKE_STDERR WORKDIR
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

STRACE = shutil.which("strace")
# Opens and made folders, and the process tree (only these calls stop the process: cheap).
STRACE_ARGS = ("-f", "--seccomp-bpf", "-qq", "-s", "4096", "-e", "signal=none",
               "-e", "trace=openat,open,mkdir,mkdirat,execve,clone,clone3,fork,vfork")  # fmt: skip
_JOB_HEADER = re.compile(r"^(?:local)?rule (\w+):$")
_JOB_FIELD = re.compile(r"^    (input|output|log): (.*)$")
_FLAGS = re.compile(r" \([a-z, ]+\)$")  # "results/x.parquet (update)": Snakemake's file flags
_CALL = re.compile(r"^(\d+) +(?:<\.\.\. (\w+) resumed>|(\w+)\()(.*)$")
# A path relative to another folder's fd (openat(5, "x")) is skipped: Python opens by path.
_PATH_ARGS = re.compile(r'^(?:AT_FDCWD(?:<[^>]*>)?, )?"((?:[^"\\]|\\.)*)", ([A-Z_|0-9]+)')
_RESULT = re.compile(r"\) += (-?\d+)")
_WRITE_FLAGS = ("O_WRONLY", "O_RDWR", "O_CREAT")


@dataclass
class Job:
    rule: str
    inputs: list[str] = field(default_factory=list)
    outputs: list[str] = field(default_factory=list)
    logs: list[str] = field(default_factory=list)

    def declared(self) -> list[str]:
        return [*self.inputs, *self.outputs, *self.logs]


@dataclass
class Process:
    parent: int | None = None
    executed: bool = False  # a job's script runs in a process Snakemake forks and execs
    opened: list[tuple[str, bool]] = field(default_factory=list)  # (path, for writing)


def strace_works() -> bool:
    """Whether this machine lets us trace our own children (ptrace may be forbidden)."""
    if STRACE is None:
        return False
    probe = subprocess.run([STRACE, "-f", "-qq", "-e", "trace=none", "true"], capture_output=True)
    return probe.returncode == 0


def parse_jobs(snakemake_log: str) -> list[Job]:
    """Every job block ("rule x:" / "localrule x:" and its input/output/log lines)."""
    jobs: list[Job] = []
    current: Job | None = None
    for line in snakemake_log.splitlines():
        if header := _JOB_HEADER.match(line):
            current = Job(header.group(1))
            jobs.append(current)
        elif current is not None and (found := _JOB_FIELD.match(line)):
            files = [_FLAGS.sub("", f.strip()) for f in found.group(2).split(", ") if f.strip()]
            {"input": current.inputs, "output": current.outputs, "log": current.logs}[
                found.group(1)
            ].extend(files)
        elif not line.startswith("    "):
            current = None
    return [job for job in jobs if job.rule != "all"]


def _relative(path: str, workdir: Path) -> str | None:
    """`path` relative to the working directory, or None when it is outside it."""
    full = PurePosixPath(path)
    if not full.is_absolute():
        full = PurePosixPath(workdir) / full
    try:
        return PurePosixPath(*_normalised(full).parts).relative_to(workdir).as_posix()
    except ValueError:
        return None


def _normalised(path: PurePosixPath) -> PurePosixPath:
    parts: list[str] = []
    for part in path.parts:
        if part == "..":
            parts.pop()
        elif part != ".":
            parts.append(part)
    return PurePosixPath(*parts)


def parse_trace(trace: str, workdir: Path) -> dict[int, Process]:
    """Each traced process: its parent and the working-directory paths it opened."""
    processes: dict[int, Process] = defaultdict(Process)
    unfinished: dict[int, tuple[str, str]] = {}
    workdir = Path(workdir).resolve()
    for line in trace.splitlines():
        call = _CALL.match(line)
        if call is None:
            continue
        pid = int(call.group(1))
        name, rest = call.group(3) or call.group(2), call.group(4)
        if call.group(2):  # "<... openat resumed>": join it with its first half
            if pid not in unfinished:
                continue
            name, head = unfinished.pop(pid)
            rest = head + rest
        elif rest.endswith("<unfinished ...>"):
            unfinished[pid] = (name, rest.removesuffix("<unfinished ...>"))
            continue
        result = _RESULT.search(rest)
        if result is None or int(result.group(1)) < 0:
            continue
        if name == "execve":
            processes[pid].executed = True
        elif name in ("clone", "clone3", "fork", "vfork"):
            processes[int(result.group(1))].parent = pid
        elif name in ("open", "openat", "mkdir", "mkdirat") and (args := _PATH_ARGS.match(rest)):
            relative = _relative(args.group(1).encode().decode("unicode_escape"), workdir)
            if relative is not None:  # a folder the job made is its own, like a file it wrote
                writing = name.startswith("mkdir") or any(f in args.group(2) for f in _WRITE_FLAGS)
                processes[pid].opened.append((relative, writing))
    return processes


def _within(path: str, declared: str) -> bool:
    return path == declared or path.startswith(declared.rstrip("/") + "/")


def _above(path: str, declared: str) -> bool:
    return declared.startswith(path.rstrip("/") + "/")


def undeclared_reads(jobs: list[Job], processes: dict[int, Process]) -> dict[str, set[str]]:
    """{job's rule and log: results/ paths it read that its rule does not declare}."""
    by_log = {log: job for job in jobs for log in job.logs}
    job_of: dict[int, Job] = {}
    for pid, process in processes.items():
        for path, writing in process.opened:
            if writing and path in by_log and process.executed:
                job_of.setdefault(pid, by_log[path])

    def owner(pid: int) -> Job | None:
        seen = set()
        while pid is not None and pid not in seen:
            if pid in job_of:
                return job_of[pid]
            seen.add(pid)
            pid = processes[pid].parent if pid in processes else None
        return None

    opened_by_job: dict[int, list[tuple[str, bool]]] = defaultdict(list)
    for pid, process in processes.items():
        job = owner(pid)
        if job is not None:
            opened_by_job[id(job)].extend(process.opened)
    found: dict[str, set[str]] = {}
    for job in jobs:
        opened = opened_by_job.get(id(job), [])
        written = {path for path, writing in opened if writing}
        declared = job.declared()
        for path, writing in opened:
            if writing or not path.startswith("results/") or path in written:
                continue
            if any(_within(path, d) or _above(path, d) for d in declared):
                continue
            found.setdefault(f"{job.rule} ({job.logs[0] if job.logs else '?'})", set()).add(path)
    return found


def jobs_traced(jobs: list[Job], processes: dict[int, Process]) -> set[str]:
    """The rules of the jobs whose processes the trace saw (their log opened for writing)."""
    logs = {path for process in processes.values() for path, writing in process.opened if writing}
    return {job.rule for job in jobs if any(log in logs for log in job.logs)}


def main(argv: list[str]) -> int:
    jobs = parse_jobs(Path(argv[1]).read_text())
    processes = parse_trace(Path(argv[0]).read_text(errors="replace"), Path(argv[2]))
    print(f"traced rules: {sorted(jobs_traced(jobs, processes))}", file=sys.stderr)
    found = undeclared_reads(jobs, processes)
    for job, paths in sorted(found.items()):
        print(job)
        for path in sorted(paths):
            print(f"    {path}")
    return 1 if found else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
