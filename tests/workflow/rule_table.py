"""Every rule of the workflow as Snakemake parses it: script, conda env, benchmark, params.

Run as a module (Snakemake's API changes the working directory and logging, so the tests
call it in a subprocess): prints one JSON list.
    python -m tests.workflow.rule_table WORKDIR CONFIGFILE
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from snakemake.api import SnakemakeApi
from snakemake.settings.types import ConfigSettings, OutputSettings, ResourceSettings

REPO = Path(__file__).resolve().parents[2]


def _rules(workdir: Path, configfile: Path) -> list[dict[str, Any]]:
    with SnakemakeApi(OutputSettings(quiet={"all"})) as api:
        workflow = api.workflow(
            resource_settings=ResourceSettings(cores=1),
            config_settings=ConfigSettings(configfiles=[configfile]),
            snakefile=REPO / "Snakefile",
            workdir=workdir,
        )._workflow  # the parsed rules; the public API offers only DAG-level views
        return [
            {
                "name": rule.name,
                "script": str((Path(rule.basedir) / rule.script).resolve())
                if rule.script
                else None,
                "conda": (
                    str((Path(rule.basedir) / rule.conda_env).resolve()) if rule.conda_env else None
                ),
                "benchmark": str(rule.benchmark) if rule.benchmark else None,
                "params": {
                    name: value for name, value in rule.params.items() if isinstance(value, str)
                },
            }
            for rule in workflow.rules
        ]


def rule_table(workdir: Path, configfile: str) -> list[dict[str, Any]]:
    """The rules of the workflow run in `workdir` with `configfile` (in a subprocess)."""
    result = subprocess.run(
        [sys.executable, "-m", "tests.workflow.rule_table", str(workdir), configfile],
        cwd=REPO, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-4000:]
    return json.loads(result.stdout.splitlines()[-1])


if __name__ == "__main__":
    print(json.dumps(_rules(Path(sys.argv[1]), Path(sys.argv[2]))))
