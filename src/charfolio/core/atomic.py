"""Write files so a killed job never leaves a half-written artifact under its final name."""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike[str], *, shared: bool = False) -> Iterator[Path]:
    """Yield a temporary path beside `target`; rename it onto `target` only on success.

    A job's output has one writer, so its temporary name is fixed: a killed writer's leftover
    is truncated and taken over by the rerun, never piled up beside the artifacts. A `shared`
    target (a model cache several jobs may fill at once) gets a unique temporary name instead,
    so concurrent writers never write into one file.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    if shared:
        fd, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
        tmp = Path(name)
    else:
        tmp = target.with_name(f".{target.name}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
    os.close(fd)
    try:
        yield tmp
        # Some writers (safetensors) replace the file with their own 0600 one: set the usual
        # umask-based mode last, as open() would have made it.
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def _umask() -> int:
    """The process umask, read without setting it where Linux allows (setting it, even for a
    moment, would give a file another thread creates meanwhile the wrong mode)."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except OSError:
        pass
    mask = os.umask(0)
    os.umask(mask)
    return mask


def make_staging_dir(parent: str | os.PathLike[str], prefix: str, suffix: str = "") -> Path:
    """A new empty directory in `parent` to build a directory artifact in, then rename.

    mkdtemp makes it 0700, which would stay private once renamed into place: it gets the
    umask-based mode mkdir() gives, so colleagues in the project's group can read it.
    """
    path = Path(tempfile.mkdtemp(prefix=prefix, suffix=suffix, dir=parent))
    # Keep the setgid bit a group-shared project folder passes down, so what is made inside
    # still belongs to the project's group.
    path.chmod((0o777 & ~_umask()) | (path.stat().st_mode & stat.S_ISGID))
    return path


def job_staging_dir(parent: str | os.PathLike[str], prefix: str, suffix: str = "") -> Path:
    """make_staging_dir for an artifact one job alone writes: a killed run's leftover staging
    folders (same prefix and suffix) are removed first, so they never pile up beside the
    artifacts. Not for folders several jobs may build at once (a shared model cache)."""
    _remove_leftovers(Path(parent), f"{prefix}*{suffix}")
    return make_staging_dir(parent, prefix, suffix)


def _remove_leftovers(parent: Path, pattern: str) -> None:
    for leftover in parent.glob(pattern):
        if leftover.is_dir() and not leftover.is_symlink():
            shutil.rmtree(leftover, ignore_errors=True)


def write_bytes_atomic(target: str | os.PathLike[str], data: bytes) -> None:
    with atomic_path(target) as tmp:
        tmp.write_bytes(data)


def write_text_atomic(target: str | os.PathLike[str], text: str) -> None:
    write_bytes_atomic(target, text.encode("utf-8"))


def replace_dir(new: Path, target: Path) -> None:
    """Move a finished directory `new` onto `target`; an old `target` is moved aside, then deleted.

    Build a directory artifact beside its target and call this last: a killed job leaves either
    the old directory or the new one under the final name, never a half-made one.
    """
    old = None
    _remove_leftovers(target.parent, f".{target.name}.*.old")  # a killed swap's old copy
    if target.exists() or target.is_symlink():
        old = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".old", dir=target.parent))
        os.replace(target, old / "previous")
    os.replace(new, target)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
