"""Backends from other packages, found through their entry points.

A registry asks here for a name it does not hold. A package adds backends by declaring
them in its pyproject (charfolio's own demo models are declared this way):

    [project.entry-points."charfolio.image_backends"]
    my_backend = "my_package.backend:create_my_backend"

Entry points are package metadata, so every process that imports charfolio finds them
(CLI, Snakemake jobs, tests) without importing the plugin first; the metadata is written
when the package is installed, so a new or renamed entry point needs a reinstall.
"""

from __future__ import annotations

from importlib.metadata import entry_points
from typing import Any

REINSTALL_HINT = (
    "if a plugin package provides it, (re)install that package so its entry points are "
    "registered (for charfolio's own demo backends: pip install --no-deps -e .)"
)


def load_plugin(group: str, name: str) -> Any | None:
    """The object the entry point `name` of `group` names, or None when none is declared."""
    for entry_point in entry_points(group=group, name=name):
        return entry_point.load()
    return None


def plugin_names(group: str) -> list[str]:
    """Names declared in `group` by installed packages."""
    return sorted({entry_point.name for entry_point in entry_points(group=group)})
