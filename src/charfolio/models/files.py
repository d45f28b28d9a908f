"""The model files a config needs: where each resolves, its state, and fetching what is missing.

GPU compute nodes are often offline, so `charfolio models` runs on a node with internet
access and fills the config's `model_cache`; every rule then only reads local files and,
when one is missing, names the file and this command. `--check` fetches nothing and fails
when anything is missing: a pre-flight for compute nodes.

Where files come from:
- `model_sources` in the config maps a name exactly as the config uses it (a file name
  relative to model_cache, "insightface/models/buffalo_l", an absolute path) to
  {url: http(s) or file URL, sha256: hex, unpack: zip}. Folders (a diffusers folder, an
  InsightFace pack) come as a zip.
- open_clip pretrained tags need no source: open_clip's own Hugging Face download puts the
  tag's .safetensors weights in model_cache, where `open_clip_weights` finds them offline.
- "package:NAME" GGUFs and dlib's models ship with pip packages: nothing to fetch.

Downloads stream to a temporary file beside the target and are renamed only after the
sha256 matches, so a killed or corrupt download never leaves a file a rule would read.
Pickle formats are refused, by config name and by URL.
"""

from __future__ import annotations

import argparse
import hashlib
import http.client
import importlib.util
import os
import re
import tempfile
import time
import urllib.parse
import urllib.request
import zipfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from enum import Enum
from pathlib import Path
from typing import Any

from charfolio import __version__
from charfolio.core.atomic import atomic_path
from charfolio.core.config import (
    PICKLE_SUFFIXES,
    ConfigError,
    ModelFileError,
    check_safe_model_format,
)
from charfolio.core.digest import sha256_file
from charfolio.core.offline import hub_online
from charfolio.core.progress import format_duration
from charfolio.lora.base_model import builds_adapters
from charfolio.models.licences import licence_note

Log = Callable[[str], None]

PRESENT = "present"
MISSING = "missing"
SHA256_OK = "sha256 ok"
SHA256_MISMATCH = "sha256 mismatch"
REFUSED = "refused format"
PACKAGED = "ships with pip package"
NOT_SET = "not set"
OK_STATES = frozenset({PRESENT, SHA256_OK, PACKAGED})

CHUNK = 1 << 20
TIMEOUT_SECONDS = 60
PROGRESS_SECONDS = 2.0
_HEX64 = re.compile(r"[0-9a-f]{64}")
_PICKLE_HINT = (
    "pickle files can run code when loaded; use a .safetensors file (convert it with "
    "safetensors.torch.save_file or diffusers) and point the config at that"
)


class Kind(Enum):
    GGUF = "a .gguf file"
    SAFETENSORS = "a .safetensors file"
    ONNX = "an .onnx file"
    CHECKPOINT = "a .safetensors file or a diffusers folder"
    FOLDER = "a folder"
    INSIGHTFACE_PACK = "an InsightFace pack folder"
    DLIB_MODELS = "a folder of dlib .dat models"
    OPEN_CLIP = "an open_clip pretrained tag"
    PACKAGE = "a pip package"


FOLDER_KINDS = frozenset({Kind.FOLDER, Kind.INSIGHTFACE_PACK, Kind.DLIB_MODELS})


class ChecksumError(ValueError):
    """A download's sha256 differs from the one in model_sources."""


@dataclass(frozen=True)
class Source:
    url: str
    sha256: str | None = None
    unpack: str | None = None


@dataclass(frozen=True)
class ModelEntry:
    """One model file (or folder) a config names."""

    key: str  # the config key that names it
    name: str  # its value there, and its key in model_sources
    kind: Kind
    model_cache: str | None
    source: Source | None = None
    in_cache: bool = True  # False: looked up by path only (faces.dlib.models_dir)
    open_clip_model: str | None = None


@dataclass(frozen=True)
class Status:
    state: str
    path: Path | None = None
    detail: str = ""

    @property
    def ok(self) -> bool:
        return self.state in OK_STATES


# --- what a config needs ------------------------------------------------------------------


