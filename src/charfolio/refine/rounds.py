"""Targeted refinement rounds (the method's Strategy B) as files a workflow chains.

Round 0 is the tier as analysed: its images form the pool, and `fill_plan` fixes the final
size S and how many images of each shot type to add (the curated target, S - n). Round r
(r >= 1) reads only round r-1's files:

    round_{r}/scenarios.parquet + plan.json   targeted modifiers for the quotas still open,
                                              as many as the pass rate so far suggests
    round_{r}/images/ + images.parquet        one image per modifier (the image backend)
    round_{r}/curated.parquet + pool.parquet  the gates; accepted fill-ins join the pool
    round_{r}/round.json                      gaps before and after, counts, why it stopped

Once the target is reached (or there was no gap), every later round plans zero images, so
generation stops and the remaining rounds are no-ops that write empty files. Only shot
types are aimed at: of the flags, multi-character and occlusion images cannot pass the
faces stage's one-face gate, and complex backgrounds come with the modifiers' settings.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa

from charfolio.balance.analyze import BalanceRules, balance_report
from charfolio.balance.targets import Targets
from charfolio.core import tables
from charfolio.core.atomic import write_text_atomic
from charfolio.core.config import CharacterPrompt
from charfolio.core.layout import tier_manifest
from charfolio.core.paths import portable_path
from charfolio.faces.shots import SHOT_TYPES, UNKNOWN
from charfolio.generation.distribution import ImageSpec
from charfolio.generation.shard import render_specs
from charfolio.refine.planning import (
    estimate_pass_rate,
    fill_plan,
    modifier_rows,
    next_round_size,
    rounds_needed,
    targeted_modifiers,
)
from charfolio.scenarios.validation import normalise

PathLike = str | os.PathLike[str]
ROUND_VERSION = 1
MODE = "refine"  # the IMAGES `mode` of fill-ins
AIM_PREFIX = "targeted:"  # SCENARIOS `model` of a targeted modifier: targeted:{aim}


def read_json(path: PathLike) -> dict[str, Any]:
    return json.loads(Path(path).read_text())


def write_json(path: PathLike, data: Mapping[str, Any]) -> None:
    write_text_atomic(path, json.dumps(data, indent=2, sort_keys=True) + "\n")


def as_targets(targets: Targets | Mapping[str, Any] | None) -> Targets:
    return targets if isinstance(targets, Targets) else Targets.from_config(targets)


def as_rules(rules: BalanceRules | Mapping[str, Any] | None) -> BalanceRules:
    return rules if isinstance(rules, BalanceRules) else BalanceRules.from_config(rules)


def shot_counts(rows: Sequence[Mapping[str, Any]]) -> dict[str, int]:
    return {k: sum(1 for r in rows if r["shot_type"] == k) for k in SHOT_TYPES}


def pool_state(
    rows: Sequence[Mapping[str, Any]], targets: Targets, rules: BalanceRules
) -> dict[str, Any]:
    """The pool's mix against the targets (every pool image passed the face gate)."""
    return balance_report(rows, targets, rules, gated=True)


