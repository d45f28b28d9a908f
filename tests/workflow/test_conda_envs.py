"""Each rule's conda env (`--sdm conda`) installs the extras its script's imports need."""

from __future__ import annotations

import contextlib
import re
import tomllib
from functools import cache
from importlib.metadata import PackageNotFoundError, packages_distributions, requires
from pathlib import Path

import pytest
import yaml

from .conftest import REPO, config_path
from .rule_table import rule_table
from .script_imports import third_party_imports

# Import names packages_distributions() cannot map: dlib-bin installs a bare extension module.
DISTRIBUTIONS = {"dlib": ["dlib-bin"]}


def _name(requirement: str) -> str:
    return re.split(r"[\s\[<>=!~;]", requirement, maxsplit=1)[0].lower().replace("_", "-")


@cache
def _extras() -> dict[str, set[str]]:
    """{extra: the distributions it installs}, "" for the base; self-references expanded and
    each declared distribution's own direct requirements added (huggingface_hub comes with
    diffusers)."""
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    declared = {"": project["dependencies"], **project["optional-dependencies"]}

    def expand(extra: str) -> set[str]:
        names = set()
        for requirement in declared[extra]:
            if (nested := re.fullmatch(r"charfolio\[([^\]]+)\]", requirement)) is not None:
                names |= set().union(*(expand(e.strip()) for e in nested[1].split(",")))
            else:
                names.add(_name(requirement))
        return names

    extras = {}
    for extra in declared:
        names = expand(extra)
        for name in list(names):
            # Not installed here (e.g. the slurm plugin): its own name still counts.
            with contextlib.suppress(PackageNotFoundError):
                names |= {_name(r) for r in requires(name) or [] if "extra ==" not in r}
        extras[extra] = names
    return extras


def _env_extras(env_file: str) -> set[str]:
    """The charfolio extras an env file's pip line installs (`-e ..[torch,faces]`)."""
    env = yaml.safe_load(Path(env_file).read_text())
    pips = [d["pip"] for d in env["dependencies"] if isinstance(d, dict) and "pip" in d]
    extras = set()
    for line in (line for pip in pips for line in pip):
        if (match := re.fullmatch(r"-e \.\.\[([^\]]*)\]", line.strip())) is not None:
            extras |= {extra.strip() for extra in match[1].split(",")}
    return extras


@cache
def _distributions() -> dict[str, list[str]]:
    return packages_distributions()  # scans every installed distribution: once


def _providers(package: str) -> list[str]:
    distributions = _distributions().get(package) or DISTRIBUTIONS.get(package)
    assert distributions, f"no distribution provides `import {package}`: add it to DISTRIBUTIONS"
    names = {_name(d) for d in distributions}
    return sorted(extra for extra, installs in _extras().items() if names & installs)


def test_the_import_analysis_sees_lazy_backends():
    """The env check below is only as good as this: deferred imports are found."""
    needs = {
        script: third_party_imports(REPO / "workflow" / "scripts" / f"{script}.py")
        for script in ("caption_images", "detect_faces", "make_scenarios", "analyze_balance")
    }
    assert {"llama_cpp", "transformers"} <= needs["caption_images"].keys()  # in functions
    assert "dlib" in needs["detect_faces"]  # a backend named by string in the registry
    assert "llama_cpp" in needs["make_scenarios"]
    # analyze_balance loads the captions registry (caption lint) but creates no captioner.
    assert not {"llama_cpp", "transformers", "torch"} & needs["analyze_balance"].keys()


@pytest.mark.parametrize("extra", ["torch", "faces", "llm"])
def test_every_extra_maps_to_the_imports_it_provides(extra):
    imports = {"torch": "diffusers", "faces": "insightface", "llm": "llama_cpp"}
    assert extra in _providers(imports[extra])


def test_every_rule_env_installs_what_its_script_imports(tmp_path):
    (tmp_path / "config").symlink_to(REPO / "config")
    problems = []
    rules = [r for r in rule_table(tmp_path, config_path("demo.yaml")) if r["script"]]
    for rule in rules:
        assert rule["conda"], f"rule {rule['name']} has a script but no conda: env"
        installed = {""} | _env_extras(rule["conda"])
        for package, module in sorted(third_party_imports(rule["script"]).items()):
            providers = _providers(package)
            if not installed & set(providers):
                problems.append(
                    f"rule {rule['name']}: {module} imports {package}, which "
                    f"{rule['conda']} does not install; add one of {providers} to its pip line"
                )
    assert not problems, "\n".join(problems)
