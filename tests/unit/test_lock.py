"""The lock in envs/lock: made from pyproject as it is now, and what every install gets."""

from __future__ import annotations

import importlib.metadata
import re
import runpy
import tomllib
from pathlib import Path

import pytest
from packaging.markers import Marker
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

PROJECT = Path(__file__).resolve().parents[2]
LOCK_DIR = PROJECT / "envs" / "lock"
lockfile = runpy.run_path(str(LOCK_DIR / "lockfile.py"))
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(\[[^\]]*\])?==([^ ;\\]+)(?: ; (.+?))?\s*\\?$")


def locked(name: str) -> dict[str, Version]:
    """{package: version} of the pins in a lock file whose markers hold on this machine."""
    pins = {}
    for line in (LOCK_DIR / name).read_text().splitlines():
        match = PIN.match(line)
        if match is None:
            continue
        package, _, version, marker = match.groups()
        if marker is None or Marker(marker).evaluate():
            pins[canonicalize_name(package)] = Version(version)
    return pins


def pyproject_requirements(extra: str) -> list[Requirement]:
    """The requirements an install of `charfolio[extra]` resolves, self-references expanded."""
    project = tomllib.loads((PROJECT / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"]
    requirements, pending, seen = [], [extra], set()
    for text in project["dependencies"]:
        requirements.append(Requirement(text))
    while pending:
        name = pending.pop()
        if name in seen:
            continue
        seen.add(name)
        for text in extras[name]:
            requirement = Requirement(text)
            if canonicalize_name(requirement.name) == "charfolio":
                pending.extend(requirement.extras)
            else:
                requirements.append(requirement)
    return requirements


@pytest.mark.parametrize("name", lockfile["LOCK_FILES"])
def test_every_lock_file_was_made_from_pyproject_as_it_is(name: str) -> None:
    recorded = lockfile["recorded_digest"](LOCK_DIR / name)
    assert recorded == lockfile["inputs_digest"](PROJECT), (
        f"envs/lock/{name} was made from other dependencies than pyproject.toml and "
        "envs/lock/*.in now list: run `make lock` and commit the lock with the change"
    )


@pytest.mark.parametrize(("name", "extra"), [("demo.txt", "demo"), ("all.txt", "all")])
def test_every_requirement_is_pinned_within_its_range(name: str, extra: str) -> None:
    pins = locked(name)
    for requirement in pyproject_requirements(extra):
        if requirement.marker is not None and not requirement.marker.evaluate():
            continue
        package = canonicalize_name(requirement.name)
        assert package in pins, f"{requirement} is not in envs/lock/{name}: run `make lock`"
        assert requirement.specifier.contains(pins[package], prereleases=True), (
            f"envs/lock/{name} pins {package}=={pins[package]} outside {requirement}"
        )


def test_demo_and_build_locks_agree_with_the_full_lock() -> None:
    full = locked("all.txt")
    for name in ("demo.txt", "build.txt"):
        for package, version in locked(name).items():
            if package in full:
                assert full[package] == version, f"{name} and all.txt disagree on {package}"


def test_the_environment_is_the_lock() -> None:
    # What `make test` installed is exactly the full lock: nothing newer slipped in.
    expected = locked("all.txt") | locked("build.txt")
    for package, version in expected.items():
        installed = Version(importlib.metadata.version(package))
        # A local build tag (torch's +cu130) is the same release.
        assert installed.public == version.public, (
            f"{package} {installed} is installed, lock {version}"
        )


def test_transformers_stays_below_the_release_that_needs_an_unreleased_peft() -> None:
    # transformers 5.24's add_adapter requires peft>=0.22, which did not exist when it came out.
    requirement = next(r for r in pyproject_requirements("all") if r.name == "transformers")
    assert not requirement.specifier.contains("5.24.0")


def test_only_one_distribution_provides_cv2() -> None:
    providers = sorted(
        dist.metadata["Name"]
        for dist in importlib.metadata.distributions()
        if any(str(file).split("/")[0] == "cv2" for file in dist.files or ())
    )
    assert providers == ["opencv-python-headless"], (
        f"{providers} all write the cv2 package, and the last one installed wins; "
        "envs/lock/overrides.in keeps only opencv-python-headless"
    )
    assert all(canonicalize_name(p) != "opencv-python" for p in locked("all.txt"))
