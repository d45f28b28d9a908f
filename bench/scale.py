"""Benchmark the DAG at the methodology's scale: 21 characters x 1,500 images, no job run.

Builds a scratch working directory holding config/config.yaml (the repo's, default backends,
with 21 characters) and config/characters/ (one file per character, each with its own
base_seed), then drives the repo's Snakefile there with `-d`:

1. the full DAG as a dry run: jobs by rule and wall time; then the same dry run with
   `--profile profiles/slurm`, whose printed group jobs give the sbatch submissions a cluster
   run would make (ungrouped jobs are one submission each, a group job is one);
2. every output marked done without running a job: `snakemake --summary` lists each job's
   outputs, empty files are made for them (a directory for an output without a suffix, the
   `directory()` outputs: image folders and tiers), and `snakemake --touch --forceall` walks
   the DAG in order, touching outputs and recording each job's params as a real run would
   (Snakemake itself fails the touch if a file stands where it expects a directory);
3. the no-op rerun: a dry run must plan nothing, then plain `snakemake` is timed;
4. curation.thresholds.min_sharpness changed in an extra --configfile, planned twice:
   - for the tiers (`snakemake results/<character>/tier_<n>` for every character and tier,
     the README's command): only select_images and build_tier may run;
   - for the whole pipeline: selection and everything downstream of it (tiers, and what is
     built from the tiers: training, refinement, catalog...), the same plan as
     `--forcerun select_images`, and nothing upstream of selection.

The fixed cost of starting Snakemake (imports, executor plugins, profile) is measured on a
one-rule workflow and reported beside the DAG's times. The slurm executor plugin runs
`scontrol show config` whenever Snakemake loads it: where a SLURM config names a controller
that does not answer (a stopped test cluster), that alone waits about 9 s at every start, so
the bench reports how long `scontrol` takes here.

Prints one JSON object. Targets: at most a few hundred jobs on the cluster (at most 400
sbatch submissions with profiles/slurm, under 1,000 DAG jobs), a dry run under 10 s, and only
select_images and build_tier for the tiers after a threshold change.

    .venv/bin/python bench/scale.py [--characters 21] [--repeat 3] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

from charfolio.core.config import validate
from charfolio.generation.distribution import calculate_distribution

REPO = Path(__file__).resolve().parents[1]
SNAKEMAKE = Path(sys.executable).parent / "snakemake"
SLURM_PROFILE = REPO / "profiles" / "slurm"
MAX_JOBS = 999
MAX_SUBMISSIONS = 400  # "a few hundred" sbatch calls on the cluster
MAX_DRY_RUN_SECONDS = 10.0
THRESHOLD = ("curation.thresholds.min_sharpness", 150.0)
SELECTION_RULES = {"select_images", "build_tier"}
UPSTREAM_RULES = {
    "make_scenarios", "generate_images", "ingest_folder", "detect_faces", "score_quality",
    "hash_images", "embed_images", "cluster_images",
}  # fmt: skip


def write_workdir(root: Path, characters: int) -> dict[str, Any]:
    """config/config.yaml and config/characters/*.yaml; returns the validated config."""
    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    names = [f"character_{i:02d}" for i in range(characters)]
    config["characters"] = names
    config["character_dir"] = "config/characters"
    folder = root / "config" / "characters"
    folder.mkdir(parents=True)
    for i, name in enumerate(names):
        character = {
            "name": name,
            "token": f"tok{i:02d}",
            "class_word": "person",
            "base_prompt": f"portrait of person number {i}, natural light, 8k",
            "base_seed": 100_000 + 10_000 * i,  # no two characters share a generator seed
        }
        (folder / f"{name}.yaml").write_text(yaml.safe_dump(character, sort_keys=False))
    (root / "config" / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    return validate(config, "config", "bench config")


def snakemake(workdir: Path, *args: str, snakefile: Path = REPO / "Snakefile") -> tuple[str, float]:
    """Run snakemake on the repo's Snakefile in `workdir`; (stdout + stderr, wall seconds)."""
    cmd = [str(SNAKEMAKE), "-s", str(snakefile), "-d", str(workdir), "--cores", "2"]
    started = time.perf_counter()
    result = subprocess.run([*cmd, *args], capture_output=True, text=True, cwd=workdir)
    elapsed = time.perf_counter() - started
    if result.returncode != 0:
        raise RuntimeError(f"snakemake {' '.join(args)} failed:\n{result.stderr[-4000:]}")
    return result.stdout + result.stderr, elapsed


def job_stats(output: str) -> dict[str, int]:
    """Snakemake's "Job stats" table as {rule: jobs} ({} when nothing is to be done)."""
    if "Nothing to be done" in output:
        return {}
    table = output.split("Job stats:", 1)[1].split("\n\n", 1)[0]
    rows = re.findall(r"^(\w+)\s+(\d+)\s*$", table, flags=re.MULTILINE)
    return {rule: int(n) for rule, n in rows if rule != "total"}


def slurm_submissions(output: str) -> dict[str, Any]:
    """sbatch submissions in a `--profile profiles/slurm` dry run's printed plan.

    Snakemake prints each group job as "Group job <name>" followed by its member jobs
    (indented), and every other job as a top-level "rule <name>:" block. Each group job and
    each top-level job except local rules (`all`) is one submission.
    """
    submissions: dict[str, int] = {}
    for line in output.splitlines():
        if group := re.search(r"\] Group job (\S+) ", line):
            key = f"group {group[1]}"
        elif (rule := re.match(r"rule (\w+):$", line)) and rule[1] != "all":
            key = rule[1]
        else:
            continue
        submissions[key] = submissions.get(key, 0) + 1
    return {"total": sum(submissions.values()), "by_rule_or_group": submissions}


def scontrol_probe() -> dict[str, Any]:
    """How long `scontrol show config` takes here (the slurm plugin runs it at every start)."""
    scontrol = shutil.which("scontrol")
    if scontrol is None:
        return {"scontrol": None, "note": "no SLURM client: the plugin skips its probe"}
    started = time.perf_counter()
    try:
        result = subprocess.run(
            [scontrol, "show", "config"], capture_output=True, text=True, timeout=30
        )
        answered = result.returncode == 0
    except subprocess.TimeoutExpired:
        answered = False
    seconds = round(time.perf_counter() - started, 2)
    probe: dict[str, Any] = {"scontrol": scontrol, "answers": answered, "seconds": seconds}
    if not answered and seconds > 1:
        probe["note"] = (
            "a SLURM config names a controller that does not answer: every snakemake start "
            f"waits about {seconds:g} s for it (stop the stale cluster config, e.g. "
            "`tests/slurm/cluster.sh stop` for the test cluster)"
        )
    return probe


def timed_dry_runs(workdir: Path, repeat: int, *args: str) -> tuple[dict[str, int], list[float]]:
    runs = [snakemake(workdir, "-n", *args) for _ in range(repeat)]
    return job_stats(runs[0][0]), [round(seconds, 2) for _, seconds in runs]


def startup_seconds(root: Path, repeat: int) -> list[float]:
    """Dry runs of a one-rule workflow: Snakemake's fixed cost (imports, plugins, profile)."""
    folder = root / "startup"
    folder.mkdir()
    (folder / "Snakefile").write_text('rule all:\n    output: "x"\n    shell: "touch {output}"\n')
    runs = [snakemake(folder, "-n", snakefile=folder / "Snakefile")[1] for _ in range(repeat)]
    return [round(seconds, 2) for seconds in runs]


def create_outputs(workdir: Path) -> tuple[int, float]:
    """Empty files (directories for suffix-less `directory()` outputs) for every job output."""
    summary, seconds = snakemake(workdir, "--summary")
    lines = summary.split("output_file\t", 1)[1].splitlines()[1:]
    count = 0
    for line in lines:
        fields = line.split("\t")
        if len(fields) < 3 or not fields[0]:
            continue
        path = workdir / fields[0]
        if path.suffix:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.touch()
        else:
            path.mkdir(parents=True, exist_ok=True)
        count += 1
    return count, seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--characters", type=int, default=21)
    parser.add_argument("--repeat", type=int, default=3, help="dry runs per measurement")
    parser.add_argument("--keep", help="work in this (new) folder and keep it")
    args = parser.parse_args()

    scratch = None if args.keep else tempfile.TemporaryDirectory(prefix="charfolio-scale-")
    workdir = Path(args.keep or scratch.name).resolve()  # type: ignore[union-attr]
    try:
        config = write_workdir(workdir, args.characters)
        dist_cfg = config["distribution"]
        dist = calculate_distribution(
            original_images=dist_cfg["original_images"],
            modified_images=dist_cfg["modified_images"],
            batch_size=dist_cfg["batch_size"],
            num_scenarios=config["scenarios"]["count"],
            min_images_per_scenario=dist_cfg["min_images_per_scenario"],
            multi_batch_per_seed=dist_cfg["multi_batch_per_seed"],
        )
        print(f"scale bench in {workdir}", file=sys.stderr)

        probe = scontrol_probe()
        startup_runs = startup_seconds(workdir, args.repeat)
        full, full_runs = timed_dry_runs(workdir, args.repeat)
        profile_out, profile_seconds = snakemake(workdir, "-n", "--profile", str(SLURM_PROFILE))
        submissions = slurm_submissions(profile_out)
        created, summary_seconds = create_outputs(workdir)
        _, touch_seconds = snakemake(workdir, "--touch", "--forceall")

        noop, noop_dry_runs = timed_dry_runs(workdir, args.repeat)
        if noop:
            raise RuntimeError(f"after --touch a dry run still plans {noop}; not running it")
        noop_out, noop_seconds = snakemake(workdir)
        assert "Nothing to be done" in noop_out, noop_out[-2000:]

        (workdir / "config" / "threshold.yaml").write_text(
            yaml.safe_dump({"curation": {"thresholds": {"min_sharpness": THRESHOLD[1]}}})
        )
        configs = ("--configfile", "config/config.yaml", "config/threshold.yaml")
        tiers = [
            f"results/{name}/tier_{tier['size']}"
            for name in config["characters"]
            for tier in config["curation"]["tiers"]
        ]
        for_tiers, tier_runs = timed_dry_runs(workdir, args.repeat, *configs, "--", *tiers)
        changed, changed_runs = timed_dry_runs(workdir, args.repeat, *configs)
        downstream, _ = timed_dry_runs(workdir, 1, "--forcerun", "select_images")

        jobs = sum(full.values())
        tier_extra_rules = sorted(set(for_tiers) - SELECTION_RULES)
        few_submissions = submissions["total"] <= MAX_SUBMISSIONS
        fast_dry_run = max(*full_runs, profile_seconds) < MAX_DRY_RUN_SECONDS  # local and SLURM
        tiers_only = bool(for_tiers) and not tier_extra_rules
        downstream_only = changed == downstream and not set(changed) & UPSTREAM_RULES
        result = {
            "characters": args.characters,
            "images_per_character": dist.total_images,
            "images_total": dist.total_images * args.characters,
            "seed_groups_per_character": dist.num_seed_groups,
            "images_per_seed_group": dist.images_per_seed,
            "generation_backend": config["generation"]["backend"],
            "cores": 2,
            "scontrol_probe": probe,
            "snakemake_startup_seconds": statistics.median(startup_runs),
            "snakemake_startup_runs": startup_runs,
            "full_dag": {
                "jobs": jobs,
                "jobs_by_rule": full,
                "slurm_submissions": submissions,
                "dry_run_seconds_slurm_profile": round(profile_seconds, 2),
                "dry_run_seconds": statistics.median(full_runs),
                "dry_run_runs": full_runs,
                "dry_run_minus_startup_seconds": round(
                    statistics.median(full_runs) - statistics.median(startup_runs), 2
                ),
            },
            "mark_done": {
                "method": "empty outputs from `snakemake --summary`, then "
                "`snakemake --touch --forceall` (no job runs; metadata recorded)",
                "outputs_created": created,
                "summary_seconds": round(summary_seconds, 2),
                "touch_seconds": round(touch_seconds, 2),
            },
            "noop": {
                "dry_run_seconds": statistics.median(noop_dry_runs),
                "rerun_seconds": round(noop_seconds, 2),
                "jobs": 0,
            },
            "threshold_change": {
                "key": THRESHOLD[0],
                "value": THRESHOLD[1],
                "tier_targets": {
                    "targets": len(tiers),
                    "jobs": sum(for_tiers.values()),
                    "jobs_by_rule": for_tiers,
                    "dry_run_seconds": statistics.median(tier_runs),
                    "dry_run_runs": tier_runs,
                    "rules_beyond_select_images_and_build_tier": tier_extra_rules,
                },
                "whole_pipeline": {
                    "jobs": sum(changed.values()),
                    "jobs_by_rule": changed,
                    "dry_run_seconds": statistics.median(changed_runs),
                    "dry_run_runs": changed_runs,
                    "same_plan_as_forcerun_select_images": changed == downstream,
                    "upstream_rules_planned": sorted(set(changed) & UPSTREAM_RULES),
                },
            },
            "targets_met": {
                f"DAG jobs <= {MAX_JOBS}": jobs <= MAX_JOBS,
                f"slurm submissions <= {MAX_SUBMISSIONS}": few_submissions,
                f"dry run < {MAX_DRY_RUN_SECONDS:g} s": fast_dry_run,
                "threshold change, tiers: only select_images and build_tier": tiers_only,
                "threshold change, whole pipeline: selection and its downstream only": (
                    downstream_only
                ),
            },
        }
        print(json.dumps(result, indent=2))
    finally:
        if scratch is not None:
            scratch.cleanup()


if __name__ == "__main__":
    main()
