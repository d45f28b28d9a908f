"""The third-party packages a workflow script's job can import, read from the code with ast.

A job imports its script's imports, then, transitively, every module-level import of the
charfolio modules those load (`if TYPE_CHECKING:` blocks aside). Beyond that:

- third-party imports inside the functions of a loaded module count (that is how the
  library defers torch, dlib or llama_cpp), except in a registry module (a `create_*`
  factory beside a `register_*` decorator or backend modules named by string) whose factory neither the script nor its stage's package (the
  charfolio packages it imports from) calls: the captions registry is loaded by every rule that lints captions, but only
  caption_images creates a captioner;
- a called registry's backend modules, named by string, are loaded;
- a package's `lazy_exports` modules are loaded when loaded code imports that name from it.

Charfolio imports inside functions are not followed: the library defers those to keep jobs
light, and following them reaches the CLI and with it every stage.
"""

from __future__ import annotations

import ast
import functools
import sys
from collections.abc import Iterable
from pathlib import Path

from charfolio.core.code_digest import module_file

_NOT_THIRD_PARTY = {"charfolio", "__future__", *sys.stdlib_module_names}


def third_party_imports(script: str | Path) -> dict[str, str]:
    """{top-level package: the first module found importing it} for `script`'s job."""
    script_tree = ast.parse(Path(script).read_bytes())
    entry = _charfolio_names(script_tree, "", module_level=False)
    entry |= _lazy_targets(script_tree, entry)
    loaded = _load(entry)
    # A registry's backends load when the script or its stage's package calls its factory.
    stages = {_stage(name) for name in entry} - {"charfolio", "charfolio.core"}
    stage_trees = [_tree(name) for name in loaded if _stage(name) in stages]
    called = set().union(*map(_calls, [script_tree, *stage_trees]))
    used = {name for name in loaded if _factories(_tree(name)) & called}
    for name in sorted(used):
        loaded |= _load(_string_modules(_tree(name)))
    found = {package: str(script) for package in _third_party(script_tree, module_level=False)}
    for name in sorted(loaded):
        unused_registry = bool(_factories(_tree(name))) and name not in used
        for package in _third_party(_tree(name), module_level=unused_registry):
            found.setdefault(package, name)
    return found


def _stage(name: str) -> str:
    return ".".join(name.split(".")[:2])


def _load(names: set[str]) -> set[str]:
    """`names` and every charfolio module their imports load, module level only."""
    loaded: set[str] = set()
    pending = set(names)
    while pending:
        name = pending.pop()
        if name not in loaded:
            loaded.add(name)
            tree = _tree(name)
            pending |= _charfolio_names(tree, _package(name), module_level=True)
            pending |= _lazy_targets(tree, loaded | pending)
    return loaded


def _lazy_targets(tree: ast.Module, packages: set[str]) -> set[str]:
    """The modules of `packages`' lazy exports that `tree` imports by name."""
    targets = set()
    for module, names in _imported_names(tree).items():
        if module in packages:
            lazy = _lazy_exports(_tree(module))
            targets |= _with_parents(lazy[name] for name in names & lazy.keys())
    return targets


@functools.cache
def _tree(name: str) -> ast.Module:
    file = module_file(name)
    assert file is not None, name
    return ast.parse(file.read_bytes(), filename=str(file))


def _package(name: str) -> str:
    file = module_file(name)
    return name if file is not None and file.name == "__init__.py" else name.rpartition(".")[0]


def _statements(tree: ast.Module, module_level: bool) -> list[ast.AST]:
    """Every node, or only those run at import (not in def/class bodies, not TYPE_CHECKING)."""
    if not module_level:
        return list(ast.walk(tree))
    nodes: list[ast.AST] = []

    def visit(body: list[ast.stmt]) -> None:
        for node in body:
            nodes.append(node)
            if isinstance(node, ast.If):
                if not (isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING"):
                    visit(node.body)
                visit(node.orelse)
            elif isinstance(node, ast.Try):
                visit([*node.body, *node.orelse, *node.finalbody])
                for handler in node.handlers:
                    visit(handler.body)
            elif isinstance(node, ast.With):
                visit(node.body)

    visit(tree.body)
    return nodes


def _imports(tree: ast.Module, package: str, module_level: bool) -> set[str]:
    names = set()
    for node in _statements(tree, module_level):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                base = ".".join([*parts[: len(parts) - node.level + 1], *filter(None, [base])])
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "import_module"
            and node.args
            and isinstance(node.args[0], ast.Constant)
        ):
            names.add(str(node.args[0].value))
    return names


def _charfolio_names(tree: ast.Module, package: str, module_level: bool) -> set[str]:
    return _with_parents(_imports(tree, package, module_level))


def _third_party(tree: ast.Module, module_level: bool) -> set[str]:
    tops = {name.split(".")[0] for name in _imports(tree, "", module_level)}
    return {top for top in tops if top and top not in _NOT_THIRD_PARTY}


def _string_modules(tree: ast.Module) -> set[str]:
    return _with_parents(
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str)
    )


def _with_parents(names: Iterable[str]) -> set[str]:
    """The charfolio modules among `names`, with the packages importing each one runs."""
    found = set()
    for name in names:
        if name.startswith("charfolio") and module_file(name) is not None:
            parts = name.split(".")
            found.update(".".join(parts[:i]) for i in range(1, len(parts) + 1))
    return found


def _factories(tree: ast.Module) -> set[str]:
    """The `create_*` functions of a registry module (one with `register_*` or backends named
    by string); an empty set for any other module."""
    defined = {node.name for node in tree.body if isinstance(node, ast.FunctionDef)}
    if not (any(name.startswith("register_") for name in defined) or _string_modules(tree)):
        return set()
    return {name for name in defined if name.startswith("create_")}


def _calls(tree: ast.Module) -> set[str]:
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            names.add(func.id if isinstance(func, ast.Name) else getattr(func, "attr", ""))
    return names


def _imported_names(tree: ast.Module) -> dict[str, set[str]]:
    """{module: names imported from it} over every `from module import name`."""
    names: dict[str, set[str]] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.setdefault(node.module, set()).update(alias.name for alias in node.names)
    return names


def _lazy_exports(tree: ast.Module) -> dict[str, str]:
    """{exported name: module} of a package whose `__getattr__` is `lazy_exports(...)`."""
    if "lazy_exports" not in _calls(tree):
        return {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Dict):
            pairs = {
                key.value: value.value
                for key, value in zip(node.value.keys, node.value.values, strict=True)
                if isinstance(key, ast.Constant) and isinstance(value, ast.Constant)
            }
            if pairs and all(
                isinstance(v, str) and module_file(v) is not None for v in pairs.values()
            ):
                return pairs
    return {}
