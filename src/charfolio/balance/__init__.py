"""Dataset balance (the method document specs/003): shot types, scene flags, the mix against
the recommended ranges, and crops that close the gaps."""

from charfolio.balance.analyze import BalanceRules, analyze_balance, balance_report, measure
from charfolio.balance.augment import augment_tier
from charfolio.balance.caption_framing import reframe_caption
from charfolio.balance.crops import plan_crop
from charfolio.balance.flags import FlagRules
from charfolio.balance.targets import DOCUMENT_TARGETS, Gap, Range, Targets
from charfolio.faces.shots import SHOT_TYPES, ShotRules, shot_type

__all__ = [
    "DOCUMENT_TARGETS",
    "SHOT_TYPES",
    "BalanceRules",
    "FlagRules",
    "Gap",
    "Range",
    "ShotRules",
    "Targets",
    "analyze_balance",
    "augment_tier",
    "balance_report",
    "measure",
    "plan_crop",
    "reframe_caption",
    "shot_type",
]
