"""The workflow's files are found from a checkout, from an installed wheel, or by override."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from charfolio.core import workflow_files

REPO = Path(__file__).resolve().parents[2]
# What a wheel is built from: the package, its build files and the workflow setup.py bundles.
BUILD_INPUTS = ["pyproject.toml", "setup.py", "MANIFEST.in", "README.md", "src", "Snakefile",
                "rules", "workflow", "config/config.yaml"]  # fmt: skip


def test_a_checkout_finds_its_own_files(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(workflow_files.ENV_VAR, raising=False)
    assert workflow_files.workflow_dir() == REPO
    assert workflow_files.snakefile() == REPO / "Snakefile"
    assert workflow_files.schema_dir() == REPO / "workflow" / "schemas"


def test_the_override_must_be_a_workflow(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(workflow_files.ENV_VAR, str(tmp_path))
    with pytest.raises(FileNotFoundError, match=r"CHARFOLIO_WORKFLOW_DIR.*no Snakefile"):
        workflow_files.workflow_dir()
    (tmp_path / "Snakefile").write_text("")
    (tmp_path / "workflow" / "schemas").mkdir(parents=True)
    assert workflow_files.workflow_dir() == tmp_path.resolve()


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """charfolio built into a wheel from a copy of the project and installed into a folder."""
    root = tmp_path_factory.mktemp("wheel")
    project = root / "project"
    for name in BUILD_INPUTS:
        source, dest = REPO / name, project / name
        dest.parent.mkdir(parents=True, exist_ok=True)
        if source.is_dir():
            shutil.copytree(
                source, dest, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info")
            )
        else:
            shutil.copy2(source, dest)
    pip = [sys.executable, "-m", "pip", "-q"]
    subprocess.run([*pip, "wheel", "--no-deps", "--no-build-isolation", "-w", root / "dist",
                    project], check=True)  # fmt: skip
    wheel = next((root / "dist").glob("charfolio-*.whl"))
    subprocess.run([*pip, "install", "--no-deps", "--target", root / "site", wheel], check=True)
    return root / "site"


def run_installed(site: Path, cwd: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    """A Python run from `cwd` (outside the checkout) that imports charfolio from `site`."""
    env = {**os.environ, "PYTHONPATH": str(site)}
    env.pop(workflow_files.ENV_VAR, None)
    return subprocess.run([sys.executable, *argv], cwd=cwd, env=env, text=True,
                          capture_output=True, check=False)  # fmt: skip


def test_an_installed_wheel_runs_outside_a_checkout(installed: Path, tmp_path: Path) -> None:
    located = run_installed(installed, tmp_path, "-c", (
        "import charfolio; from charfolio.core import workflow_files as w; "
        "print(charfolio.__file__); print(w.snakefile()); print(w.schema_dir())"
    ))  # fmt: skip
    assert located.returncode == 0, located.stderr
    package, snakefile, schemas = map(Path, located.stdout.split())
    bundled = installed / "charfolio" / workflow_files.BUNDLED
    assert package.parent == installed / "charfolio"
    assert snakefile == bundled / "Snakefile" and snakefile.is_file()
    assert sorted(p.name for p in schemas.iterdir()) == sorted(
        p.name for p in (REPO / "workflow" / "schemas").iterdir()
    )

    photos = tmp_path / "photos"
    photos.mkdir()
    (photos / "a.png").write_bytes(b"")  # curate checks image files by name only
    curate = run_installed(installed, tmp_path, "-m", "charfolio.cli", "curate", "photos",
                           "--out", "out", "-n", "--cores", "1")  # fmt: skip
    assert curate.returncode == 0, curate.stdout + curate.stderr
    assert f"-s {bundled / 'Snakefile'}" in curate.stdout
    assert "curate_characters" in curate.stdout  # Snakemake parsed the bundled rules

    validate = run_installed(installed, tmp_path / "out", "-m", "charfolio.cli", "validate",
                             "config/config.yaml", "config/curate.yaml")  # fmt: skip
    assert validate.returncode == 0, validate.stderr
    (tmp_path / "bad.yaml").write_text("curation: {tiers: [{size: 20, floor: 2}]}\n")
    bad = run_installed(
        installed, tmp_path, "-m", "charfolio.cli", "validate", "out/config/config.yaml", "bad.yaml"
    )
    assert bad.returncode == 2 and "curation.tiers.0.floor" in bad.stderr
