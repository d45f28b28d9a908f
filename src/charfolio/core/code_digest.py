"""Digests of the code a workflow script runs: rerun triggers computed, not typed.

Snakemake reruns a job when its params change, but it does not notice edits to the modules
its script imports. Each rule therefore passes `code_digest(script)` as a param: a SHA-256
over the script, every charfolio module it can import, found by reading their imports (at
any depth, inside functions too), and the `data/` files of the packages among them. Editing
a module changes the digest of the scripts that can import it, so those rules rerun and the
others do not. "Can import" is generous (a package's lazy exports and a registry's backends
count, used or not), so an edit may rerun a stage that would not have changed: the safe side.

Registries import backends by name (`importlib.import_module("charfolio...")`), so a
string literal naming an existing charfolio module counts as an import: a backend a config
never selects then still reruns its stage when edited, the safe side of the trade. Likewise a
literal naming an entry-point group (`"charfolio.image_backends"`) counts as importing the
charfolio modules its installed entry points name (the demo's backends register so).

The digest covers module names and bytes, not paths: a moved checkout reruns nothing.
Stdlib only and no imports of the library itself: this runs whenever the workflow is
parsed (at DAG time, and again in every cluster job).
"""

from __future__ import annotations

import ast
import functools
import hashlib
import os
import re
from collections.abc import Iterator
from importlib.metadata import distributions
from importlib.util import find_spec
from pathlib import Path

PACKAGE = "charfolio"


def code_digest(script: str | os.PathLike[str]) -> str:
    """Hex SHA-256 of `script` and the charfolio modules it imports, transitively."""
    return _digest(Path(script).resolve())


@functools.cache
def _digest(script: Path) -> str:
    try:
        source = script.read_bytes()
    except OSError as error:
        raise FileNotFoundError(
            f"code_digest: cannot read the workflow script {script} ({error.strerror or error}); "
            f"pass the path of the file the rule's script: directive names"
        ) from error
    digest = hashlib.sha256()
    parts = [(f"script:{script.name}", source)]
    modules = script_modules(script)
    parts += [(name, _source(name)) for name in modules]
    parts += _package_data(modules)
    for name, data in sorted(parts):
        for chunk in (name.encode(), data):
            # Length-prefixed, so no two different part lists hash the same bytes.
            digest.update(len(chunk).to_bytes(8, "big"))
            digest.update(chunk)
    return digest.hexdigest()


def script_modules(script: str | os.PathLike[str]) -> list[str]:
    """The charfolio modules `script` may import, directly or through each other, sorted."""
    path = Path(script)
    seen: set[str] = set()
    pending = sorted(_imports(path.read_bytes(), str(path), package=""))
    while pending:
        name = pending.pop()
        if name in seen:
            continue
        seen.add(name)
        pending.extend(_module_imports(name) - seen)
    return sorted(seen)


def _package_data(modules: list[str]) -> list[tuple[str, bytes]]:
    """The files of the `data/` folder of each package among `modules` (e.g. a demo model's
    config): code reads them, so editing one reruns what reads its package."""
    parts = []
    for name in modules:
        file = module_file(name)
        data = file.parent / "data" if file is not None and file.name == "__init__.py" else None
        if data is not None and data.is_dir():
            for path in sorted(p for p in data.rglob("*") if p.is_file()):
                relative = path.relative_to(package_root()).as_posix()
                parts.append((f"data:{relative}", path.read_bytes()))
    return parts


@functools.cache
def _module_imports(name: str) -> frozenset[str]:
    file = module_file(name)
    assert file is not None  # _imports keeps only names that resolve to a file
    package = name if file.name == "__init__.py" else name.rpartition(".")[0]
    return frozenset(_imports(_source(name), str(file), package))


@functools.cache
def package_root() -> Path:
    """The folder of the installed charfolio package (found without importing it)."""
    spec = find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError(
            f"code_digest: the {PACKAGE} package is not importable; install it "
            f"(pip install -e .) or put its src/ folder on PYTHONPATH"
        )
    return Path(next(iter(spec.submodule_search_locations)))


@functools.cache
def module_file(name: str) -> Path | None:
    """The source file of charfolio module `name`, or None if no such module exists."""
    parts = name.split(".")
    if parts[0] != PACKAGE or not all(part.isidentifier() for part in parts):
        return None
    base = package_root().joinpath(*parts[1:])
    candidates = [base / "__init__.py"]
    if len(parts) > 1:
        candidates.append(base.with_name(f"{base.name}.py"))
    return next((file for file in candidates if file.is_file()), None)


@functools.cache
def _source(name: str) -> bytes:
    file = module_file(name)
    assert file is not None
    return file.read_bytes()


def _imports(source: bytes, filename: str, package: str) -> set[str]:
    """The charfolio modules a source file imports, with the packages importing them runs."""
    named: set[str] = set()
    for node in _statements(ast.parse(source, filename=filename).body):
        if isinstance(node, ast.Import):
            named.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = _absolute(node, package)
            named.add(base)
            # `from package import module` imports the module; other names are attributes.
            named.update(f"{base}.{alias.name}" for alias in node.names)
    # A registry's module names, imported by string. A regex, not a walk of every
    # expression node, which would cost most of the DAG-time work.
    named.update(match[2].decode() for match in _MODULE_LITERAL.finditer(source))
    found = set()
    groups = _entry_point_groups()
    for group in named & groups.keys():
        named.update(groups[group])
    for name in named:
        if module_file(name) is None:
            continue
        parts = name.split(".")
        # Importing a.b.c runs a/__init__.py and a/b/__init__.py first.
        found.update(".".join(parts[:i]) for i in range(1, len(parts) + 1))
    return found


@functools.cache
def _entry_point_groups() -> dict[str, frozenset[str]]:
    """The charfolio modules named by the installed entry points, by charfolio group
    (`charfolio.image_backends`, ...); read once: each read scans every installed package."""
    groups: dict[str, set[str]] = {}
    for entry_point in (ep for dist in distributions() for ep in dist.entry_points):
        if entry_point.group.startswith(f"{PACKAGE}.") and entry_point.module.startswith(
            f"{PACKAGE}."
        ):
            groups.setdefault(entry_point.group, set()).add(entry_point.module)
    return {group: frozenset(modules) for group, modules in groups.items()}


_MODULE_LITERAL = re.compile(rb"""(['"])(%s(?:\.[A-Za-z_]\w*)+)\1""" % PACKAGE.encode())
_BODIES = ("body", "orelse", "finalbody", "handlers", "cases")


def _statements(body: list[ast.stmt]) -> Iterator[ast.stmt]:
    """Every statement at any depth (imports are statements; expressions are not visited)."""
    for node in body:
        yield node
        for field in _BODIES:
            yield from _statements(getattr(node, field, None) or [])


def _absolute(node: ast.ImportFrom, package: str) -> str:
    """The module an ImportFrom names, with relative imports resolved against `package`."""
    if node.level == 0:
        return node.module or ""
    parents = package.split(".")[: len(package.split(".")) - (node.level - 1)]
    return ".".join([*parents, *([node.module] if node.module else [])])