def start_refinement(
    tier_dir: PathLike,
    balance_table: PathLike,
    duplicates_path: PathLike,
    out_pool: PathLike,
    out_report: PathLike,
    targets: Targets | Mapping[str, Any] | None = None,
    rules: BalanceRules | Mapping[str, Any] | None = None,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Round 0: the tier's BALANCE rows as the pool, and the fill-in target from its gaps."""
    targets, rules = as_targets(targets), as_rules(rules)
    files = tables.read_table(tier_manifest(tier_dir), tables.TIER_MANIFEST)
    balance = tables.rows_by_file(
        tables.read_table(balance_table, tables.BALANCE).to_pylist(), balance_table, "balance"
    )
    hashes = tables.rows_by_file(
        tables.read_table(duplicates_path, tables.DUPLICATES).to_pylist(),
        duplicates_path,
        "hash_images",
    )
    pool = []
    for file in files.column("file").to_pylist():
        if file not in balance:
            raise ValueError(
                f"{balance_table} has no row for {file} of {tier_dir}; rerun analyze_balance"
            )
        digest = hashes.get(file, {})
        pool.append(
            {
                **balance[file],
                "origin": "tier",
                "sha256": digest.get("sha256"),
                "phash": digest.get("phash"),
            }
        )
    tables.write_table(out_pool, pool, tables.REFINE_POOL)
    known = [r for r in pool if r["shot_type"] != UNKNOWN]
    size, quotas = fill_plan(shot_counts(known), len(known), targets.shot_types)
    target = size - len(known)
    report = {
        "version": ROUND_VERSION,
        "round": 0,
        "tier": portable_path(tier_dir),
        "images": len(pool),
        "final_size": size,
        "target": target,
        "quotas": quotas,
        "accepted_total_by_shot": dict.fromkeys(SHOT_TYPES, 0),
        "curated_total": 0,
        "generated_total": 0,
        "modifiers_seen": [],
        "target_reached": target == 0,
        "after": pool_state(pool, targets, rules),
    }
    write_json(out_report, report)
    wanted = ", ".join(f"{k} {n}" for k, n in quotas.items() if n) or "nothing"
    log(f"refine: {len(known)} tier images; {target} fill-ins to curate ({wanted}) -> {size}")
    return report


def remaining_quotas(previous: Mapping[str, Any]) -> dict[str, int]:
    """Shot type -> fill-ins still to curate, from a round report."""
    done = previous["accepted_total_by_shot"]
    return {k: max(0, n - done.get(k, 0)) for k, n in previous["quotas"].items()}


def plan_round(
    previous_report: PathLike,
    round_number: int,
    out_scenarios: PathLike,
    out_plan: PathLike,
    images_per_round: int,
    pass_rate_prior: float = 0.5,
    seed: int = 0,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Round r's modifiers from round r-1's report: sized by the pass rate so far, split over
    the shot-type quotas still open; zero once the target is reached."""
    if round_number < 1:
        raise ValueError(f"refinement rounds are numbered from 1, got {round_number}")
    previous = read_json(previous_report)
    if previous["round"] != round_number - 1:
        raise ValueError(
            f"{previous_report} is round {previous['round']}, not {round_number - 1}; "
            f"rerun the rounds in order"
        )
    remaining = remaining_quotas(previous)
    target, curated = int(previous["target"]), int(previous["curated_total"])
    generated = int(previous["generated_total"])
    pass_rate = estimate_pass_rate(generated, curated, prior=pass_rate_prior)
    reason = None
    if target == 0:
        reason = "no gap: the tier meets every shot-type minimum"
    elif not any(remaining.values()):
        reason = (
            f"target reached: {curated} of {target} fill-ins curated by round {round_number - 1}"
        )
    size = 0 if reason else next_round_size(curated, target, pass_rate, images_per_round)
    seen = list(previous["modifiers_seen"])
    modifiers = targeted_modifiers(remaining, size, set(seen), seed + round_number) if size else []
    tables.write_table(out_scenarios, modifier_rows(modifiers, len(seen)), tables.SCENARIOS)
    plan = {
        "version": ROUND_VERSION,
        "round": round_number,
        "target": target,
        "final_size": previous["final_size"],
        "quotas_remaining": remaining,
        "curated_before": curated,
        "generated_before": generated,
        "pass_rate": pass_rate,
        "size": size,
        "rounds_expected": rounds_needed(target, images_per_round, pass_rate, curated)
        if target
        else 0,
        "modifiers": [{"text": m.text, "aim": m.aim, "category": m.category} for m in modifiers],
        "stopped_early": reason is not None,
        "stop_reason": reason,
        "gaps_before": previous["after"]["gaps"],
    }
    write_json(out_plan, plan)
    if reason:
        log(f"refine round {round_number}: nothing to generate ({reason})")
    else:
        aims = ", ".join(f"{k} {n}" for k, n in remaining.items() if n)
        log(
            f"refine round {round_number}: {size} images for {aims} still open "
            f"(pass rate {pass_rate:.2f}, {curated} of {target} curated so far)"
        )
    return plan


def fill_in_seed(base_seed: int, tier: int, round_number: int, index: int) -> int:
    """A fill-in's generator seed: stable, and apart from the seed groups' base_seed + k."""
    key = f"refine:{base_seed}:tier_{tier}:round_{round_number}:{index}".encode()
    return int.from_bytes(hashlib.sha256(key).digest()[:4], "big")


def round_specs(
    character: CharacterPrompt, scenarios_path: PathLike, tier: int, round_number: int
) -> list[ImageSpec]:
    """One image per targeted modifier of a round's SCENARIOS table."""
    rows = tables.read_table(scenarios_path, tables.SCENARIOS).to_pylist()
    specs = []
    for i, row in enumerate(sorted(rows, key=lambda r: r["index"])):
        if not str(row["model"]).startswith(AIM_PREFIX):
            raise ValueError(
                f"{scenarios_path}: row {row['index']} is not a targeted modifier "
                f"(model {row['model']!r}); rerun plan_refinement"
            )
        aim = row["model"][len(AIM_PREFIX) :]
        seed = fill_in_seed(character.base_seed, tier, round_number, i)
        specs.append(
            ImageSpec(
                file_name=f"fill_r{round_number:02d}_{i + 1:03d}_{aim}.png",
                seed=seed,
                seed_group=round_number,
                mode=MODE,
                mode_index=i + 1,
                scenario_index=row["index"],
                scenario=row["text"],
                category=row["category"],
                variant=0,
                generator_seed=seed,
                prompt=character.base_prompt + row["text"],
            )
        )
    return specs


def generate_round(
    character: CharacterPrompt,
    scenarios_path: PathLike,
    tier: int,
    round_number: int,
    generation: Mapping[str, Any],
    out_dir: PathLike,
    out_table: PathLike,
    character_root: PathLike,
    model_cache: str | None = None,
    log: Callable[[str], None] = print,
) -> pa.Table:
    """Render a round's fill-ins with the configured image backend (none when it planned 0)."""
    return render_specs(
        round_specs(character, scenarios_path, tier, round_number),
        character=character,
        generation=generation,
        out_dir=out_dir,
        out_table=out_table,
        character_root=character_root,
        label=f"{character.name} tier_{tier} refine round {round_number}",
        model_cache=model_cache,
        log=log,
    )


def aim_of(plan: Mapping[str, Any]) -> dict[str, str]:
    """Modifier text -> the shot type it asked for."""
    return {m["text"]: m["aim"] for m in plan["modifiers"]}


def seen_after(previous: Mapping[str, Any], plan: Mapping[str, Any]) -> list[str]:
    return [*previous["modifiers_seen"], *(normalise(m["text"]) for m in plan["modifiers"])]
