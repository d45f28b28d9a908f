"""The import graph of a package, read from its source with ast (nothing is imported).

Every import counts, at module level or inside a function: a function-level import that
closes a cycle only hides the cycle until that function runs.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Import:
    importer: str  # dotted module name
    imported: str  # the module it reaches (a submodule when `from pkg import submodule`)
    names: tuple[str, ...]  # the names taken from it (empty for `import x`)
    line: int


def module_names(package_dir: Path) -> dict[str, Path]:
    """Dotted name -> file of every module under `package_dir` (a package's is its __init__)."""
    modules = {}
    for path in sorted(package_dir.rglob("*.py")):
        parts = path.relative_to(package_dir.parent).with_suffix("").parts
        modules[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return modules


def imports(package_dir: Path) -> list[Import]:
    """Every import from a module of the package to a module of the package."""
    modules = module_names(package_dir)
    found = []
    for name, path in modules.items():
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                found += [
                    Import(name, a.name, (), node.lineno) for a in node.names if a.name in modules
                ]
            elif isinstance(node, ast.ImportFrom):
                base = _absolute(node, name, is_package=path.name == "__init__.py")
                for alias in node.names:
                    submodule = f"{base}.{alias.name}"
                    if submodule in modules:
                        found.append(Import(name, submodule, (), node.lineno))
                    elif base in modules:
                        found.append(Import(name, base, (alias.name,), node.lineno))
    return found


def _absolute(node: ast.ImportFrom, importer: str, *, is_package: bool) -> str:
    if not node.level:
        return node.module or ""
    parts = importer.split(".") if is_package else importer.split(".")[:-1]
    parts = parts[: len(parts) - node.level + 1]
    return ".".join([*parts, *([node.module] if node.module else [])])


def find_cycle(edges: list[Import]) -> list[str] | None:
    """A cycle of modules (the first module repeated at the end), or None when there is none."""
    graph: dict[str, set[str]] = {}
    for edge in edges:
        if edge.imported != edge.importer:
            graph.setdefault(edge.importer, set()).add(edge.imported)
    done: set[str] = set()
    path: list[str] = []

    def visit(module: str) -> list[str] | None:
        if module in path:
            return [*path[path.index(module) :], module]
        if module in done:
            return None
        path.append(module)
        for target in sorted(graph.get(module, ())):
            cycle = visit(target)
            if cycle:
                return cycle
        path.pop()
        done.add(module)
        return None

    for start in sorted(graph):
        cycle = visit(start)
        if cycle:
            return cycle
    return None


def package_of(module: str, depth: int = 2) -> str:
    """The top-level subpackage a module belongs to: charfolio.curate.tiers -> charfolio.curate."""
    return ".".join(module.split(".")[:depth])


def is_private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")
