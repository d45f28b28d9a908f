"""Where the demo's tiny models are built: one folder under the model cache."""

from __future__ import annotations

import os
from pathlib import Path

DEFAULT_MODEL_CACHE = Path("models")  # when no model_cache is configured, as in config.yaml


def tiny_root(model_cache: str | os.PathLike[str] | None) -> Path:
    """Where tiny models are built: `<model_cache>/tiny`."""
    return (Path(model_cache) if model_cache is not None else DEFAULT_MODEL_CACHE) / "tiny"
