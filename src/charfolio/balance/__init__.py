"""Dataset balance (the method document specs/003): shot types, scene flags, the mix against
the recommended ranges, crops that close the gaps, targeted modifiers and captions."""

from charfolio.balance.analyze import BalanceRules, analyze_balance, balance_report, measure
from charfolio.balance.augment import augment_tier, plan_crop, reframe_caption
from charfolio.balance.caption_lint import CaptionWarning, lint_caption, lint_captions
from charfolio.balance.captions import (
    CaptionContext,
    Captioner,
    create_captioner,
    register_captioner,
)
from charfolio.balance.flags import FlagRules
from charfolio.balance.refine import (
    TargetedModifier,
    estimate_pass_rate,
    next_round_size,
    rounds_needed,
    should_stop,
    targeted_modifiers,
    write_targeted_scenarios,
)
from charfolio.balance.shots import SHOT_TYPES, ShotRules, shot_type
from charfolio.balance.targets import DOCUMENT_TARGETS, Gap, Range, Targets

__all__ = [
    "DOCUMENT_TARGETS",
    "SHOT_TYPES",
    "BalanceRules",
    "CaptionContext",
    "CaptionWarning",
    "Captioner",
    "FlagRules",
    "Gap",
    "Range",
    "ShotRules",
    "TargetedModifier",
    "Targets",
    "analyze_balance",
    "augment_tier",
    "balance_report",
    "create_captioner",
    "estimate_pass_rate",
    "lint_caption",
    "lint_captions",
    "measure",
    "next_round_size",
    "plan_crop",
    "reframe_caption",
    "register_captioner",
    "rounds_needed",
    "shot_type",
    "should_stop",
    "targeted_modifiers",
    "write_targeted_scenarios",
]
