"""Curation selection: threshold presets, the reject funnel, ranking strategies, tiers, report."""

from charfolio.curate.selection import (
    REJECT_REASONS,
    SelectionResult,
    SelectionRow,
    build_tiers,
    select,
)
from charfolio.curate.selection_io import read_selection, select_files, write_selection
from charfolio.curate.selection_report import score_stats, selection_report
from charfolio.curate.strategies import DEFAULT_STRATEGY, STRATEGIES, Candidate, rank
from charfolio.curate.thresholds import (
    METHODOLOGY_MAX_CONTRAST,
    PRESETS,
    Thresholds,
    thresholds_from_config,
)
from charfolio.curate.tier_floors import default_tiers

__all__ = [
    "DEFAULT_STRATEGY",
    "METHODOLOGY_MAX_CONTRAST",
    "PRESETS",
    "REJECT_REASONS",
    "STRATEGIES",
    "Candidate",
    "SelectionResult",
    "SelectionRow",
    "Thresholds",
    "build_tiers",
    "default_tiers",
    "rank",
    "read_selection",
    "score_stats",
    "select",
    "select_files",
    "selection_report",
    "thresholds_from_config",
    "write_selection",
]
