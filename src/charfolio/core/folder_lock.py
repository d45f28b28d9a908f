"""One writer per working folder: `charfolio curate` holds this lock while it rewrites the
folder's config and runs Snakemake there.

Snakemake's own lock is taken only once Snakemake starts, after curate has rewritten the
config it reads, so a second curate into the same folder would change the first one's
config under it. The lock is an flock(2) on a file in the folder: the kernel drops it when
the holder exits, however it exits, so a killed curate never leaves a stale lock.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path

LOCK_NAME = ".charfolio.lock"


class FolderBusyError(RuntimeError):
    """Another process holds the folder's lock."""


@contextlib.contextmanager
def folder_lock(folder: Path, what: str) -> Iterator[int]:
    """Hold `folder`'s lock for the block, or raise FolderBusyError naming the holder at once.

    Yields the lock's file descriptor: pass it to a child process (`pass_fds`) that works in
    the folder, so the lock lasts as long as the child even if the holder is killed first.
    """
    path = folder / LOCK_NAME
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 32).decode(errors="replace").strip() or "unknown"
            raise FolderBusyError(
                f"{folder} is in use by another {what} (pid {holder}, lock {path}); wait for it "
                f"to finish, or give another folder"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield fd
    finally:
        os.close(fd)  # releases the lock
