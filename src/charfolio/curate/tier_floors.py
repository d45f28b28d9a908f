"""Tier score floors: the methodology's defaults, and the rule they obey (never rising).

Tier n is the next smaller tier plus the best others meeting tier n's floor, so a larger
tier can only contain the smaller ones when its floor is no higher than theirs. Kept free
of heavy imports: config checks run it at DAG time in every job, selection on its data.
The default floors are written once, as the config schema's `curation.tiers` default.
"""

from __future__ import annotations

from collections.abc import Mapping

from charfolio.core.config import load_schema


def default_tiers() -> dict[int, float | None]:
    """Tier size -> minimum quality score (None: no floor): the schema's curation.tiers."""
    curation = load_schema("config")["properties"]["curation"]["properties"]
    return {int(t["size"]): t.get("floor") for t in curation["tiers"]["default"]}


def methodology_floor(size: int) -> float | None:
    """The default floor of the smallest default tier at least `size` big (None past the
    largest floored one): floors then never rise with size, which nested tiers need."""
    return next((f for n, f in sorted(default_tiers().items()) if n >= size), None)


def check_tiers(tiers: Mapping[int, float | None]) -> list[tuple[int, float | None]]:
    """Tiers sorted by size, checked to have positive sizes and floors that never rise."""
    ordered = sorted((int(n), floor) for n, floor in tiers.items())
    previous: tuple[int, float] | None = None  # the next smaller tier and its floor
    for n, floor in ordered:
        if n < 1:
            raise ValueError(f"tier size must be positive, got {n}")
        if floor is not None and not 0.0 <= floor <= 1.0:
            raise ValueError(f"tier {n} floor {floor} is outside [0, 1]")
        low = float("-inf") if floor is None else floor
        if previous is not None and low > previous[1]:
            smaller, limit = previous
            shown = "no floor" if limit == float("-inf") else f"floor {limit}"
            raise ValueError(
                f"tier {n} has floor {floor}, above tier {smaller}'s {shown}; floors must not "
                f"rise with tier size, or larger tiers could not contain the smaller ones"
            )
        previous = (n, low)
    return ordered
