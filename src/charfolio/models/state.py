"""Where a needed model file resolves and its state: present, missing, refused, sha256.

`inspect` checks a file exactly as the rule that reads it would (its format, its type, an
InsightFace pack found as detect_faces finds it), so `charfolio models --check` passing
means no rule fails for want of a model file.
"""

from __future__ import annotations

import importlib.util
import os
import re
from dataclasses import dataclass
from pathlib import Path

from charfolio.core.config import (
    PICKLE_HINT,
    PICKLE_SUFFIXES,
    ModelFileError,
    check_safe_model_format,
)
from charfolio.core.digest import sha256_file
from charfolio.embed.open_clip_weights import cached_hub_file, open_clip_source
from charfolio.models.needs import FOLDER_KINDS, Kind, ModelEntry

PRESENT = "present"
MISSING = "missing"
SHA256_OK = "sha256 ok"
SHA256_MISMATCH = "sha256 mismatch"
REFUSED = "refused format"
PACKAGED = "ships with pip package"
NOT_SET = "not set"
OK_STATES = frozenset({PRESENT, SHA256_OK, PACKAGED})
HEX64 = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class Status:
    state: str
    path: Path | None = None
    detail: str = ""

    @property
    def ok(self) -> bool:
        return self.state in OK_STATES


def candidates(entry: ModelEntry) -> list[Path]:
    """Where the rules look, in order: the path as given, then inside model_cache."""
    first = Path(entry.name).expanduser()
    if entry.in_cache and entry.model_cache is not None and not first.is_absolute():
        return [first, Path(entry.model_cache).expanduser() / entry.name]
    return [first]


def target_path(entry: ModelEntry) -> Path:
    """Where a fetch writes: inside model_cache for a relative name, else the path itself."""
    return candidates(entry)[-1]


def where(entry: ModelEntry, path: Path) -> str:
    """Whether `path` is inside model_cache, or was found by the path as the config gives it."""
    if entry.in_cache and entry.model_cache is not None:
        cache = Path(entry.model_cache).expanduser()
        if path == cache or cache in path.parents:
            return "model_cache"
    return "path"


def inspect(entry: ModelEntry, *, verify: bool = True) -> Status:
    """The entry's state; `verify` hashes present files that have a sha256 in model_sources."""
    if not entry.name:
        return Status(NOT_SET, None, f"set {entry.key} ({entry.kind.value}) in the config")
    if entry.kind is Kind.PACKAGE:
        return _inspect_package(entry)
    if entry.kind is Kind.OPEN_CLIP:
        return inspect_open_clip(entry, verify=verify)
    suffix = Path(entry.name).suffix.lower()
    if suffix in PICKLE_SUFFIXES:
        return Status(REFUSED, None, f"{entry.key}: {entry.name} is a pickle file; {PICKLE_HINT}")
    if entry.kind is Kind.INSIGHTFACE_PACK:
        return _inspect_pack(entry)
    found = next((c for c in candidates(entry) if c.exists()), None)
    if found is None:
        return Status(MISSING, target_path(entry))
    problem = _wrong_type(entry, found)
    if problem:
        return Status(REFUSED, found, problem)
    if verify and found.is_file() and entry.source and entry.source.sha256:
        if entry.source.unpack:  # the sha256 is the archive's, gone after unpacking
            return Status(PRESENT, found)
        actual = sha256_file(found)
        if actual != entry.source.sha256.lower():
            return Status(
                SHA256_MISMATCH,
                found,
                f"expected {entry.source.sha256.lower()}, got {actual}; delete the file and "
                f"rerun `charfolio models`, or fix model_sources[{entry.name!r}].sha256",
            )
        return Status(SHA256_OK, found)
    return Status(PRESENT, found)


def _wrong_type(entry: ModelEntry, found: Path) -> str:
    """Why `found` cannot be what the entry's rule reads ("" when it can)."""
    if found.is_file():
        try:
            check_safe_model_format(found)
        except ModelFileError as error:
            return str(error)
    wanted = {Kind.GGUF: ".gguf", Kind.SAFETENSORS: ".safetensors", Kind.ONNX: ".onnx"}.get(
        entry.kind
    )
    if wanted and (not found.is_file() or found.suffix.lower() != wanted):
        return f"{found}: {entry.key} must be {entry.kind.value}"
    if entry.kind is Kind.CHECKPOINT and found.is_file() and found.suffix.lower() != ".safetensors":
        return f"{found}: {entry.key} must be {entry.kind.value}"
    if entry.kind in FOLDER_KINDS and not found.is_dir():
        return f"{found}: {entry.key} must be {entry.kind.value}"
    if entry.kind is Kind.DLIB_MODELS:
        from charfolio.faces.dlib_backend import DESCRIPTOR_MODEL, SHAPE_PREDICTOR

        lacking = [
            n for n in (SHAPE_PREDICTOR, f"{DESCRIPTOR_MODEL}.dat") if not (found / n).is_file()
        ]
        if lacking:
            return f"{found}: missing {', '.join(lacking)}; fix faces.dlib.models_dir"
    return ""


def _inspect_pack(entry: ModelEntry) -> Status:
    from charfolio.faces.insightface_backend import locate_pack

    root, pack = entry.name.rsplit("/models/", 1)
    try:
        found = locate_pack(root, entry.model_cache, pack)  # exactly what detect_faces does
    except ModelFileError:
        return Status(MISSING, target_path(entry))
    return Status(PRESENT, found / "models" / pack)


def _inspect_package(entry: ModelEntry) -> Status:
    package = entry.name.removeprefix("package:")
    if entry.key.startswith("scenarios."):
        from charfolio.scenarios.llama import PACKAGE_MODELS

        if package not in PACKAGE_MODELS:
            known = ", ".join(f"package:{p}" for p in PACKAGE_MODELS)
            return Status(MISSING, None, f"unknown model package {package!r}; known: {known}")
        module = PACKAGE_MODELS[package]
    else:
        module = package.replace("-", "_")
    if importlib.util.find_spec(module) is None:
        return Status(MISSING, None, f"not installed: `pip install {package}`")
    return Status(PACKAGED, None, package)


def inspect_open_clip(entry: ModelEntry, *, verify: bool) -> Status:
    try:
        repo, filename = open_clip_source(entry.open_clip_model or "", entry.name)
    except ModelFileError as error:
        return Status(REFUSED, None, str(error))
    found = cached_hub_file(repo, filename, entry.model_cache)
    if found is None:
        folder = Path(entry.model_cache or "~/.cache/huggingface/hub").expanduser()
        return Status(MISSING, folder / f"models--{repo.replace('/', '--')}")
    # The Hub names a large file's blob by its sha256 (its ETag): verify against that.
    blob = Path(os.path.realpath(found))
    if verify and HEX64.fullmatch(blob.name):
        actual = sha256_file(blob)
        if actual != blob.name:
            return Status(SHA256_MISMATCH, found, f"expected {blob.name}, got {actual}")
        return Status(SHA256_OK, found)
    return Status(PRESENT, found)
