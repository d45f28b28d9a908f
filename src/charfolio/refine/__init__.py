"""Refinement rounds (specs/003): targeted scenarios for the balance gaps, generated, curated
and merged into a refined tier."""

from charfolio.refine.planning import (
    TargetedModifier,
    estimate_pass_rate,
    next_round_size,
    rounds_needed,
    should_stop,
    targeted_modifiers,
    write_targeted_scenarios,
)

__all__ = [
    "TargetedModifier",
    "estimate_pass_rate",
    "next_round_size",
    "rounds_needed",
    "should_stop",
    "targeted_modifiers",
    "write_targeted_scenarios",
]
