"""Open a path for reading only when it is a regular file: never a FIFO, device or folder.

Files in a user's image folder can be anything. Opening a FIFO waits for a writer forever,
reading /dev/zero never ends, and opening some devices has side effects, so the target is
checked before it is opened, opened without blocking (O_NONBLOCK), and checked again on the
open descriptor (fstat), so a file swapped in between the two checks is refused too.
Standard library only: the folder listing imports this at DAG time.
"""

from __future__ import annotations

import errno
import os
import stat
from typing import BinaryIO

_KINDS = (
    (stat.S_ISDIR, "folder"),
    (stat.S_ISFIFO, "FIFO (named pipe)"),
    (stat.S_ISCHR, "character device"),
    (stat.S_ISBLK, "block device"),
    (stat.S_ISSOCK, "socket"),
    (stat.S_ISLNK, "symbolic link"),
)


class NotRegularFile(OSError):
    """The path exists but is not a regular file (a folder, FIFO, device or socket)."""


def file_kind(mode: int) -> str:
    """What a stat mode says the path is, in words."""
    if stat.S_ISREG(mode):
        return "regular file"
    return next((kind for test, kind in _KINDS if test(mode)), "special file")


def _refuse(path: str | os.PathLike[str], mode: int) -> NotRegularFile:
    return NotRegularFile(
        errno.EINVAL, f"{os.fspath(path)} is a {file_kind(mode)}, not a regular file"
    )


def open_regular(path: str | os.PathLike[str]) -> BinaryIO:
    """`open(path, "rb")` for a regular file (links followed); NotRegularFile for anything else.

    Other failures are the usual OSErrors: FileNotFoundError (also for a dangling link),
    PermissionError, and OSError with errno ELOOP for a symlink loop.
    """
    mode = os.stat(path).st_mode
    if not stat.S_ISREG(mode):
        raise _refuse(path, mode)
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise _refuse(path, mode)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise
