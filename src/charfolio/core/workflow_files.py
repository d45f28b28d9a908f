"""Where the workflow's own files are: the Snakefile, rules/, workflow/ (schemas, scripts,
report) and config/config.yaml, the base config of `charfolio curate`.

Run from a checkout (an editable install, or PYTHONPATH=src) they are the checkout's, so
an edit there is what runs. A wheel ships a copy of them inside the package (setup.py
copies them into charfolio/bundled_workflow/ at build time), so `pip install` works outside
a checkout. CHARFOLIO_WORKFLOW_DIR names another workflow folder and overrides both.
"""

from __future__ import annotations

import os
from pathlib import Path

ENV_VAR = "CHARFOLIO_WORKFLOW_DIR"
BUNDLED = "bundled_workflow"  # the copy's folder inside the installed package
_PACKAGE = Path(__file__).resolve().parents[1]


def is_workflow_dir(folder: Path) -> bool:
    """Whether `folder` holds a charfolio workflow: a Snakefile beside workflow/schemas."""
    return (folder / "Snakefile").is_file() and (folder / "workflow" / "schemas").is_dir()


def workflow_dir() -> Path:
    """The workflow folder: $CHARFOLIO_WORKFLOW_DIR, else the checkout, else the installed copy."""
    override = os.environ.get(ENV_VAR)
    if override:
        folder = Path(override).expanduser().resolve()
        if not is_workflow_dir(folder):
            raise FileNotFoundError(
                f"{ENV_VAR}={override}: {folder} has no Snakefile and workflow/schemas/; point "
                f"it at a charfolio checkout (or unset it to use the installed workflow)"
            )
        return folder
    for folder in (_PACKAGE.parents[1], _PACKAGE / BUNDLED):  # src/charfolio -> the checkout
        if is_workflow_dir(folder):
            return folder
    raise FileNotFoundError(
        f"charfolio's workflow files are neither in a checkout around {_PACKAGE} nor in "
        f"{_PACKAGE / BUNDLED}: reinstall charfolio from a wheel or a checkout, or set "
        f"{ENV_VAR} to a checkout"
    )


def snakefile() -> Path:
    return workflow_dir() / "Snakefile"


def schema_dir() -> Path:
    return workflow_dir() / "workflow" / "schemas"


def base_config() -> Path:
    """The workflow's own config/config.yaml: the science defaults every run starts from."""
    return workflow_dir() / "config" / "config.yaml"