def config_entries(config: Mapping[str, Any]) -> list[ModelEntry]:
    """The model files the configured backends read (a validated config, defaults filled)."""
    cache = config.get("model_cache")
    sources = {
        name: Source(s["url"], s.get("sha256"), s.get("unpack"))
        for name, s in (config.get("model_sources") or {}).items()
    }
    entries: list[ModelEntry] = []

    def add(key: str, name: str | None, kind: Kind, **extra: Any) -> None:
        entries.append(ModelEntry(key, name or "", kind, cache, sources.get(name or ""), **extra))

    def add_open_clip(key: str, section: Mapping[str, Any]) -> None:
        from charfolio.embed.open_clip_backend import _is_path

        pretrained = section.get("pretrained", "openai")
        if not pretrained:
            return  # random weights: nothing to fetch
        if _is_path(pretrained):
            add(key, pretrained, Kind.SAFETENSORS)
        else:
            add(key, pretrained, Kind.OPEN_CLIP, open_clip_model=section.get("model", "ViT-B-32"))

    def add_story_models(story: Mapping[str, Any]) -> None:
        splitter = story["splitter"]
        if splitter["backend"] == "llama_cpp":
            path = splitter["llama_cpp"]["model_path"]
            is_package = bool(path) and path.startswith("package:")
            add("story.splitter.llama_cpp.model_path", path,
                Kind.PACKAGE if is_package else Kind.GGUF)  # fmt: skip
        if builds_adapters(config["training"]["backend"]):
            return  # the base-model source builds its IP-Adapter / ControlNet: nothing to fetch
        if story.get("ip_adapter"):
            ip = story["ip_adapter"]
            add("story.ip_adapter.path", ip["path"], Kind.FOLDER)
            if ip.get("image_encoder"):
                add("story.ip_adapter.image_encoder", ip["image_encoder"], Kind.FOLDER)
        if story.get("controlnet"):
            control = story["controlnet"]
            kind = Kind.SAFETENSORS if control["path"].endswith(".safetensors") else Kind.FOLDER
            add("story.controlnet.path", control["path"], kind)
            if control.get("detector_path"):
                # depth: a transformers folder; pose: an RTMPose-format ONNX file
                detector = Kind.ONNX if control["type"] == "pose" else Kind.FOLDER
                add("story.controlnet.detector_path", control["detector_path"], detector)

    scenarios = config["scenarios"]
    if scenarios["backend"] == "llama_cpp":
        path = scenarios["llama_cpp"]["model_path"]
        is_package = bool(path) and path.startswith("package:")
        add("scenarios.llama_cpp.model_path", path, Kind.PACKAGE if is_package else Kind.GGUF)
    generation = config["generation"]
    if generation["backend"] == "diffusers":
        model = generation["model"]
        add("generation.model.path", model["path"], Kind.CHECKPOINT)
        if model.get("config_dir"):
            add("generation.model.config_dir", model["config_dir"], Kind.FOLDER)
        if model.get("vae"):
            add("generation.model.vae", model["vae"], Kind.CHECKPOINT)
        if generation["detail_lora"].get("path"):
            add("generation.detail_lora.path", generation["detail_lora"]["path"], Kind.SAFETENSORS)
    faces = config["faces"]
    if faces["backend"] == "insightface":
        options = faces["insightface"]
        pack = f"{options['model_root'].rstrip('/')}/models/{options['name']}"
        add("faces.insightface", pack, Kind.INSIGHTFACE_PACK)
    elif faces["dlib"].get("models_dir"):
        add("faces.dlib.models_dir", faces["dlib"]["models_dir"], Kind.DLIB_MODELS, in_cache=False)
    else:
        add("faces.dlib", "package:face-recognition-models", Kind.PACKAGE)
    embeddings = config["embeddings"]
    if embeddings["backend"] == "open_clip":
        add_open_clip("embeddings.open_clip.pretrained", embeddings["open_clip"])
    captions = config.get("captions") or {}  # image_folder characters' captioner
    if captions.get("backend") == "transformers":
        add("captions.transformers.model_path", captions["transformers"]["model_path"], Kind.FOLDER)
    elif captions.get("backend") == "llama_cpp":
        for key in ("model_path", "mmproj_path"):
            add(f"captions.llama_cpp.{key}", captions["llama_cpp"][key], Kind.GGUF)
    # the checkpoint report and storyboards score images against their prompts
    add_open_clip("prompt_adherence.pretrained", config.get("prompt_adherence") or {})
    story = config.get("story") or {}
    if story.get("stories"):
        add_story_models(story)
    return entries


def unused_sources(config: Mapping[str, Any], entries: list[ModelEntry]) -> list[str]:
    used = {e.name for e in entries}
    return sorted(set(config.get("model_sources") or {}) - used)


# --- where it is, and its state -------------------------------------------------------------


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
        return _inspect_open_clip(entry, verify=verify)
    suffix = Path(entry.name).suffix.lower()
    if suffix in PICKLE_SUFFIXES:
        return Status(REFUSED, None, f"{entry.key}: {entry.name} is a pickle file; {_PICKLE_HINT}")
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


