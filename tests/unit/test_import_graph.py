"""charfolio's dependencies point one way (core <- stages <- cli and workflow scripts) and
form no cycle; docs/architecture.md states the same rules."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.unit.import_graph import Import, find_cycle, imports, is_private, package_of

PACKAGE = Path(__file__).resolve().parents[2] / "src" / "charfolio"
EDGES = imports(PACKAGE)
# The command layer: it may use everything; nothing else may use it.
COMMANDS = {"charfolio.cli", "charfolio.config_checks", "charfolio.models.command"}


def shown(edges: list[Import]) -> str:
    return "\n".join(f"  {e.importer}:{e.line} imports {e.imported} {e.names or ''}" for e in edges)


def test_the_graph_is_read() -> None:
    """A reader that found no imports would pass every test below."""
    pairs = {(e.importer, e.imported) for e in EDGES}
    assert ("charfolio.cli", "charfolio.models.command") in pairs  # at module level
    assert ("charfolio.cli", "charfolio.quality.calibrate") in pairs  # inside cmd_calibrate


def test_no_module_import_cycle() -> None:
    cycle = find_cycle(EDGES)
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def package_edges(edges: list[Import], root: str = "charfolio") -> list[Import]:
    """The graph between the root's subpackages (and top-level modules): one edge per import
    from one to another; the root's __init__ (only __version__) is left out."""
    return [Import(package_of(e.importer), package_of(e.imported), e.names, e.line)
            for e in edges if root not in (package_of(e.importer), package_of(e.imported))
            and package_of(e.importer) != package_of(e.imported)]  # fmt: skip


def test_no_package_import_cycle() -> None:
    """Stages depend on each other one way (e.g. captions and balance both read faces' shot
    types; neither reads the other back)."""
    cycle = find_cycle(package_edges(EDGES))
    assert cycle is None, "package import cycle: " + " -> ".join(cycle or [])


def reaching_out(edges: list[Import], package: str) -> list[Import]:
    """Imports from `package` to another of the root's subpackages (the root's __init__ holds
    only __version__ and may be used by all)."""
    root = package.rsplit(".", 1)[0]
    return [e for e in edges if package_of(e.importer) == package
            and package_of(e.imported) not in (package, root)]  # fmt: skip


def reaching_in(edges: list[Import], package: str) -> list[Import]:
    """Imports of `package` from outside it."""
    return [e for e in edges if package_of(e.imported) == package
            and package_of(e.importer) != package]  # fmt: skip


def test_core_imports_only_core() -> None:
    wrong = reaching_out(EDGES, "charfolio.core")
    assert not wrong, "core is what every stage shares; it imports no stage:\n" + shown(wrong)


def test_nothing_below_the_commands_imports_them() -> None:
    wrong = [e for e in EDGES if e.imported in COMMANDS and e.importer not in COMMANDS]
    assert not wrong, "the cli layer imports the stages, never the reverse:\n" + shown(wrong)


def test_only_the_cli_imports_review() -> None:
    """The review page is a command: no stage, and no other command, builds on it."""
    wrong = [e for e in reaching_in(EDGES, "charfolio.review") if e.importer != "charfolio.cli"]
    assert not wrong, "only charfolio.cli may import charfolio.review:\n" + shown(wrong)


def test_only_demo_names_demo() -> None:
    """The demo's models register into the stages' registries; production code never names them."""
    wrong = reaching_in(EDGES, "charfolio.demo")
    assert not wrong, "production code imports charfolio.demo:\n" + shown(wrong)


def test_no_private_name_crosses_a_package() -> None:
    wrong = [e for e in EDGES if any(map(is_private, e.names))
             and package_of(e.importer) != package_of(e.imported)]  # fmt: skip
    assert not wrong, "make these public or move them where they are used:\n" + shown(wrong)


# --- the checker itself, on a small package with planted faults ---------------------------


@pytest.fixture
def planted(tmp_path: Path) -> Path:
    files = {
        "__init__.py": "",
        "core/__init__.py": "",
        "core/base.py": "def helper(): from pkg.stage.run import go\n",  # a function-level cycle
        "stage/__init__.py": "from .run import go\n",
        "stage/run.py": "from pkg.core import base\nfrom pkg.other.util import _secret\ndef go(): ...\n",
        "other/__init__.py": "",
        "other/util.py": "import pkg.core.base\n_secret = 1\n",
    }
    for name, text in files.items():
        (tmp_path / "pkg" / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "pkg" / name).write_text(text)
    return tmp_path / "pkg"


def test_the_checker_finds_planted_faults(planted: Path) -> None:
    edges = imports(planted)
    assert find_cycle(edges) == ["pkg.core.base", "pkg.stage.run", "pkg.core.base"]
    assert Import("pkg.stage", "pkg.stage.run", ("go",), 1) in edges  # a relative import
    private = [e for e in edges if any(map(is_private, e.names))]
    assert [(e.importer, e.imported) for e in private] == [("pkg.stage.run", "pkg.other.util")]
    assert package_of("pkg.core.base") == "pkg.core"
    assert [e.imported for e in reaching_out(edges, "pkg.core")] == ["pkg.stage.run"]
    assert [e.importer for e in reaching_in(edges, "pkg.other")] == ["pkg.stage.run"]
    assert find_cycle(package_edges(edges, "pkg")) == ["pkg.core", "pkg.stage", "pkg.core"]
    no_cycle = [e for e in edges if e.importer != "pkg.core.base"]
    assert find_cycle(package_edges(no_cycle, "pkg")) is None
    assert find_cycle(no_cycle) is None
    assert reaching_out(no_cycle, "pkg.core") == []
