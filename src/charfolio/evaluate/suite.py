"""The standard prompt suite a LoRA's checkpoints are compared on (specs 003, "test suite").

Five categories probe what a character LoRA typically gets wrong: close-ups (what most
training sets over-represent), medium and full-body shots (body proportions), other people
in the frame (identity bleeding) and busy backgrounds (the character dissolving into the
scene). Every prompt starts with the trigger token and class word, e.g.

    nova woman, full body shot, head to toe, jogging along a park path, golden hour light

Prompts are deterministic: a category's scenes and lights are shuffled by a
`random.Random` seeded with "{seed}:{category}" (string seeds are hashed with SHA-512, so
this does not depend on PYTHONHASHSEED), and the first n (scene, light) pairs are taken so
no scene repeats before every scene is used and no pair repeats at all. The image seed of
prompt i of a category is `seed + 1000 * position of the category in SUITE_CATEGORIES + i`, so a
prompt keeps its text and seed when other categories are added or removed.

`description` is the prompt without the trigger token ("a woman, full body shot, ..."):
prompt adherence is scored against it, since a made-up token means nothing to CLIP.
"""

from __future__ import annotations

import os
import random
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import pyarrow as pa

from charfolio.core import tables

SUITE_CATEGORIES = ("close_up", "medium", "full_body", "multi_character", "complex_background")
SEEDS_PER_CATEGORY = 1000  # seed block of a category; prompts_per_category stays below it

FRAMING: dict[str, str] = {
    "close_up": "close-up portrait, head and shoulders",
    "medium": "medium shot, waist up",
    "full_body": "full body shot, head to toe",
    "multi_character": "medium wide shot with other people",
    "complex_background": "wide shot in a detailed busy scene",
}

SCENES: dict[str, tuple[str, ...]] = {
    "close_up": (
        "looking at the camera with a calm expression",
        "laughing with eyes crinkled",
        "soft smile, looking over the shoulder",
        "serious expression, slight head tilt",
        "surprised expression, raised eyebrows",
        "thoughtful look, chin resting on a hand",
        "three-quarter view, gentle smile",
        "profile view, eyes closed",
        "wind in the hair, squinting in the sun",
        "neutral expression against a plain studio backdrop",
        "wearing reading glasses, glancing up from a book",
        "confident smirk, arms out of frame",
    ),
    "medium": (
        "sitting at a cafe table holding a cup of coffee",
        "chopping vegetables at a kitchen counter",
        "leaning against a brick wall with arms crossed",
        "typing on a laptop at a desk",
        "holding an umbrella on a rainy street",
        "browsing books between library shelves",
        "painting at an easel",
        "talking on the phone beside a window",
        "eating noodles at a street food stall",
        "adjusting a camera on a tripod",
        "playing an acoustic guitar on a sofa",
        "carrying grocery bags out of a shop",
    ),
    "full_body": (
        "walking down a city sidewalk",
        "standing barefoot at the waterline of a beach",
        "jogging along a park path",
        "climbing a flight of stone stairs",
        "riding a bicycle on a country road",
        "dancing alone in an empty studio",
        "hiking a mountain trail with a backpack",
        "standing in an open doorway",
        "skateboarding across a plaza",
        "stretching on a yoga mat",
        "waiting on a train platform with a suitcase",
        "kicking a football on a grass pitch",
    ),
    "multi_character": (
        "laughing with a friend at a dinner table",
        "shaking hands with a colleague in an office",
        "walking arm in arm with a friend through a market",
        "playing chess against an old man in a park",
        "taking a selfie with three friends",
        "talking with a shopkeeper across a counter",
        "dancing with a partner at a party",
        "sitting among classmates in a lecture hall",
        "high-fiving a teammate on a basketball court",
        "sharing a picnic with family on a lawn",
        "being interviewed by a reporter holding a microphone",
        "listening to a street musician among a small crowd",
    ),
    "complex_background": (
        "in a crowded night market under neon signs",
        "in a busy train station concourse",
        "in a dense jungle with hanging vines",
        "in a cluttered workshop full of tools",
        "at a street festival with lanterns and confetti",
        "in a flower field with mountains behind",
        "in a library with floor-to-ceiling bookshelves",
        "on a rooftop overlooking a city skyline",
        "on a rainy street with reflections and traffic",
        "inside a greenhouse packed with plants",
        "in a busy restaurant kitchen full of steam and pans",
        "in an antique shop crammed with objects",
    ),
}

LIGHTS = (
    "soft daylight",
    "golden hour light",
    "overcast light",
    "warm indoor light",
    "window light",
    "evening light",
    "bright midday sun",
    "soft studio light",
)