# --- open_clip pretrained tags ----------------------------------------------------------------


def open_clip_source(model: str, tag: str) -> tuple[str, str]:
    """(Hugging Face repo, .safetensors file) of an open_clip pretrained tag.

    Mirrors open_clip's own choice (its `hf_hub` entry, preferring the .safetensors twin of
    the pickle file name). An unknown tag is a ConfigError; a tag published only in a pickle
    format is a ModelFileError.
    """
    import open_clip

    cfg = open_clip.get_pretrained_cfg(model.replace("/", "-"), tag)
    if not cfg:
        known = ", ".join(open_clip.list_pretrained_tags_by_model(model)) or "none"
        raise ConfigError(
            f"embeddings.open_clip.pretrained: {tag!r} is not an open_clip pretrained tag of "
            f"{model} (known: {known}); use one of those, a local .safetensors path, or null"
        )
    repo, filename = os.path.split(cfg.get("hf_hub", ""))
    if filename in ("", "open_clip_pytorch_model.bin"):
        filename = "open_clip_model.safetensors"
    elif Path(filename).suffix in (".bin", ".pth"):
        filename = f"{Path(filename).stem}.safetensors"
    if not repo or not filename.endswith(".safetensors"):
        raise ModelFileError(
            f"open_clip {model} {tag!r} is only published in a pickle or numpy format "
            f"({cfg.get('url') or cfg.get('hf_hub')}); {_PICKLE_HINT} via "
            f"embeddings.open_clip.pretrained"
        )
    return repo, filename


def _cached_hub_file(repo: str, filename: str, model_cache: str | None) -> Path | None:
    from huggingface_hub import try_to_load_from_cache

    found = try_to_load_from_cache(repo, filename, cache_dir=model_cache)  # reads disk only
    return Path(found) if isinstance(found, str) else None


def open_clip_weights(model: str, tag: str, model_cache: str | None) -> Path:
    """The tag's .safetensors weights in model_cache, found without any network access."""
    repo, filename = open_clip_source(model, tag)
    found = _cached_hub_file(repo, filename, model_cache)
    if found is None:
        raise ModelFileError(
            f"open_clip weights for {model} {tag!r} ({repo}/{filename}) are not in model_cache "
            f"{model_cache}. Fetch the config's model files on a node with internet access "
            f"with `charfolio models --config <your config>`, or fix model_cache."
        )
    return found


def _inspect_open_clip(entry: ModelEntry, *, verify: bool) -> Status:
    try:
        repo, filename = open_clip_source(entry.open_clip_model or "", entry.name)
    except ModelFileError as error:
        return Status(REFUSED, None, str(error))
    found = _cached_hub_file(repo, filename, entry.model_cache)
    if found is None:
        folder = Path(entry.model_cache or "~/.cache/huggingface/hub").expanduser()
        return Status(MISSING, folder / f"models--{repo.replace('/', '--')}")
    # The Hub names a large file's blob by its sha256 (its ETag): verify against that.
    blob = Path(os.path.realpath(found))
    if verify and _HEX64.fullmatch(blob.name):
        actual = sha256_file(blob)
        if actual != blob.name:
            return Status(SHA256_MISMATCH, found, f"expected {blob.name}, got {actual}")
        return Status(SHA256_OK, found)
    return Status(PRESENT, found)


def _fetch_open_clip(entry: ModelEntry, log: Log) -> Status:
    from open_clip.pretrained import download_pretrained_from_hf

    try:
        repo, filename = open_clip_source(entry.open_clip_model or "", entry.name)
    except ModelFileError as error:
        return Status(REFUSED, None, str(error))
    log(f"  fetching {repo}/{filename} with open_clip into {entry.model_cache}")
    try:
        download_pretrained_from_hf(repo, filename=filename, cache_dir=entry.model_cache)
    except (OSError, RuntimeError) as error:
        return Status(MISSING, None, f"fetch failed: {error}")
    status = _inspect_open_clip(entry, verify=True)
    if status.state == SHA256_MISMATCH and status.path is not None:
        # Leave nothing a rule would read: the blob and the snapshot link to it.
        Path(os.path.realpath(status.path)).unlink(missing_ok=True)
        status.path.unlink(missing_ok=True)
        return replace(status, path=None, detail=f"{status.detail}; the download was deleted")
    return status


# --- fetching ---------------------------------------------------------------------------------


