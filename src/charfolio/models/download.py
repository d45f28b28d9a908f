"""Downloads that never leave a partial or unverified file where a rule would read it.

A download streams to a temporary file beside the target and is renamed only after its
sha256 matches; a zip is unpacked beside the target and renamed into place whole. Pickle
members of a zip are skipped, never installed.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import time
import urllib.parse
import urllib.request
import zipfile
from collections.abc import Callable
from pathlib import Path

from charfolio import __version__
from charfolio.core.atomic import atomic_path
from charfolio.core.config import PICKLE_SUFFIXES
from charfolio.core.progress import format_duration

Log = Callable[[str], None]

CHUNK = 1 << 20
TIMEOUT_SECONDS = 60
PROGRESS_SECONDS = 2.0


class ChecksumError(ValueError):
    """A download's sha256 differs from the one in model_sources."""


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
