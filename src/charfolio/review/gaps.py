"""The shot types each tier is short of, as the tier's balance report records them.

A balance report (`balance/tier_{n}.json`, charfolio.balance) keeps, per targeted shot type,
its count, share, range and status; `under` with `images` > 0 is a gap the page can help
fill with images outside the tier.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

from charfolio.core.layout import CharacterResults, tier_size
from charfolio.faces.shots import SHOT_TYPES


def tier_gaps(results: CharacterResults, tiers: Iterable[str]) -> dict[str, dict[str, int]]:
    """{"tier_70": {"full_body": 5}}: per tier with a report, shot type -> images short."""
    gaps: dict[str, dict[str, int]] = {}
    for tier in sorted(set(tiers)):
        n = tier_size(tier)
        if n is None:
            continue
        path = Path(results.balance_report(n))
        try:
            report = json.loads(path.read_text(encoding="utf-8"))
            shots = report["shot_types"]
        except (OSError, ValueError, KeyError, TypeError):
            continue  # no report (balance not run for this tier) or an unreadable one
        short = {
            name: int(record.get("images") or 0)
            for name, record in shots.items()
            if name in SHOT_TYPES and record.get("status") == "under"
        }
        if short:
            gaps[tier] = short
    return gaps
