"""The files of an image folder, listed from stat calls alone (nothing is opened or read).

What becomes an entry (a row of the ingested image table):
- every file that is not hidden (a name starting with ".") and not a sidecar (SIDECARS),
  whatever its extension: .gif, .heic or an unknown one too; the stages decide whether it
  decodes, and one that does not is a row with the reason `unreadable`;
- what is there but cannot be a file: a FIFO, a device, a socket, a dangling link, a symlink
  loop, a file that cannot be stat'ed, a subfolder that cannot be listed. Each is an entry
  with a `problem` ("code: what"), so it is a row with a reason, never skipped in silence.

Links are followed wherever they point: a folder of links to images kept elsewhere is a
common, legitimate layout. Following is safe because a non-regular target is never opened
(charfolio.core.regular_file), every folder is walked at most once (by st_dev and st_ino, so a
link back to an ancestor, a loop, ends there), and the entries reached through a link that
leaves the folder are counted in the summary, so the log says how much of the input lives
elsewhere. A folder link to an ancestor of the folder (/, the home folder) is not walked: it
would list the whole disk; it is an entry with the problem `encloses_folder`. The folder's own subfolders are walked before any linked one, so an image that is
reachable both ways keeps its real path, and the named order makes every listing the same.

Standard library only: the workflow lists the folder at DAG time and makes its `digest`
(names, sizes, mtimes, modes) a param of ingest_folder, so adding, deleting or changing a
file reruns ingest and what depends on it, and nothing reruns otherwise.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import stat
from collections import Counter, deque
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from charfolio.core.regular_file import file_kind

# Files that sit beside images in datasets and photo folders and are never images.
SIDECARS: dict[str, str] = {
    ".txt": "captions (kohya-style datasets)",
    ".caption": "captions",
    ".json": "metadata",
    ".jsonl": "metadata",
    ".xmp": "editor metadata (Lightroom, darktable)",
    ".yaml": "configs",
    ".yml": "configs",
    ".toml": "configs",
    ".npz": "cached latents (kohya)",
    ".csv": "tables",
    ".md": "notes",
    "thumbs.db": "Windows thumbnail cache",
    "desktop.ini": "Windows folder settings",
}


def is_sidecar(name: str) -> bool:
    """A known non-image companion file, by its name or its extension (any case)."""
    name = name.lower()
    dot = name.rfind(".")
    return name in SIDECARS or (dot > 0 and name[dot:] in SIDECARS)


class Entry(NamedTuple):  # a tuple, not a dataclass: 100k of them are made at DAG time
    """One file of the folder, as found (`relative` is walked through links, "/"-separated)."""

    relative: str
    size: int  # bytes of the file (of a link's target); 0 when unknown
    mtime_ns: int
    mode: int  # st_mode (of a link's target); 0 when unknown
    problem: str | None  # "code: what" when it cannot be read as a file, else None
    outside: bool  # reached through a link that leaves the folder

    @property
    def problem_code(self) -> str | None:
        return self.problem.split(":", 1)[0] if self.problem else None


@dataclass(frozen=True)
class Listing:
    folder: Path
    entries: tuple[Entry, ...]  # sorted by path components
    skipped: dict[str, int]  # hidden, sidecar, folder_seen: counts of what is not an entry
    seen_again: tuple[str, ...]  # folder links not walked: their folder was walked already

    def digest(self) -> str:
        """sha256 of everything listed about every entry: it changes when any file does."""
        fields = [(e.relative, e.size, e.mtime_ns, e.mode, e.problem) for e in self.entries]
        return hashlib.sha256(json.dumps(fields).encode()).hexdigest()

    def summary(self) -> str:
        """What was found, by kind, for the job log."""
        problems = Counter(e.problem_code for e in self.entries if e.problem)
        parts = [f"{len(self.entries)} entries"]
        if problems:
            parts.append(", ".join(f"{n} {code}" for code, n in sorted(problems.items())))
        outside = sum(e.outside for e in self.entries)
        if outside:
            parts.append(f"{outside} reached through links outside the folder (followed)")
        skipped = [
            f"{self.skipped.get('hidden', 0)} hidden",
            f"{self.skipped.get('sidecar', 0)} sidecar ({', '.join(sorted(SIDECARS))})",
        ]
        if self.seen_again:
            shown = ", ".join(self.seen_again[:5]) + (", ..." if len(self.seen_again) > 5 else "")
            skipped.append(f"{len(self.seen_again)} folders already walked ({shown})")
        return "; ".join(parts) + "; skipped " + ", ".join(skipped)


def _inside(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


def _encloses(target: str, root: str) -> bool:
    """`target` is a strict ancestor of the image folder `root`."""
    return target != root and _inside(root, target)


def _stat_problem(relative: str, path: str, error: OSError) -> str:
    if error.errno == errno.ELOOP:
        return f"symlink_loop: {relative} is a loop of symbolic links"
    if error.errno == errno.ENOENT and os.path.islink(path):
        return f"dangling_link: {relative} links to {os.readlink(path)}, which does not exist"
    return f"os_error: {relative}: {error.strerror or error}"


def _lstat_mtime(path: str) -> int:
    try:
        return os.lstat(path).st_mtime_ns
    except OSError:
        return 0


@dataclass(frozen=True)
class _Folder:
    path: str
    relative: str
    key: tuple[int, int]  # st_dev, st_ino: each folder is walked once
    mtime_ns: int
    outside: bool
    via_link: bool


def list_folder(folder: str | os.PathLike[str]) -> Listing:
    """Walk `folder` (see the module docstring for what is an entry).

    The folder itself must be a folder that can be listed (OSError otherwise); any problem
    below it is an entry.
    """
    folder = Path(folder).expanduser()
    top = os.stat(folder)
    if not stat.S_ISDIR(top.st_mode):
        raise NotADirectoryError(errno.ENOTDIR, f"{folder} is not a folder")
    real_root = os.path.realpath(folder)
    walked: set[tuple[int, int]] = set()
    entries: list[Entry] = []
    skipped: Counter[str] = Counter()
    seen_again: list[str] = []
    # The folder's own tree first (depth first, in name order), then linked folders in the
    # order they were found.
    real = [_Folder(os.fspath(folder), "", (top.st_dev, top.st_ino), top.st_mtime_ns, False, False)]
    linked: deque[_Folder] = deque()
    while real or linked:
        here = real.pop() if real else linked.popleft()
        if here.key in walked:
            seen_again.append(here.relative)
            continue
        walked.add(here.key)
        try:
            with os.scandir(here.path) as found:
                children = sorted(found, key=lambda child: child.name)
        except OSError as error:
            if not here.relative:
                raise
            problem = f"unlistable_folder: cannot list {here.relative}/: {error.strerror or error}"
            entries.append(Entry(here.relative, 0, here.mtime_ns, 0, problem, here.outside))
            continue
        subfolders = []
        for child in children:
            if child.name.startswith("."):
                skipped["hidden"] += 1
                continue
            relative = f"{here.relative}/{child.name}" if here.relative else child.name
            try:
                info = child.stat()  # follows links
            except OSError as error:
                problem = _stat_problem(relative, child.path, error)
                mtime = _lstat_mtime(child.path)
                entries.append(Entry(relative, 0, mtime, 0, problem, here.outside))
                continue
            is_link = child.is_symlink()
            target = os.path.realpath(child.path) if is_link else ""
            outside = here.outside or (is_link and not _inside(target, real_root))
            if stat.S_ISDIR(info.st_mode) and is_link and _encloses(target, real_root):
                # A link to / or the home folder holding the images: walking it would list the
                # whole disk (the image folder again among it); refuse it, as a row.
                problem = (
                    f"encloses_folder: {relative} links to {target}, which holds the image "
                    "folder itself; link the images or their own folder instead"
                )
                entries.append(Entry(relative, 0, _lstat_mtime(child.path), 0, problem, True))
            elif stat.S_ISDIR(info.st_mode):
                via_link = here.via_link or is_link
                subfolder = _Folder(
                    child.path, relative, (info.st_dev, info.st_ino), info.st_mtime_ns,
                    outside, via_link,
                )  # fmt: skip
                if via_link:
                    linked.append(subfolder)
                else:
                    subfolders.append(subfolder)
            elif is_sidecar(child.name):
                skipped["sidecar"] += 1
            else:
                problem = (
                    None
                    if stat.S_ISREG(info.st_mode)
                    else f"not_a_file: {relative} is a {file_kind(info.st_mode)}"
                )
                size = info.st_size if problem is None else 0
                entries.append(
                    Entry(relative, size, info.st_mtime_ns, info.st_mode, problem, outside)
                )
        real.extend(reversed(subfolders))
    entries.sort(key=lambda entry: entry.relative.split("/"))
    skipped["folder_seen"] = len(seen_again)
    return Listing(folder, tuple(entries), dict(skipped), tuple(seen_again))