def fetch(entry: ModelEntry, log: Log) -> Status:
    """Fetch a missing entry from its source; the returned state is checked as the rules would."""
    if entry.kind is Kind.OPEN_CLIP:
        return _fetch_open_clip(entry, log)
    target = target_path(entry)
    source = entry.source
    if source is None:
        return Status(MISSING, target, _no_source(entry))
    url_suffix = Path(urllib.parse.urlparse(source.url).path).suffix.lower()
    if source.unpack is None and url_suffix in PICKLE_SUFFIXES:
        return Status(
            REFUSED,
            None,
            f"refusing {source.url}: a pickle download ({url_suffix}); {_PICKLE_HINT}",
        )
    if (source.unpack == "zip") != _is_folder(entry):
        fix = "set unpack: zip" if _is_folder(entry) else "remove unpack: zip (it is for folders)"
        return Status(MISSING, target, f"{entry.key} is {entry.kind.value}: {fix}")
    log(f"  fetching {source.url} -> {target}")
    try:
        if source.unpack == "zip":
            digest = fetch_zip(source.url, target, source.sha256, log)
        else:
            digest = download(source.url, target, source.sha256, log)
    except ChecksumError as error:
        return Status(SHA256_MISMATCH, None, f"{error}; fix model_sources[{entry.name!r}]")
    except (OSError, ValueError, zipfile.BadZipFile, http.client.HTTPException) as error:
        return Status(MISSING, target, f"fetch failed: {error}")
    status = inspect(entry, verify=False)  # the download was hashed as it streamed
    if status.state != PRESENT:
        return status
    if source.sha256:
        return replace(status, state=SHA256_OK, detail="fetched")
    return replace(status, detail=f"fetched; pin it in model_sources with sha256: {digest}")


def _is_folder(entry: ModelEntry) -> bool:
    """A folder is fetched as a zip; a checkpoint named without .safetensors is a folder."""
    suffix = Path(entry.name).suffix.lower()
    return entry.kind in FOLDER_KINDS or (
        entry.kind is Kind.CHECKPOINT and suffix != ".safetensors"
    )


def _no_source(entry: ModelEntry) -> str:
    fields = "url: <a .zip>, unpack: zip" if _is_folder(entry) else "url: ..."
    return (
        f"no source: add it to the config's model_sources "
        f'("{entry.name}": {{{fields}, sha256: ...}}) or put it there yourself'
    )


def _missing_hint(entry: ModelEntry) -> str:
    """What a fetch would do, for `--check`."""
    if entry.kind is Kind.OPEN_CLIP:
        return "`charfolio models` fetches it with open_clip from Hugging Face"
    if entry.source is None:
        return _no_source(entry)
    return f"`charfolio models` fetches it from {entry.source.url}"


def download(url: str, target: Path, sha256: str | None, log: Log) -> str:
    """Stream `url` to a temporary file beside `target`, hash it, rename only if it matches."""
    request = urllib.request.Request(url, headers={"User-Agent": f"charfolio/{__version__}"})
    label = Path(urllib.parse.urlparse(url).path).name or target.name
    digest = hashlib.sha256()
    with atomic_path(target, shared=True) as tmp:
        with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:
            length = response.headers.get("Content-Length")
            progress = ByteProgress(label, int(length) if length else None, log)
            with open(tmp, "wb") as out:
                while chunk := response.read(CHUNK):
                    out.write(chunk)
                    digest.update(chunk)
                    progress.advance(len(chunk))
            progress.finish()
        if length and progress.done != int(length):
            raise OSError(f"{url}: got {progress.done} of {length} bytes; rerun to retry")
        actual = digest.hexdigest()
        if sha256 and actual != sha256.lower():
            raise ChecksumError(
                f"sha256 mismatch for {url}: expected {sha256.lower()}, got {actual}; "
                f"nothing was written to {target}"
            )
    return actual


def fetch_zip(url: str, target: Path, sha256: str | None, log: Log) -> str:
    """Download a zip (sha256 of the archive), unpack it beside `target`, rename it into place.

    A zip whose entries all sit in one folder (buffalo_l.zip may) is unpacked without it.
    """
    if target.exists():
        raise FileExistsError(f"{target} exists but is incomplete; remove it and rerun")
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f".{target.name}.", dir=target.parent) as work:
        archive = Path(work) / "download.zip"
        digest = download(url, archive, sha256, log)
        unpacked = Path(work) / "unpacked"
        unpacked.mkdir()
        extract_zip(archive, unpacked, log)
        top = list(unpacked.iterdir())
        root = top[0] if len(top) == 1 and top[0].is_dir() else unpacked
        os.replace(root, target)
    return digest