SUITE = pa.schema(
    [
        pa.field("prompt_id", pa.string(), nullable=False),  # e.g. close_up_01
        pa.field("category", pa.string(), nullable=False),
        pa.field("index", pa.int32(), nullable=False),  # 1-based within the category
        pa.field("prompt", pa.string(), nullable=False),  # rendered: trigger token first
        pa.field("description", pa.string(), nullable=False),  # adherence text: no token
        pa.field("seed", pa.int64(), nullable=False),  # the same for every checkpoint
    ],
    metadata={"charfolio.table": "checkpoint_suite"},
)


@dataclass(frozen=True)
class SuitePrompt:
    prompt_id: str
    category: str
    index: int
    prompt: str
    description: str
    seed: int


def max_prompts_per_category(category: str) -> int:
    return len(SCENES[category]) * len(LIGHTS)


def _check(categories: Sequence[str], per_category: int, seed: int) -> None:
    unknown = [c for c in categories if c not in SUITE_CATEGORIES]
    if unknown:
        raise ValueError(
            f"evaluation.categories: unknown {unknown}; use some of {', '.join(SUITE_CATEGORIES)}"
        )
    if len(set(categories)) != len(categories):
        raise ValueError(f"evaluation.categories lists a category twice: {list(categories)}")
    limit = min(SEEDS_PER_CATEGORY, *(max_prompts_per_category(c) for c in categories))
    if not 1 <= per_category <= limit:
        raise ValueError(
            f"evaluation.prompts_per_category is {per_category}; use 1 to {limit} "
            f"(distinct scene and light pairs per category)"
        )
    if seed < 0:
        raise ValueError(f"evaluation.seed is {seed}; use a seed >= 0")


def category_prompts(
    token: str, class_word: str, category: str, per_category: int, seed: int
) -> list[SuitePrompt]:
    """The `per_category` prompts of one category (see the module docstring)."""
    _check([category], per_category, seed)
    rng = random.Random(f"{seed}:{category}")
    scenes = list(SCENES[category])
    lights = list(LIGHTS)
    rng.shuffle(scenes)
    rng.shuffle(lights)
    base_seed = seed + SEEDS_PER_CATEGORY * SUITE_CATEGORIES.index(category)
    prompts = []
    for i in range(per_category):
        # Scene i mod S with light (i + i // S) mod L: pairs are distinct for i < S * L.
        scene = scenes[i % len(scenes)]
        light = lights[(i + i // len(scenes)) % len(lights)]
        shot = f"{FRAMING[category]}, {scene}, {light}"
        prompts.append(
            SuitePrompt(
                prompt_id=f"{category}_{i + 1:02d}",
                category=category,
                index=i + 1,
                prompt=f"{token} {class_word}, {shot}",
                description=f"a {class_word}, {shot}",
                seed=base_seed + i,
            )
        )
    return prompts


def build_suite(
    token: str,
    class_word: str,
    categories: Sequence[str] = SUITE_CATEGORIES,
    per_category: int = 10,
    seed: int = 9000,
) -> list[SuitePrompt]:
    """Every category's prompts, categories in the order given (the report's row order).

    `token` and `class_word` are the character's (charfolio.core.config.Character).
    """
    if not token.strip() or not class_word.strip():
        raise ValueError(
            f"the prompt suite needs a trigger token and class word, got "
            f"{token!r} and {class_word!r}; set them in the character file"
        )
    _check(categories, per_category, seed)
    return [
        p for c in categories for p in category_prompts(token, class_word, c, per_category, seed)
    ]


def make_suite(
    out_path: str | os.PathLike[str], token: str, class_word: str, evaluation: Mapping[str, Any]
) -> list[SuitePrompt]:
    """Build the suite the config's `evaluation` section asks for and write it as Parquet."""
    suite = build_suite(
        token,
        class_word,
        evaluation.get("categories", SUITE_CATEGORIES),
        evaluation.get("prompts_per_category", 10),
        evaluation.get("seed", 9000),
    )
    write_suite(out_path, suite)
    return suite


def write_suite(path: str | os.PathLike[str], suite: Sequence[SuitePrompt]) -> pa.Table:
    return tables.write_table(path, [asdict(p) for p in suite], SUITE)


def read_suite(path: str | os.PathLike[str]) -> list[SuitePrompt]:
    rows = tables.read_table(path, SUITE).to_pylist()
    if not rows:
        raise ValueError(f"{path}: the prompt suite is empty; rerun the make_checkpoint_suite rule")
    return [SuitePrompt(**row) for row in rows]
