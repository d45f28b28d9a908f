"""Code digests: editing a module changes the digest of exactly the scripts that can import it."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from charfolio.core import code_digest as cd

SCRIPTS = Path(__file__).resolve().parents[2] / "workflow" / "scripts"
# The originals, also while the fixture replaces package_root.
CACHES = (cd._digest, cd.package_root, cd.module_file, cd._source, cd._module_imports)


def _clear_caches() -> None:
    for cached in CACHES:
        cached.cache_clear()


@pytest.fixture
def package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A copy of the charfolio package that the digests read instead of the installed one."""
    copy = tmp_path / "charfolio"
    shutil.copytree(cd.package_root(), copy, ignore=shutil.ignore_patterns("__pycache__"))
    _clear_caches()
    monkeypatch.setattr(cd, "package_root", lambda: copy)
    yield copy
    _clear_caches()


def _edit(file: Path) -> None:
    file.write_text(file.read_text() + "\n# edited\n")
    _clear_caches()


def _digests(*scripts: str) -> dict[str, str]:
    return {name: cd.code_digest(SCRIPTS / f"{name}.py") for name in scripts}


def test_editing_a_module_reruns_the_scripts_that_import_it_only(package):
    before = _digests("score_quality", "make_scenarios")
    _edit(package / "quality" / "measures.py")
    after = _digests("score_quality", "make_scenarios")
    assert after["score_quality"] != before["score_quality"]
    assert after["make_scenarios"] == before["make_scenarios"]


@pytest.mark.parametrize(
    ("script", "backend"),
    [
        ("generate_images", "demo/tiny.py"),  # a charfolio.image_backends entry point
        ("detect_faces", "faces/dlib_backend.py"),  # faces/detector.py's _MODULES
        ("embed_images", "embed/colour_layout.py"),  # embed/base.py's _MODULES
        ("make_scenarios", "scenarios/llama.py"),  # scenarios' _BACKENDS (module, class)
        ("tabulate_ablation", "story/ablation.py"),  # story/__init__.py's lazy_exports
    ],
)
def test_a_backend_imported_by_its_name_counts(package, script, backend):
    before = _digests(script)
    _edit(package / backend)
    assert _digests(script) != before


def test_a_package_data_file_counts(package):
    """The tiny ViT's architecture is a JSON file its (entry-point) module reads."""
    before = _digests("embed_images", "make_scenarios")
    config = package / "demo" / "data" / "charfolio-tiny-vit.json"
    config.write_text(config.read_text().replace("32", "33", 1))
    _clear_caches()
    after = _digests("embed_images", "make_scenarios")
    assert after["embed_images"] != before["embed_images"]
    assert after["make_scenarios"] == before["make_scenarios"]


def test_imports_inside_functions_and_relative_imports_count(package, tmp_path):
    (package / "core" / "probe.py").write_text(
        "def load():\n    from .atomic import atomic_path\n    return atomic_path\n"
    )
    script = tmp_path / "probe_script.py"
    script.write_text("def main():\n    import charfolio.core.probe\n")
    modules = cd.script_modules(script)
    assert {"charfolio", "charfolio.core", "charfolio.core.probe"} <= set(modules)
    assert "charfolio.core.atomic" in modules
    before = cd.code_digest(script)
    _edit(package / "core" / "atomic.py")
    assert cd.code_digest(script) != before


def test_the_script_itself_counts(tmp_path):
    script = tmp_path / "adapter.py"
    script.write_text("from charfolio.core.digest import sha256_file\n")
    before = cd.code_digest(script)
    script.write_text("from charfolio.core.digest import sha256_file  # changed\n")
    cd._digest.cache_clear()
    assert cd.code_digest(script) != before


def test_names_that_are_not_modules_are_not_followed(tmp_path):
    script = tmp_path / "adapter.py"
    script.write_text(
        "from charfolio.core.digest import sha256_file\n"
        "KEY = 'charfolio.selection'  # a metadata key, not a module\n"
    )
    assert cd.script_modules(script) == [
        "charfolio",
        "charfolio.core",
        "charfolio.core.digest",
        "charfolio.core.regular_file",
    ]


def test_a_missing_script_names_the_file_and_the_fix(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"no_such_rule\.py.*script: directive"):
        cd.code_digest(tmp_path / "no_such_rule.py")
