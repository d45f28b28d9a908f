"""Run commands under the network guard in tests/netguard (see its sitecustomize.py)."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
GUARD_DIR = REPO / "tests" / "netguard"
# What a user's shell may say: the jobs must be offline all the same.
HUB_SWITCHES_OFF = {
    "HF_HUB_OFFLINE": "0",
    "TRANSFORMERS_OFFLINE": "0",
    "HF_DATASETS_OFFLINE": "0",
    "HF_HUB_DISABLE_TELEMETRY": "0",
}


def guarded_env(log: Path, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """os.environ with the guard first on PYTHONPATH, then this tree's src (not an install's)."""
    paths = [str(GUARD_DIR), str(REPO / "src"), os.environ.get("PYTHONPATH", "")]
    return os.environ | {
        "PYTHONPATH": os.pathsep.join(p for p in paths if p),
        "CHARFOLIO_NETGUARD_LOG": str(log),
        "PYTHONHASHSEED": "0",
        **(extra or {}),
    }


def _entries(log: Path, kind: str) -> list[dict[str, Any]]:
    if not log.exists():
        return []
    lines = log.read_text(encoding="utf-8").splitlines()
    return [e for e in map(json.loads, lines) if e["kind"] == kind]


def attempts(log: Path) -> list[dict[str, Any]]:
    """Each refused lookup or connection: call, target, library, callers, pid, argv."""
    return _entries(log, "network")


def hub_modes(log: Path) -> list[dict[str, Any]]:
    """One entry per guarded process that imported huggingface_hub: was it offline?"""
    return _entries(log, "hub")


def describe(entries: list[dict[str, Any]]) -> str:
    """Each attempt: library, call and target, who asked, the process, then its callers."""
    return "\n".join(
        f"{e['library']} {e['call']}({e['target']}), asked by {e['asked_by']}, "
        f"in {' '.join(e['argv'])}\n    " + "\n    ".join(e["callers"])
        for e in entries
    )
