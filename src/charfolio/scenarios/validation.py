"""Validation of one scenario line, its category, and the category quotas.

A scenario is a prompt modifier appended to the character's base prompt, of the form
", [noun] [action/pose] in [location], [lighting/mood]". `validate_scenario` returns
the first rule a line breaks, as one of these reason codes, or None when it passes:

- ``bad_characters``: control characters, emoji or other symbols that are not text.
- ``missing_comma``: does not start with "," (it would fuse with the base prompt).
- ``leaked_instruction``: echoes the request instead of being a scenario: phrases such
  as "generate", "scenario", "format:", "example", "here are", "each must", "words",
  "sure,", "as an ai", the placeholders "[noun]", "[location]", list numbering or
  bullets, brackets, quotes, colons or markdown.
- ``age_reference``: states an age or makes the subject a child ("14 year old", "teen",
  "little girl");
  the character's age comes from its base prompt and a scenario must not change it.
- ``too_short``: fewer than `min_words` words (words contain a letter or digit, so the
  leading comma does not count).
- ``too_long``: more than `max_words` words (a runaway generation, not a modifier).
- ``duplicate``: same as an earlier accepted line once case, spacing and punctuation
  are ignored (the LLM backend also rejects copies of its prompt's examples this way).

The LLM backend adds two reasons of its own: ``truncated`` (the last line of a
completion cut off by max_tokens) and ``category_full`` (a valid line whose category
already has its quota).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from fractions import Fraction
from functools import cache

from charfolio.scenarios.lexicon import LEXICON, SCENARIO_CATEGORIES

MAX_WORDS = 40

REJECT_REASONS = (
    "bad_characters",
    "missing_comma",
    "leaked_instruction",
    "age_reference",
    "too_short",
    "too_long",
    "duplicate",
)

_LEAKED_PHRASES = (
    r"generat\w*",
    r"scenarios?",
    r"format",
    r"examples?",
    r"here (?:are|is)",
    r"each (?:must|should|line|one)",
    r"words?",
    r"sure",
    r"certainly",
    r"as an ai",
    r"language model",
    r"prompts?",
    r"placeholders?",
    r"nouns?",
    r"action/pose",
    r"lighting/mood",
    r"categor(?:y|ies)",
    r"grammatically",
    r"modifiers?",
    r"one per line",
    r"i (?:can|will|hope)",
    r"let me",
)
_LEAKED_RE = re.compile(r"\b(?:" + "|".join(_LEAKED_PHRASES) + r")\b", re.IGNORECASE)
# Brackets and quotes are prompt syntax or echoed placeholders, the rest is markdown.
_LEAKED_CHARS = set('[](){}<>"“”„«»`*#_|~\\:;')
# "1." / "2)" / "#3" / "- " / "• " right after the leading comma: list numbering.
_NUMBERING_RE = re.compile(r"^,\s*(?:\d+\s*[.)]|[-•*+]\s)")
_AGE_RE = re.compile(
    r"\b\d+\s*-?\s*(?:years?|yrs?|y/?o)\b|\b(?:child|children|kid|kids|teen|teens|teenager|"
    r"teenage|toddler|schoolboy|schoolgirl|minor|underage|baby-faced)\b|"
    r"\b(?:young|little|small) (?:girl|boy)s?\b",
    re.IGNORECASE,
)
_WORD_RE = re.compile(r"[^\W_]", re.UNICODE)
_NON_WORD_RE = re.compile(r"[\W_]+", re.UNICODE)


def normalise(text: str) -> str:
    """The form used to detect duplicates: lowercase words, no punctuation or extra spaces."""
    return " ".join(_NON_WORD_RE.sub(" ", text.casefold()).split())


def count_words(text: str) -> int:
    return sum(1 for token in text.split() if _WORD_RE.search(token))


def _has_bad_characters(text: str) -> bool:
    # Letters, marks, digits, spaces and ordinary punctuation only: no controls, emoji, symbols.
    return any(
        unicodedata.category(ch)[0] not in "LMNPZ" or (ch.isspace() and ch != " ") for ch in text
    )


def validate_scenario(
    text: str, seen: set[str], min_words: int = 8, max_words: int = MAX_WORDS
) -> str | None:
    """The reason code of the first rule `text` breaks, or None if it is a good scenario.

    `seen` holds `normalise()`d forms of lines accepted so far; it is read, not changed:
    the caller adds a line once it decides to keep it.
    """
    if not text or _has_bad_characters(text):
        return "bad_characters"
    if not text.startswith(","):
        return "missing_comma"
    if (
        _LEAKED_RE.search(text)
        or _NUMBERING_RE.search(text)
        or any(ch in _LEAKED_CHARS for ch in text)
    ):
        return "leaked_instruction"
    if _AGE_RE.search(text):
        return "age_reference"
    words = count_words(text)
    if words < min_words:
        return "too_short"
    if words > max_words:
        return "too_long"
    if normalise(text) in seen:
        return "duplicate"
    return None


@cache
def _keyword_re() -> re.Pattern[str]:
    # One alternation, longest entries first, so overlapping entries match once, longest wins.
    entries = sorted((e for words in LEXICON.values() for e in words), key=lambda e: (-len(e), e))
    alternation = "|".join(re.escape(e) for e in entries)
    return re.compile(rf"\b(?:{alternation})(?:e?s)?\b", re.IGNORECASE)


@cache
def _owner() -> dict[str, str]:
    return {word: category for category, words in LEXICON.items() for word in words}


def keyword_hits(text: str) -> list[tuple[str, str]]:
    """(category, matched text) for each lexicon keyword in `text`, in reading order."""
    owner = _owner()
    hits = []
    for match in _keyword_re().finditer(text):
        found = match.group(0).lower()
        # the entry itself, or it with the plural "s" / "es" the pattern allows
        entry = next(w for w in (found, found[:-1], found[:-2]) if w in owner)
        hits.append((owner[entry], found))
    return hits


def categorize(text: str) -> str:
    """The category with the most keyword hits; "other" when nothing matches.

    Ties go to the category whose first hit comes earliest (the role noun leads a
    scenario, so it decides), then to the order of SCENARIO_CATEGORIES.
    """
    counts: dict[str, int] = {}
    first: dict[str, int] = {}
    for i, (category, _) in enumerate(keyword_hits(text)):
        counts[category] = counts.get(category, 0) + 1
        first.setdefault(category, i)
    if not counts:
        return "other"
    return min(counts, key=lambda c: (-counts[c], first[c], SCENARIO_CATEGORIES.index(c)))


def apportion(count: int, mix: Mapping[str, float]) -> dict[str, int]:
    """Split `count` by the weights in `mix` with the largest-remainder method.

    Every category of SCENARIO_CATEGORIES gets a quota (0 when missing from `mix`); the quotas sum
    to `count`. Weights are read as decimals (0.15 is exactly 3/20), so 60 with the
    default mix is exactly 12/12/9/9/9/9; equal remainders go in SCENARIO_CATEGORIES order.
    """
    unknown = set(mix) - set(SCENARIO_CATEGORIES)
    if unknown:
        raise ValueError(
            f"unknown scenario categories {sorted(unknown)}; use {list(SCENARIO_CATEGORIES)}"
        )
    weights = {c: Fraction(str(mix.get(c, 0))) for c in SCENARIO_CATEGORIES}
    if any(w < 0 for w in weights.values()):
        raise ValueError("scenarios.category_mix weights must not be negative")
    total = sum(weights.values())
    if total <= 0:
        raise ValueError("scenarios.category_mix needs at least one weight above 0")
    exact = {c: count * w / total for c, w in weights.items()}
    quotas = {c: int(q) for c, q in exact.items()}
    by_remainder = sorted(
        SCENARIO_CATEGORIES, key=lambda c: (-(exact[c] - quotas[c]), SCENARIO_CATEGORIES.index(c))
    )
    for c in by_remainder[: count - sum(quotas.values())]:
        quotas[c] += 1
    return quotas


def interleave(lines_by_category: Mapping[str, list[str]]) -> list[tuple[str, str]]:
    """(category, line) in an order that spreads each category evenly over the whole list.

    The i-th of n lines of a category sits at position (i + 0.5) / n; sorting on that
    interleaves categories in proportion to their size instead of listing them in blocks.
    """
    keyed = [
        ((Fraction(2 * i + 1, 2 * len(lines)), SCENARIO_CATEGORIES.index(category)), category, line)
        for category, lines in lines_by_category.items()
        for i, line in enumerate(lines)
    ]
    return [(category, line) for _, category, line in sorted(keyed, key=lambda k: k[0])]
