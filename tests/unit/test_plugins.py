"""Demo backends arrive through entry points; production code never names charfolio.demo."""

from __future__ import annotations

import ast
import tomllib
from importlib.metadata import entry_points
from pathlib import Path

import pytest

import charfolio
from charfolio.demo.reference_variation import ReferenceVariationBackend
from charfolio.demo.tiny_base_model import TinyBaseModel
from charfolio.generation.backends import create_image_backend
from charfolio.lora.base_model import builds_adapters, create_base_model

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = Path(charfolio.__file__).parent
GROUPS = ("charfolio.image_backends", "charfolio.base_models", "charfolio.open_clip_models")


def declared() -> dict[str, dict[str, str]]:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    return {group: pyproject["project"]["entry-points"][group] for group in GROUPS}


@pytest.mark.parametrize("group", GROUPS)
def test_installed_entry_points_are_the_declared_ones(group: str) -> None:
    """A stale install (pyproject changed, package not reinstalled) fails here, not in a job."""
    installed = {ep.name: ep.value for ep in entry_points(group=group)}
    assert installed == declared()[group], "reinstall charfolio: pip install --no-deps -e ."


def test_every_declared_entry_point_loads() -> None:
    for group in GROUPS:
        for name in declared()[group]:
            (entry_point,) = entry_points(group=group, name=name)
            assert callable(entry_point.load()), f"{group} {name}"


def test_registries_create_the_demo_backends_by_name() -> None:
    backend = create_image_backend({"backend": "reference_variation"})
    assert isinstance(backend, ReferenceVariationBackend)
    source = create_base_model("tiny", {"weights_seed": 7})
    assert isinstance(source, TinyBaseModel) and source.weights_seed == 7
    assert source.recorded_seeds() == {"tiny_weights_seed": 7}
    assert builds_adapters("tiny") and not builds_adapters("diffusers")


def test_the_tiny_vit_is_an_open_clip_architecture_once_plugins_are_added() -> None:
    import open_clip

    from charfolio.embed.open_clip_backend import add_plugin_model_configs

    add_plugin_model_configs()
    model = open_clip.create_model("charfolio-tiny-vit")
    assert model.visual.output_dim == 32 and model.visual.image_size == (64, 64)


def test_unknown_names_say_how_plugins_are_registered() -> None:
    with pytest.raises(ValueError, match=r"'nope'.*'reference_variation'.*pip install"):
        create_image_backend({"backend": "nope"})
    with pytest.raises(ValueError, match=r"'nope'.*'tiny'.*pip install"):
        create_base_model("nope")


def test_production_modules_never_import_the_demo_package() -> None:
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if (PACKAGE / "demo") in path.parents:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            offenders += [f"{path.relative_to(PACKAGE)}: {n}" for n in names if "demo" in n]
    assert offenders == []


def test_validation_refuses_a_backend_no_installed_package_provides() -> None:
    from charfolio.config_checks import check_config
    from charfolio.core.config import ConfigError, validate

    config = validate(
        {"generation": {"backend": "stable-cascade"}, "training": {"backend": "flux"}},
        "config",
        "my.yaml",
    )
    with pytest.raises(ConfigError) as info:
        check_config(config, "my.yaml")
    message = str(info.value)
    assert "generation.backend: 'stable-cascade' is not an installed backend" in message
    assert "'diffusers', 'reference_variation', 'tiny'" in message
    assert (
        "training.backend: 'flux' is not an installed backend; use one of ['diffusers', 'tiny']"
        in message
    )


def test_validation_accepts_a_plugin_packages_backend(monkeypatch: pytest.MonkeyPatch) -> None:
    """The schema lists no backends: another package's entry point makes a name valid."""
    from charfolio.config_checks import check_config
    from charfolio.core import plugins
    from charfolio.core.config import validate

    declared = plugins.plugin_names
    monkeypatch.setattr(
        plugins,
        "plugin_names",
        lambda group: (
            [*declared(group), "stable-cascade"]
            if group == "charfolio.image_backends"
            else declared(group)
        ),
    )
    monkeypatch.setattr("charfolio.generation.backends.plugin_names", plugins.plugin_names)
    config = validate({"generation": {"backend": "stable-cascade"}}, "config", "my.yaml")
    check_config(config, "my.yaml")  # no error
