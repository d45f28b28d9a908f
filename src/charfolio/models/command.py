"""`charfolio models`: list every model file a config needs, its state, and fetch the missing.

GPU compute nodes are often offline, so `charfolio models` runs on a node with internet
access and fills the config's `model_cache`; every rule then only reads local files and,
when one is missing, names the file and this command. `--check` fetches nothing and fails
when anything is missing: a pre-flight for compute nodes. Pickle formats are refused, by
config name and by URL.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from charfolio.config_checks import load_config
from charfolio.core.offline import hub_online
from charfolio.models.download import Log
from charfolio.models.fetch import fetch, missing_hint
from charfolio.models.licences import licence_note
from charfolio.models.needs import Kind, config_entries, unused_sources
from charfolio.models.state import MISSING, inspect, where


def run_models(
    config: Mapping[str, Any], *, check: bool = False, label: str = "config", log: Log = print
) -> int:
    """List every model file the config needs and fetch the missing ones (not with `check`).

    Returns 0 when every file is present (and matches its sha256), else 1.
    """
    entries = config_entries(config)
    mode = "checking (no downloads)" if check else "fetching what is missing"
    log(f"charfolio models: {label} (model_cache: {config.get('model_cache')}); {mode}")
    problems = 0
    for entry in entries:
        status = inspect(entry)
        fetchable = status.state == MISSING and entry.kind is not Kind.PACKAGE
        if fetchable and not check:
            with hub_online():  # the only hub access a run allows (see charfolio.core.offline)
                status = fetch(entry, log)
        elif fetchable:
            status = replace(status, detail=missing_hint(entry))
        problems += not status.ok
        log(f"  {status.state:<22} {entry.key} = {entry.name or '(unset)'}")
        located = f"-> {status.path} ({where(entry, status.path)})" if status.path else ""
        if located or status.detail:
            log(f"  {'':<22} {'; '.join(p for p in (located, status.detail) if p)}")
        note = licence_note(entry.key, entry.name) if entry.name else None
        if note:
            log(f"  {'':<22} licence: {note}")
    for name in unused_sources(config, entries):
        log(f"  note: model_sources[{name!r}] is not named by this config (names must match)")
    if not problems:
        log(f"ok: all {len(entries)} model files the config needs are in place")
        return 0
    hint = (
        "run `charfolio models` with the same configs on a node with internet access"
        if check
        else "fix the lines above"
    )
    log(f"{problems} of {len(entries)} model files are not usable; {hint}")
    return 1


def add_models_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register `charfolio models --config ... [--check]` on the main parser's subparsers."""
    p = subparsers.add_parser(
        "models",
        help="list, check and fetch the model files a config needs",
        description="List every model file the merged config needs, where it resolves and its "
        "state; fetch the missing ones into model_cache from model_sources (open_clip tags from "
        "Hugging Face). Run it where you run snakemake (relative paths), on a node with internet.",
    )
    p.add_argument(
        "--config",
        action="append",
        required=True,
        help="a config file (repeatable; later ones override, like --configfile)",
    )
    p.add_argument(
        "--check",
        action="store_true",
        help="fetch nothing; exit 1 if anything is missing (a pre-flight for offline nodes)",
    )
    p.set_defaults(func=_cmd_models)
    return p


def _cmd_models(args: argparse.Namespace) -> int:
    config = load_config(args.config)  # the same merge and validation as every command
    return run_models(config, check=args.check, label=" + ".join(args.config))
