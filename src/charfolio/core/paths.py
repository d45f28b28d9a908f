"""Paths as artifacts record them, so a moved or re-cloned project writes the same bytes.

Snakemake runs every job in the project folder, and every relative path in the config
(model_cache, character_dir, results/...) is relative to it. A recorded path inside the
project is written relative to the project; a path outside it (a shared model cache, a
folder of the user's photos) stays absolute, since moving the project does not move it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any


def portable_path(path: str | os.PathLike[str], root: str | os.PathLike[str] | None = None) -> str:
    """`path` relative to `root` (default: the working directory) when inside it, else as given.

    A relative path is already relative to the project and is returned as written.
    """
    path = Path(path)
    if not path.is_absolute():
        return path.as_posix()
    base = Path.cwd() if root is None else Path(root)
    # Compare physical paths too: the working directory is physical, a given path may not be.
    for candidate, within in ((path, base), (path.resolve(), base.resolve())):
        if candidate.is_relative_to(within):
            return candidate.relative_to(within).as_posix()
    return path.as_posix()


def optional_portable_path(path: str | os.PathLike[str] | None) -> str | None:
    return None if path is None else portable_path(path)


# The keys of a model config (generation.model) that name files or folders.
MODEL_PATH_KEYS = ("path", "config_dir", "vae")


def portable_model_config(model_cfg: Mapping[str, Any]) -> dict[str, Any]:
    """A model config with its file and folder paths made portable (see `portable_path`)."""
    return {
        key: portable_path(value) if key in MODEL_PATH_KEYS and value else value
        for key, value in model_cfg.items()
    }
