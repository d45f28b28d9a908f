"""The model hubs' offline switches: on in every job, off only for `charfolio models` fetches.

GPU compute nodes are often firewalled, where a Hub lookup hangs until it times out instead
of failing, and a job that reads only local files is one the lock and the model cache
reproduce. The Snakefile calls `force_offline()` while it is parsed, so every job inherits
the switches: local jobs are subprocesses of snakemake, a SLURM job re-parses the Snakefile
on its node, and either way they are in the environment before a job process imports a hub
library (huggingface_hub reads them once, at import). A user's HF_HUB_OFFLINE=0 does not
turn them off; only `charfolio models`, which fetches model files on a node with internet
access, does, for its fetches only (`hub_online`).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator, MutableMapping
from contextlib import contextmanager
from types import MappingProxyType

# What the installed libraries read (checked against their sources):
OFFLINE_ENV = MappingProxyType(
    {
        # huggingface_hub, at import: every Hub call of transformers, diffusers, peft, open_clip
        # and timm goes through it (none of them has an offline switch of its own now; peft
        # also reads this one when it saves an adapter).
        "HF_HUB_OFFLINE": "1",
        # huggingface_hub's alias of it, and transformers' own switch before version 5.
        "TRANSFORMERS_OFFLINE": "1",
        # datasets' switch: not installed today, on should a backend bring it in.
        "HF_DATASETS_OFFLINE": "1",
        # huggingface_hub's usage pings (it skips them offline anyway; stays on in fetches).
        "HF_HUB_DISABLE_TELEMETRY": "1",
    }
)
# The switches `charfolio models` turns off to download.
FETCH_SWITCHES = ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_DATASETS_OFFLINE")


def force_offline(environ: MutableMapping[str, str] = os.environ) -> None:
    """Set every offline switch on in `environ`, whatever it said before."""
    environ.update(OFFLINE_ENV)


@contextmanager
def hub_online(environ: MutableMapping[str, str] = os.environ) -> Iterator[None]:
    """The fetch switches off for the block, then as they were (for `charfolio models`).

    huggingface_hub reads HF_HUB_OFFLINE once, at import, into the flag its downloads
    consult at each request: in a process that has imported it, that flag follows too.
    """
    saved = {key: environ.get(key) for key in FETCH_SWITCHES}
    environ.update(dict.fromkeys(FETCH_SWITCHES, "0"))
    live = environ is os.environ
    if live:
        _set_hub_flag(False)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                environ.pop(key, None)
            else:
                environ[key] = value
        if live:  # what the restored environment says, as huggingface_hub computes it
            value = environ.get("HF_HUB_OFFLINE") or environ.get("TRANSFORMERS_OFFLINE") or ""
            _set_hub_flag(value.upper() in {"1", "ON", "YES", "TRUE"})


def _set_hub_flag(offline: bool) -> None:
    constants = sys.modules.get("huggingface_hub.constants")
    if constants is not None:
        constants.HF_HUB_OFFLINE = offline
