"""The DAG: lint, dry runs of every target, validation before any job, GPU resources."""

from __future__ import annotations

import re

import pytest

from .conftest import REPO, config_path, snakemake


def test_lint_is_clean(workdir):
    result = snakemake(workdir, "--lint")
    assert "Congratulations, your workflow is in a good condition" in result.stdout + result.stderr


@pytest.mark.parametrize(
    ("configfile", "character", "seeds"),
    [
        ("demo.yaml", "demo", range(1234, 1238)),
        ("config.yaml", "gentle_freckled", range(966983, 966993)),
    ],
)
def test_dry_run_plans_every_target(workdir, configfile, character, seeds):
    result = snakemake(workdir, "-n", "--configfile", config_path(configfile))
    out = result.stdout
    assert re.search(r"make_scenarios\s+1\b", out)
    assert re.search(rf"generate_images\s+{len(seeds)}\b", out)
    for seed in seeds:
        assert f"results/{character}/images/seed_{seed}.parquet" in out
    # each target alone (targets go before --configfile, which takes several values)
    targets = [
        f"results/{character}/scenarios.parquet",
        f"results/{character}/images/seed_{seeds[0]}.parquet",
    ]
    for target in targets:
        assert (
            target
            in snakemake(workdir, "-n", target, "--configfile", config_path(configfile)).stdout
        )


def test_slurm_profile_plans_shards_with_gpus(workdir):
    result = snakemake(
        workdir, "-n", "--profile", str(REPO / "profiles" / "slurm"),
        "results/gentle_freckled/images/seed_966983.parquet",
    )  # fmt: skip
    block = result.stdout.split("rule generate_images:")[1]
    assert "gpu=1" in block and "mem_mb=16000" in block


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
