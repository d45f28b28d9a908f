"""A job's log: timestamped lines to the rule's log file and to stderr, tracebacks kept."""

from __future__ import annotations

import contextlib
import os
import sys
import traceback
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path


@contextlib.contextmanager
def job_log(path: str | os.PathLike[str] | None) -> Iterator[Callable[[str], None]]:
    """Yield `log(message)`; an exception is written to the log with its traceback, then re-raised."""
    handle = None
    if path is not None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        handle = open(path, "a", encoding="utf-8")  # noqa: SIM115 - closed below

    def log(message: str) -> None:
        line = f"[{datetime.now().strftime('%H:%M:%S')}] {message}"
        print(line, file=sys.stderr, flush=True)
        if handle is not None:
            handle.write(line + "\n")
            handle.flush()

    try:
        yield log
    except BaseException as error:
        if handle is not None:
            handle.write(traceback.format_exc())
        log(f"FAILED: {type(error).__name__}: {error}")
        raise
    finally:
        if handle is not None:
            handle.close()
