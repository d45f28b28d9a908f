"""Progress with an ETA for long jobs, written to the job's log."""

from __future__ import annotations

import time
from collections.abc import Callable


def format_duration(seconds: float) -> str:
    seconds = round(seconds)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes:02d}m"
    return f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"


class Progress:
    """Logs `done/total`, the rate and an ETA, at most every `every_seconds` (and at the end)."""

    def __init__(self, total: int, label: str, log: Callable[[str], None] = print,
                 every_seconds: float = 5.0) -> None:  # fmt: skip
        self.total = total
        self.label = label
        self.log = log
        self.every = every_seconds
        self.done = 0
        self.started = time.perf_counter()
        self.last_logged = float("-inf")

    def advance(self, n: int = 1) -> None:
        self.done += n
        now = time.perf_counter()
        if self.done < self.total and now - self.last_logged < self.every:
            return
        self.last_logged = now
        elapsed = now - self.started
        rate = self.done / elapsed if elapsed > 0 else 0.0
        eta = (self.total - self.done) / rate if rate > 0 else 0.0
        pct = 100.0 * self.done / self.total if self.total else 100.0
        self.log(
            f"{self.label}: {self.done}/{self.total} ({pct:.0f}%), {rate:.2f}/s, "
            f"elapsed {format_duration(elapsed)}, ETA {format_duration(eta)}"
        )
