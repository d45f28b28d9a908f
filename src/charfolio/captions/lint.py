"""Caption lint: words that describe the character's identity compete with the trigger token.

A LoRA learns what captions leave unsaid into the token: a caption that says "sandy hair,
freckles" teaches the model that those come from the words, not from "ember", and prompting
the token alone then loses them. So a training caption names what should vary (framing,
clothing, pose, setting, light) and leaves fixed traits out: hair, eye colour, freckles,
skin, facial hair, age, ethnicity, and gender words beyond the class word. The lint finds
such words and also checks that the token and class word are there.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

IDENTITY_WORD = "identity_word"
MISSING_TOKEN = "missing_token"
MISSING_CLASS_WORD = "missing_class_word"

_COLOURS = (
    "black|brown|red|sandy|grey|gray|silver|white|pink|blue|green|purple|dark|light|golden|"
    "copper|strawberry|honey|ash|dirty|platinum|jet|raven|chestnut|auburn|blond|blonde"
)
_PERSON = r"(?:man|men|woman|women|person|people|girl|boy|lady|guy|model|couple)"
_NATIONS = (
    "japanese|chinese|korean|vietnamese|thai|filipino|indonesian|mexican|italian|irish|"
    "french|german|spanish|russian|swedish|norwegian|nigerian|kenyan|ethiopian|brazilian|"
    "indian|pakistani|persian|turkish|greek|polish|ukrainian|american|british|scottish|"
    "asian|african|european|hispanic|arab|middle eastern|nordic|scandinavian|slavic|"
    "mediterranean|black|white|brown|native american|pacific islander"
)
# category -> pattern; matched case-insensitively on word boundaries.
IDENTITY_PATTERNS: Mapping[str, str] = {
    "hair": (
        rf"\b(?:(?:{_COLOURS}|short|long|curly|wavy|straight|braided|shoulder[- ]length|"
        r"cropped|messy|tousled|thick|thin)[- ]){1,3}hair(?:ed)?\b"
        r"|\b(?:blonde?|brunette|redhead(?:ed)?|ginger|auburn)\b|\bbald(?:ing)?\b"
    ),
    "eyes": (
        rf"\b(?:{_COLOURS}|hazel|amber|gentle|bright|almond|round|deep[- ]set|narrow|big|large|"
        r"sparkling|piercing)[- ](?:eyes|eyed)\b|\bheterochromia\b"
    ),
    "freckles": r"\bfreckle[sd]?\b|\bfreckly\b",
    "skin": (
        r"\b(?:(?:pale|fair|light|dark|tan|tanned|olive|porcelain|brown|black|white|ebony|"
        r"rosy|freckled|smooth|clear)[- ]){1,2}skin(?:ned)?\b|\bcomplexion\b|\bskin tone\b"
    ),
    "facial_hair": r"\bbeard(?:ed)?\b|\bmou?stache\b|\bstubble\b|\bgoatee\b|\bsideburns\b",
    "age": (
        r"\b\d+\s*-?\s*(?:years?|yrs?|y/?o)(?:[- ]old)?\b|\b(?:young|younger|old|older|elderly|"
        r"aged|middle[- ]aged|teen|teens|teenage|teenager|adolescent|child|kid|toddler|"
        r"infant|baby|senior|mature|youthful|wrinkled)\b"
        r"|\bin (?:his|her|their) (?:twenties|thirties|forties|fifties|sixties|[2-6]0s)\b"
    ),
    "ethnicity": (
        rf"\b(?:{_NATIONS})[- ]{_PERSON}\b|\b(?:caucasian|latina|latino|latinx|biracial|"
        r"mixed[- ]race|ethnic|ethnicity)\b"
    ),
    "gender": (
        r"\b(?:man|men|woman|women|male|female|boy|boys|girl|girls|guy|guys|gal|lady|ladies|"
        r"gentleman|gentlemen|masculine|feminine|husband|wife|mother|father)\b"
    ),
}
_COMPILED = {k: re.compile(v, re.IGNORECASE) for k, v in IDENTITY_PATTERNS.items()}


@dataclass(frozen=True)
class CaptionWarning:
    code: str  # identity_word | missing_token | missing_class_word
    category: str | None  # hair, eyes, freckles, skin, facial_hair, age, ethnicity, gender
    term: str | None  # the words found
    start: int | None  # character span in the caption
    end: int | None
    message: str


def _has_word(text: str, word: str) -> bool:
    return re.search(rf"(?<!\w){re.escape(word)}(?!\w)", text, re.IGNORECASE) is not None


def lint_caption(caption: str, token: str, class_word: str) -> list[CaptionWarning]:
    """Warnings for one caption, in reading order (missing token / class word first)."""
    warnings: list[CaptionWarning] = []
    if not _has_word(caption, token):
        warnings.append(
            CaptionWarning(
                MISSING_TOKEN,
                None,
                token,
                None,
                None,
                f"the trigger token {token!r} is not in the caption",
            )
        )
    if class_word and not _has_word(caption, class_word):
        warnings.append(
            CaptionWarning(
                MISSING_CLASS_WORD,
                None,
                class_word,
                None,
                None,
                f"the class word {class_word!r} is not in the caption",
            )
        )
    own = {class_word.lower(), class_word.lower() + "s", token.lower()}
    found = [
        (m.start(), m.end(), category, m.group(0))
        for category, pattern in _COMPILED.items()
        for m in pattern.finditer(caption)
        if not (category == "gender" and m.group(0).lower() in own)
    ]
    # Words inside a longer finding ("freckled" in "light freckled skin") count once, there.
    kept = [
        f
        for f in found
        if not any(
            o is not f and o[0] <= f[0] and f[1] <= o[1] and o[1] - o[0] > f[1] - f[0]
            for o in found
        )
    ]
    for start, end, category, term in sorted(kept):
        warnings.append(
            CaptionWarning(
                IDENTITY_WORD,
                category,
                term,
                start,
                end,
                f"{term!r} ({category}) describes who the character is: the LoRA ties it to "
                f"this word instead of to {token!r}; leave it out of training captions",
            )
        )
    return warnings


def lint_captions(captions: Mapping[str, str], token: str, class_word: str) -> dict[str, Any]:
    """Lint many captions (file -> caption): per-file warnings and counts per category."""
    per_file = {f: lint_caption(c, token, class_word) for f, c in captions.items()}
    counts: Counter[str] = Counter()
    for warnings in per_file.values():
        counts.update(w.category or w.code for w in warnings)
    return {
        "captions": len(captions),
        "with_warnings": sum(1 for w in per_file.values() if w),
        "counts": dict(sorted(counts.items())),
        "warnings": {f: [asdict(w) for w in ws] for f, ws in per_file.items() if ws},
    }
