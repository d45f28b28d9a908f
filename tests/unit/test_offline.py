"""charfolio.core.offline: the hubs' offline switches forced on, and off for fetches only."""

from __future__ import annotations

import subprocess
import sys

import pytest

from charfolio.core.offline import FETCH_SWITCHES, OFFLINE_ENV, force_offline, hub_online

from ..network_guard import HUB_SWITCHES_OFF, REPO


def test_force_offline_overrides_a_users_zeros():
    environ = {**HUB_SWITCHES_OFF, "PATH": "/bin"}
    force_offline(environ)
    assert environ == {**OFFLINE_ENV, "PATH": "/bin"}
    assert environ["HF_HUB_OFFLINE"] == environ["TRANSFORMERS_OFFLINE"] == "1"


def test_hub_online_turns_the_fetch_switches_off_for_the_block_only():
    environ = {"PATH": "/bin"}
    force_offline(environ)
    del environ["HF_DATASETS_OFFLINE"]  # unset before: unset after
    before = dict(environ)
    with pytest.raises(KeyError), hub_online(environ):
        assert {k: environ[k] for k in FETCH_SWITCHES} == dict.fromkeys(FETCH_SWITCHES, "0")
        assert environ["HF_HUB_DISABLE_TELEMETRY"] == "1"  # fetches send no telemetry
        raise KeyError("a failed fetch restores them too")
    assert environ == before


def test_a_job_process_imports_the_hub_offline_and_only_a_fetch_goes_online():
    """In a fresh process, as a job is: the flag huggingface_hub reads at import follows."""
    code = (
        "from charfolio.core.offline import force_offline, hub_online\n"
        "force_offline()\n"
        "from huggingface_hub import constants\n"
        "print(constants.is_offline_mode(), constants.HF_HUB_DISABLE_TELEMETRY)\n"
        "with hub_online():\n    print(constants.is_offline_mode())\n"
        "print(constants.is_offline_mode())\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO / "src"), **HUB_SWITCHES_OFF},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.split("\n") == ["True True", "False", "True", ""]


def test_every_command_but_models_runs_offline(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    import os

    from charfolio import cli

    for key in OFFLINE_ENV:
        monkeypatch.setenv(key, "0")
    assert cli.main(["models", "--config", str(tmp_path / "missing.yaml")]) != 0
    assert {key: os.environ[key] for key in FETCH_SWITCHES} == dict.fromkeys(FETCH_SWITCHES, "0")
    # calibrate loads a face model: it runs as offline as a job (the folder is empty).
    assert cli.main(["calibrate", str(tmp_path)]) == 2
    assert {key: os.environ[key] for key in OFFLINE_ENV} == dict(OFFLINE_ENV)