def extract_zip(archive: Path, dest: Path, log: Log) -> None:
    """Extract safely: no paths outside `dest`; pickle members are skipped, never installed."""
    with zipfile.ZipFile(archive) as zf:
        for member in zf.infolist():
            parts = Path(member.filename).parts
            if member.filename.startswith(("/", "\\")) or ".." in parts:
                raise zipfile.BadZipFile(f"{archive}: unsafe member path {member.filename!r}")
            if Path(member.filename).suffix.lower() in PICKLE_SUFFIXES:
                log(f"  skipped {member.filename}: pickle files are never loaded")
                continue
            zf.extract(member, dest)


class ByteProgress:
    """Bytes done, rate and ETA, logged at most every PROGRESS_SECONDS and at the end."""

    def __init__(self, label: str, total: int | None, log: Log) -> None:
        self.label, self.total, self.log = label, total, log
        self.done = 0
        self.started = self.last = time.perf_counter()

    def advance(self, n: int) -> None:
        self.done += n
        if time.perf_counter() - self.last >= PROGRESS_SECONDS:
            self._report()

    def finish(self) -> None:
        self._report()

    def _report(self) -> None:
        now = self.last = time.perf_counter()
        rate = self.done / max(now - self.started, 1e-9)
        text = f"  {self.label}: {self.done / 1e6:.1f} MB"
        if self.total:
            eta = (self.total - self.done) / rate if rate else 0.0
            text += f" of {self.total / 1e6:.1f} MB ({100 * self.done / self.total:.0f}%)"
            text += f", ETA {format_duration(eta)}"
        self.log(f"{text}, {rate / 1e6:.1f} MB/s")


# --- the command ------------------------------------------------------------------------------


def run_models(
    config: Mapping[str, Any], *, check: bool = False, label: str = "config", log: Log = print
) -> int:
    """List every model file the config needs and fetch the missing ones (not with `check`).

    Returns 0 when every file is present (and matches its sha256), else 1.
    """
    entries = config_entries(config)
    mode = "checking (no downloads)" if check else "fetching what is missing"
    log(f"charfolio models: {label} (model_cache: {config.get('model_cache')}); {mode}")
    problems = 0
    for entry in entries:
        status = inspect(entry)
        fetchable = status.state == MISSING and entry.kind is not Kind.PACKAGE
        if fetchable and not check:
            with hub_online():  # the only hub access a run allows (see charfolio.core.offline)
                status = fetch(entry, log)
        elif fetchable:
            status = replace(status, detail=_missing_hint(entry))
        problems += not status.ok
        log(f"  {status.state:<22} {entry.key} = {entry.name or '(unset)'}")
        located = f"-> {status.path} ({where(entry, status.path)})" if status.path else ""
        if located or status.detail:
            log(f"  {'':<22} {'; '.join(p for p in (located, status.detail) if p)}")
        note = licence_note(entry.key, entry.name) if entry.name else None
        if note:
            log(f"  {'':<22} licence: {note}")
    for name in unused_sources(config, entries):
        log(f"  note: model_sources[{name!r}] is not named by this config (names must match)")
    if not problems:
        log(f"ok: all {len(entries)} model files the config needs are in place")
        return 0
    hint = (
        "run `charfolio models` with the same configs on a node with internet access"
        if check
        else "fix the lines above"
    )
    log(f"{problems} of {len(entries)} model files are not usable; {hint}")
    return 1


def add_models_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register `charfolio models --config ... [--check]` on the main parser's subparsers."""
    p = subparsers.add_parser(
        "models",
        help="list, check and fetch the model files a config needs",
        description="List every model file the merged config needs, where it resolves and its "
        "state; fetch the missing ones into model_cache from model_sources (open_clip tags from "
        "Hugging Face). Run it where you run snakemake (relative paths), on a node with internet.",
    )
    p.add_argument(
        "--config",
        action="append",
        required=True,
        help="a config file (repeatable; later ones override, like --configfile)",
    )
    p.add_argument(
        "--check",
        action="store_true",
        help="fetch nothing; exit 1 if anything is missing (a pre-flight for offline nodes)",
    )
    p.set_defaults(func=_cmd_models)
    return p


def _cmd_models(args: argparse.Namespace) -> int:
    from charfolio.cli import _load_config  # the same merge and validation as every command

    return run_models(_load_config(args.config), check=args.check, label=" + ".join(args.config))
