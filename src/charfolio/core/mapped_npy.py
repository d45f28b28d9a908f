"""Create a writable memory-mapped .npy whose disk space is allocated before it is written.

A memory map over a sparse file gets its blocks only when a page is first written; if the
disk (or the user's quota) is full by then, the kernel kills the process with SIGBUS: no
message, no cleanup. Allocating the whole file up front turns that into an ordinary
OSError at the start, which names the file and the space it needs.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path

import numpy as np

_FULL = (errno.ENOSPC, errno.EDQUOT)


def create_mapped_npy(
    path: str | os.PathLike[str],
    shape: tuple[int, ...],
    dtype: np.dtype | type,
    *,
    target: str | os.PathLike[str],
) -> np.memmap:
    """A new .npy at `path` (the temporary name of `target`), every byte allocated, mapped r+.

    Raises OSError (ENOSPC or EDQUOT) naming `target` and the bytes needed when they do not fit.
    """
    dtype = np.dtype(dtype)
    header = {"descr": np.lib.format.dtype_to_descr(dtype), "fortran_order": False, "shape": shape}
    nbytes = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    with open(path, "wb") as fh:
        np.lib.format.write_array_header_1_0(fh, header)
        size = fh.tell() + nbytes
        try:
            os.posix_fallocate(fh.fileno(), 0, size)
        except OSError as error:
            if error.errno not in _FULL:
                raise
            folder = Path(path).parent
            raise OSError(
                error.errno,
                f"{os.strerror(error.errno)}: {target} needs {size:,} bytes for its "
                f"{'x'.join(map(str, shape))} {dtype} array in {folder}; free space there "
                f"(or raise the quota), or move the results folder to a larger disk, and rerun",
            ) from None
    return np.lib.format.open_memmap(path, mode="r+")
