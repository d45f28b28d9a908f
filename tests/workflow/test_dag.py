"""The DAG: lint, dry runs of every target, validation before any job, GPU resources."""

from __future__ import annotations

import re

import pytest
import yaml

from .conftest import REPO, config_path, snakemake


def test_lint_is_clean(workdir):
    result = snakemake(workdir, "--lint")
    assert "Congratulations, your workflow is in a good condition" in result.stdout + result.stderr


DAGS = {
    "demo.yaml": ("demo", range(1234, 1238), "colour_layout", 6, (10, 20, 40)),
    "config.yaml": (
        "gentle_freckled", range(966983, 966993), "open_clip-ViT-B-32-openai", 8, (20, 70, 100, 200, 300),
    ),
}  # fmt: skip


@pytest.mark.parametrize("configfile", DAGS)
def test_dry_run_plans_every_target(workdir, configfile):
    character, seeds, embedder, k, tiers = DAGS[configfile]
    out = snakemake(workdir, "-n", "--configfile", config_path(configfile)).stdout
    assert re.search(r"make_scenarios\s+1\b", out)
    assert re.search(rf"generate_images\s+{len(seeds)}\b", out)
    assert re.search(rf"build_tier\s+{len(tiers)}\b", out)
    root = f"results/{character}"
    targets = [
        f"{root}/scenarios.parquet",
        *(f"{root}/images/seed_{seed}.parquet" for seed in seeds),
        f"{root}/faces.parquet",
        f"{root}/quality.parquet",
        f"{root}/duplicates.parquet",
        f"{root}/embeddings/{embedder}.npy",
        f"{root}/clusters_k{k}.parquet",
        f"{root}/selection.parquet",
        *(f"{root}/tier_{n}" for n in tiers),
    ]
    for target in targets:
        assert target in out, target
    # each target alone (targets go before --configfile, which takes several values)
    for target in (targets[0], targets[1], targets[-1]):
        alone = snakemake(workdir, "-n", target, "--configfile", config_path(configfile)).stdout
        assert target in alone


def test_slurm_profile_plans_shards_with_gpus(workdir):
    result = snakemake(
        workdir, "-n", "--profile", str(REPO / "profiles" / "slurm"),
        "results/gentle_freckled/images/seed_966983.parquet",
    )  # fmt: skip
    block = result.stdout.split("rule generate_images:")[1]
    assert "gpu=1" in block and "mem_mb=16000" in block


SLURM_PROFILE = REPO / "profiles" / "slurm"


def _job_resources(dry_run: str) -> dict[tuple[str, str], dict[str, str]]:
    """{(rule, wildcards): resources} of every job a dry run prints (group members too)."""
    jobs = {}
    blocks = re.split(r"^ *rule (\w+):$", dry_run, flags=re.M)
    for rule, block in zip(blocks[1::2], blocks[2::2], strict=True):
        wildcards = re.search(r"^ *wildcards: (.*)$", block, flags=re.M)
        resources = re.search(r"^ *resources: (.*)$", block, flags=re.M)
        if resources:
            key = (rule, wildcards[1] if wildcards else "")
            jobs[key] = dict(kv.split("=", 1) for kv in resources[1].split(", "))
    return jobs


def test_gpu_jobs_ask_for_more_memory_on_each_retry(workdir):
    """profiles/slurm retries a failed job; a GPU job's next attempt asks for more memory."""
    demo = ("--profile", str(SLURM_PROFILE), "--configfile", config_path("demo.yaml"))
    plans = [
        _job_resources(snakemake(workdir, "-n", "--attempt", str(attempt), *demo).stdout)
        for attempt in (1, 2)
    ]
    gpu_jobs = [key for key, res in plans[0].items() if int(res.get("gpu", 0)) > 0]
    assert {rule for rule, _ in gpu_jobs} >= {
        "generate_images", "train_lora", "render_checkpoints", "generate_refinement",
        "render_storyboard", "render_ablation",
    }, gpu_jobs  # fmt: skip
    for key in gpu_jobs:
        first, second = (int(plan[key]["mem_mb"]) for plan in plans)
        assert second >= 2 * first, (key, first, second)


def test_llama_scenarios_ask_for_a_gpu_and_the_model_memory_on_slurm(workdir):
    """The production config's Mixtral runs with n_gpu_layers 20 and n_ctx 8192."""
    gguf = workdir / "models" / "dolphin-2.7-mixtral-8x7b.Q5_K_S.gguf"
    gguf.parent.mkdir()
    with open(gguf, "wb") as sparse:
        sparse.truncate(30 * 2**30)  # stands in for the 30 GiB model (sparse: no disk used)
    target = "results/gentle_freckled/scenarios.parquet"
    out = snakemake(workdir, "-n", "--profile", str(SLURM_PROFILE), target).stdout
    block = out.split("rule make_scenarios:")[1].split("\n\n")[0]
    assert "gpu=1" in block and f"mem_mb={4000 + 30 * 1024 + 1024}," in block, block
    # the template backend loads no model: no GPU, the base memory
    template = workdir / "template.yaml"
    template.write_text("scenarios:\n  backend: template\n")
    out = snakemake(
        workdir, "-n", "--profile", str(SLURM_PROFILE), target, "--configfile",
        config_path("config.yaml"), str(template),
    ).stdout  # fmt: skip
    block = out.split("rule make_scenarios:")[1].split("\n\n")[0]
    assert "gpu=0" in block and "mem_mb=4000," in block, block


@pytest.mark.parametrize("variant", ["tier", "balanced", "refined"])
def test_slurm_profile_groups_form_for_every_tier_variant(workdir, variant):
    """Every group of profiles/slurm forms, holds only its rules, and packs characters.

    Snakemake refuses a group that a path of jobs leaves and enters again ("depends on
    itself"), which each training variant could create through the rules between the tiers,
    the refinement and the LoRA; two characters check the packing of group-components.
    """
    extra = workdir / "variant.yaml"
    extra.write_text(f"characters: [gentle_freckled, demo]\ntraining:\n  tier_variant: {variant}\n")
    out = snakemake(
        workdir, "-n", "--profile", str(SLURM_PROFILE),
        "--configfile", config_path("config.yaml"), str(extra),
    ).stdout  # fmt: skip
    groups: dict[str, str] = yaml.safe_load((SLURM_PROFILE / "config.yaml").read_text())["groups"]
    # each group job: its header, then its member jobs (indented) until the next top-level job
    headers = re.split(r"^\[[^\]]+\] Group job (\S+) .*$", out, flags=re.M)
    group_jobs = [
        (name, re.split(r"^\[", block, maxsplit=1, flags=re.M)[0])
        for name, block in zip(headers[1::2], headers[2::2], strict=True)
    ]
    assert {name for name, _ in group_jobs} == set(groups.values()), group_jobs
    members = {}
    for name, block in group_jobs:
        rules = re.findall(r"^    rule (\w+):$", block, flags=re.M)
        assert rules and all(groups[rule] == name for rule in rules), (name, rules)
        members.setdefault(name, []).append((set(rules), block))
    # a tier's refinement rounds, the renders included, travel as one submission per character
    assert len(members["refine"]) == 2
    for rules, _ in members["refine"]:
        assert {"start_refinement", "generate_refinement", "build_refined_tier"} <= rules

    # each character's curation chain is one submission; the prompt suites share one
    def characters(block: str) -> set[str]:
        return set(re.findall(r"character=(\w+)", block))

    curate = sorted(sorted(characters(block)) for _, block in members["cpu_curate"])
    assert curate == [["demo"], ["gentle_freckled"]], curate
    [(_, suites)] = members["cpu_small"]
    assert characters(suites) == {"demo", "gentle_freckled"}
    ungrouped = set(re.findall(r"^rule (\w+):$", out, flags=re.M))
    assert not ungrouped & set(groups), sorted(ungrouped & set(groups))


def test_bad_config_fails_before_any_job(workdir):
    bad = workdir / "bad.yaml"
    bad.write_text("scenarios:\n  backend: gpt\ngeneration:\n  sampler: heun\n")
    result = snakemake(workdir, "--configfile", str(bad), check=False)
    assert result.returncode != 0
    err = result.stdout + result.stderr
    assert "scenarios.backend: 'gpt' is not allowed; use one of 'template', 'llama_cpp'" in err
    assert "generation.sampler: 'heun' is not allowed" in err
    assert not (workdir / "results").exists()


def test_unknown_character_fails_with_the_fix(workdir):
    bad = workdir / "bad.yaml"
    bad.write_text("characters: [nobody]\n")
    result = snakemake(workdir, "-n", "--configfile", str(bad), check=False)
    assert result.returncode != 0
    assert "config/characters/nobody.yaml does not exist" in result.stdout + result.stderr


def test_bad_training_preset_fails_before_any_job(workdir):
    bad = workdir / "bad.yaml"
    bad.write_text(
        "training:\n  presets: [mine]\n  user_presets:\n    mine: {extends: EXP_FACIAL_UNET_FOCUS_MID, learning_rte: 1.0e-4}\n"
    )
    result = snakemake(workdir, "-n", "--configfile", str(bad), check=False)
    assert result.returncode != 0
    assert "learning_rte" in result.stdout + result.stderr
    assert not (workdir / "results").exists()


def test_tier_mistakes_fail_at_dag_time_naming_the_file(workdir):
    bad = workdir / "bad.yaml"
    bad.write_text("curation:\n  tiers: [{size: 20, floor: 0.5}, {size: 70, floor: 0.9}]\n")
    result = snakemake(workdir, "-n", "--configfile", str(bad), check=False)
    err = result.stdout + result.stderr
    assert result.returncode != 0 and str(bad) in err
    assert "tier 70 has floor 0.9, above tier 20's floor 0.5" in err
    assert "training.tiers: [70]" not in err  # 70 is a configured tier here
    bad.write_text("curation:\n  tiers: [{size: 20}, {size: 100}]\n")
    result = snakemake(workdir, "-n", "--configfile", str(bad), check=False)
    assert result.returncode != 0
    assert "training.tiers: [70] is not in curation.tiers" in result.stdout + result.stderr


def test_malformed_config_yaml_fails_without_a_traceback(tmp_path):
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "config.yaml").write_text("curation:\n  k: [1,\n")
    result = snakemake(tmp_path, "-n", check=False)
    err = result.stdout + result.stderr
    assert result.returncode != 0 and "Traceback" not in err
    assert "config/config.yaml is not valid YAML" in err and "line 3" in err
    # --configfile files are read by Snakemake before the Snakefile runs: its own message
    # (no file name; `charfolio validate` names it) and no traceback either.
    (tmp_path / "config" / "config.yaml").unlink()
    (tmp_path / "bad.yaml").write_text("curation:\n  k: [1,\n")
    result = snakemake(tmp_path, "-n", "--configfile", str(tmp_path / "bad.yaml"), check=False)
    err = result.stdout + result.stderr
    assert result.returncode != 0 and "Traceback" not in err
    assert "not valid JSON or YAML" in err
