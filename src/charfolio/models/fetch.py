"""Fetch a missing model file from its source: model_sources' URL, or open_clip's Hub repo.

What a fetch leaves is inspected as the rules would read it; a corrupt open_clip download
is deleted, blob and snapshot link both.
"""

from __future__ import annotations

import http.client
import os
import urllib.parse
import zipfile
from dataclasses import replace
from pathlib import Path

from charfolio.core.config import PICKLE_HINT, PICKLE_SUFFIXES, ModelFileError
from charfolio.embed.open_clip_weights import open_clip_source
from charfolio.models.download import ChecksumError, Log, download, fetch_zip
from charfolio.models.needs import FOLDER_KINDS, Kind, ModelEntry
from charfolio.models.state import (
    MISSING,
    PRESENT,
    REFUSED,
    SHA256_MISMATCH,
    SHA256_OK,
    Status,
    inspect,
    inspect_open_clip,
    target_path,
)


def fetch(entry: ModelEntry, log: Log) -> Status:
    """Fetch a missing entry from its source; the returned state is checked as the rules would."""
    if entry.kind is Kind.OPEN_CLIP:
        return fetch_open_clip(entry, log)
    target = target_path(entry)
    source = entry.source
    if source is None:
        return Status(MISSING, target, no_source(entry))
    url_suffix = Path(urllib.parse.urlparse(source.url).path).suffix.lower()
    if source.unpack is None and url_suffix in PICKLE_SUFFIXES:
        return Status(
            REFUSED,
            None,
            f"refusing {source.url}: a pickle download ({url_suffix}); {PICKLE_HINT}",
        )
    if (source.unpack == "zip") != is_folder(entry):
        fix = "set unpack: zip" if is_folder(entry) else "remove unpack: zip (it is for folders)"
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


def is_folder(entry: ModelEntry) -> bool:
    """A folder is fetched as a zip; a checkpoint named without .safetensors is a folder."""
    suffix = Path(entry.name).suffix.lower()
    return entry.kind in FOLDER_KINDS or (
        entry.kind is Kind.CHECKPOINT and suffix != ".safetensors"
    )


def no_source(entry: ModelEntry) -> str:
    fields = "url: <a .zip>, unpack: zip" if is_folder(entry) else "url: ..."
    return (
        f"no source: add it to the config's model_sources "
        f'("{entry.name}": {{{fields}, sha256: ...}}) or put it there yourself'
    )


def missing_hint(entry: ModelEntry) -> str:
    """What a fetch would do, for `--check`."""
    if entry.kind is Kind.OPEN_CLIP:
        return "`charfolio models` fetches it with open_clip from Hugging Face"
    if entry.source is None:
        return no_source(entry)
    return f"`charfolio models` fetches it from {entry.source.url}"


def fetch_open_clip(entry: ModelEntry, log: Log) -> Status:
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
    status = inspect_open_clip(entry, verify=True)
    if status.state == SHA256_MISMATCH and status.path is not None:
        # Leave nothing a rule would read: the blob and the snapshot link to it.
        Path(os.path.realpath(status.path)).unlink(missing_ok=True)
        status.path.unlink(missing_ok=True)
        return replace(status, path=None, detail=f"{status.detail}; the download was deleted")
    return status
