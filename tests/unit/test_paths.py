"""Recorded paths: relative inside the project, absolute outside it."""

from __future__ import annotations

from pathlib import Path

from charfolio.core.paths import portable_model_config, portable_path


def test_paths_inside_the_project_are_relative_to_it(tmp_path, monkeypatch):
    project = tmp_path / "project"
    (project / "models").mkdir(parents=True)
    monkeypatch.chdir(project)
    assert portable_path(project / "models" / "m.safetensors") == "models/m.safetensors"
    assert portable_path("results/demo/tier_10") == "results/demo/tier_10"
    assert portable_path(project) == "."
    assert portable_path(tmp_path / "shared" / "m.safetensors", root=project) == str(
        tmp_path / "shared" / "m.safetensors"
    )


def test_a_project_reached_through_a_symlink_is_still_the_project(tmp_path, monkeypatch):
    (tmp_path / "real" / "models").mkdir(parents=True)
    (tmp_path / "link").symlink_to(tmp_path / "real")
    monkeypatch.chdir(tmp_path / "link")  # the working directory is the physical path
    assert portable_path(tmp_path / "link" / "models") == "models"


def test_model_configs_keep_their_names_and_make_paths_portable(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    config = {"path": str(tmp_path / "models" / "tiny"), "architecture": "sd15",
              "config_dir": None, "vae": "vae/x.safetensors"}  # fmt: skip
    assert portable_model_config(config) == {
        "path": "models/tiny", "architecture": "sd15", "config_dir": None,
        "vae": "vae/x.safetensors",
    }  # fmt: skip
    assert Path(portable_model_config({"path": "/elsewhere/m"})["path"]).is_absolute()
