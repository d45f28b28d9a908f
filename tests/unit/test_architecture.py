"""docs/architecture.md stays true: its stage map names every rules file, script and package."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DOC = REPO / "docs" / "architecture.md"
ROW = re.compile(r"^\| `rules/(\w+)\.smk` \| (.+) \| `(\w+)/` \|$", re.MULTILINE)
SCRIPT_USE = re.compile(r"workflow/scripts/(\w+\.py)")
STAGE_IMPORT = re.compile(r"^from charfolio\.(\w+)", re.MULTILINE)


def stage_map() -> dict[str, tuple[set[str], str]]:
    """rules file stem -> (its scripts, its package), as the page's table gives them."""
    rows = {}
    for rules, scripts, package in ROW.findall(DOC.read_text()):
        assert rules not in rows, f"{DOC}: rules/{rules}.smk has two rows; keep one"
        rows[rules] = (set(re.findall(r"`(\w+\.py)`", scripts)), package)
    return rows


def test_every_rules_file_has_a_row() -> None:
    stages = {p.stem for p in (REPO / "rules").glob("*.smk")} - {"common", "targets"}
    assert set(stage_map()) == stages, f"add or remove rows of the stage map in {DOC}"


@pytest.mark.parametrize("rules", sorted(stage_map()))
def test_a_row_lists_the_scripts_its_rules_run_and_they_call_its_package(rules: str) -> None:
    scripts, package = stage_map()[rules]
    used = set(SCRIPT_USE.findall((REPO / "rules" / f"{rules}.smk").read_text()))
    assert scripts == used, f"{DOC}: the rules/{rules}.smk row should list {sorted(used)}"
    for script in scripts:
        called = set(STAGE_IMPORT.findall((REPO / "workflow" / "scripts" / script).read_text()))
        assert called - {"core"} == {package}, (
            f"workflow/scripts/{script} calls charfolio.{sorted(called - {'core'})}, not the "
            f"package of its rules file ({package}); move the code or fix the row in {DOC}"
        )


def test_every_script_is_in_the_map() -> None:
    listed = set().union(*(scripts for scripts, _ in stage_map().values()))
    present = {p.name for p in (REPO / "workflow" / "scripts").glob("*.py")}
    assert present == listed, f"{DOC}: the stage map should list exactly {sorted(present)}"


def test_every_package_and_top_level_module_is_named() -> None:
    src = REPO / "src" / "charfolio"
    text = DOC.read_text()
    names = [f"`{p.parent.name}/`" for p in src.glob("*/__init__.py")]
    names += [f"`{p.name}`" for p in src.glob("*.py") if p.name != "__init__.py"]
    missing = [n for n in names if n not in text]
    assert not missing, f"say what {', '.join(missing)} is in {DOC}"
