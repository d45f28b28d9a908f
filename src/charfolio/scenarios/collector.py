"""Collects candidate lines from a backend: validates, tags, fills category quotas.

Both backends feed every line they produce through `Collector.offer`, so the rules for
what is accepted, and the record of what was rejected and why, are the same for both.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from charfolio.scenarios.lexicon import SCENARIO_CATEGORIES
from charfolio.scenarios.validation import categorize, interleave, normalise, validate_scenario


class ScenarioGenerationError(RuntimeError):
    """A backend could not fill the category quotas; the message says what to change."""


@dataclass(frozen=True)
class Candidate:
    text: str
    category: str
    attempt: int
    reason: str | None  # None when accepted


class Collector:
    """Accepts valid lines into their category (by `categorize`) while its quota is open."""

    def __init__(self, quotas: Mapping[str, int], min_words: int) -> None:
        self.quotas = {c: quotas.get(c, 0) for c in SCENARIO_CATEGORIES}
        self.min_words = min_words
        self.seen: set[str] = set()
        self.accepted: dict[str, list[str]] = {c: [] for c in SCENARIO_CATEGORIES}
        self.candidates: list[Candidate] = []

    def offer(self, text: str, attempt: int, reason: str | None = None) -> Candidate:
        """Judge one line; `reason` rejects it outright (a backend's own finding)."""
        text = text.strip()
        category = categorize(text)
        if reason is None:
            reason = validate_scenario(text, self.seen, self.min_words)
        if reason is None and len(self.accepted[category]) >= self.quotas[category]:
            reason = "category_full"
        if reason is None:
            self.seen.add(normalise(text))
            self.accepted[category].append(text)
        candidate = Candidate(text, category, attempt, reason)
        self.candidates.append(candidate)
        return candidate

    def remaining(self) -> dict[str, int]:
        return {c: self.quotas[c] - len(self.accepted[c]) for c in SCENARIO_CATEGORIES}

    def open_categories(self) -> list[str]:
        """Open categories, the least filled (relative to its quota) first."""
        open_ = [c for c in SCENARIO_CATEGORIES if self.remaining()[c] > 0]
        return sorted(
            open_,
            key=lambda c: (len(self.accepted[c]) / self.quotas[c], SCENARIO_CATEGORIES.index(c)),
        )

    @property
    def done(self) -> bool:
        return not self.open_categories()

    def reject_counts(self) -> Counter[str]:
        return Counter(c.reason for c in self.candidates if c.reason is not None)

    def progress(self) -> str:
        return ", ".join(
            f"{c} {len(self.accepted[c])}/{self.quotas[c]}" for c in SCENARIO_CATEGORIES
        )

    def rows(self, backend: str, model: str) -> list[dict[str, Any]]:
        """Table rows: accepted lines in interleaved order (index 0..n-1), then rejections."""
        order = {
            (category, text): i for i, (category, text) in enumerate(interleave(self.accepted))
        }
        accepted, rejected = [], []
        for c in self.candidates:
            row = {
                "index": order.get((c.category, c.text)) if c.reason is None else None,
                "text": c.text,
                "category": c.category,
                "backend": backend,
                "model": model,
                "verdict": "accepted" if c.reason is None else "rejected",
                "reason": c.reason,
                "attempt": c.attempt,
            }
            (accepted if c.reason is None else rejected).append(row)
        accepted.sort(key=lambda r: r["index"])
        return accepted + rejected
