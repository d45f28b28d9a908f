"""Rerun triggers computed from the code: every script rule carries its digest, and editing a
module Snakemake never sees reruns the stage that imports it and nothing else."""

from __future__ import annotations

import os
import shutil

from charfolio.core.code_digest import code_digest, package_root

from .conftest import REPO, config_path, planned_jobs, snakemake
from .rule_table import rule_table


def test_every_script_rule_carries_the_digest_of_its_own_script(workdir):
    rules = [rule for rule in rule_table(workdir, config_path("demo.yaml")) if rule["script"]]
    assert len(rules) >= 25
    for rule in rules:
        # A copied params line naming another rule's script fails here.
        assert rule["params"].get("code") == code_digest(rule["script"]), rule["name"]


def test_editing_a_stage_module_reruns_that_stage_only(workdir, tmp_path):
    # A copy of the library to edit; the workflow's files (schemas, scripts) stay the repo's.
    library = tmp_path / "checkout" / "src"
    shutil.copytree(package_root(), library / "charfolio", ignore=shutil.ignore_patterns("*.pyc"))
    env = os.environ | {"PYTHONPATH": str(library), "CHARFOLIO_WORKFLOW_DIR": str(REPO)}
    target = ("results/demo/scenarios.parquet", "--configfile", config_path("demo.yaml"))
    snakemake(workdir, *target, env=env)

    def planned() -> dict[str, int]:
        return planned_jobs(snakemake(workdir, "-n", *target, env=env).stdout)

    def edit(module: str) -> None:
        path = library / "charfolio" / module
        path.write_text(path.read_text() + "\n# edited\n")

    edit("faces/dlib_backend.py")  # not imported by make_scenarios
    assert planned() == {}
    edit("scenarios/grammar.py")  # the template backend, named by string in its registry
    assert planned() == {"make_scenarios": 1}
