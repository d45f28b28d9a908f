"""Captions that name a crop's new framing ("full body" becomes "upper body")."""

from __future__ import annotations

import re

from charfolio.faces.shots import SHOT_PHRASES

_FRAMING_RE = re.compile(
    r"\b(?:(?:extreme|medium)\s+)?close[- ]?up(?:\s+(?:portrait|shot))?\b"
    r"|\bhead\s*(?:and|&)\s*shoulders(?:\s+(?:portrait|shot))?\b|\bheadshot\b"
    r"|\bmedium(?:\s+full)?\s+shot\b|\bmid[- ]shot\b|\bcowboy\s+shot\b"
    r"|\b(?:upper|half)[- ]body(?:\s+shot)?\b|\bwaist[- ]up(?:\s+shot)?\b"
    r"|\bfull[- ](?:body|length)(?:\s+(?:shot|portrait|view))?\b|\bhead\s+to\s+toe\b"
    r"|\b(?:wide|long|establishing|far)(?:[- ]angle)?\s+shot\b|\bwide[- ]angle\b",
    re.IGNORECASE,
)


def reframe_caption(caption: str, shot: str) -> str:
    """`caption` naming `shot`'s framing: the first framing phrase replaced, others removed,
    or the phrase inserted after the first comma-separated part (the token and class word)."""
    if shot not in SHOT_PHRASES:
        return caption
    phrase = SHOT_PHRASES[shot]
    count = 0

    def swap(match: re.Match[str]) -> str:
        nonlocal count
        count += 1
        return phrase if count == 1 else ""

    text = _FRAMING_RE.sub(swap, caption)
    parts = [p.strip() for p in text.split(",")]
    parts = [p for p in parts if p]
    if count == 0:
        parts.insert(1 if parts else 0, phrase)
    return ", ".join(parts)
