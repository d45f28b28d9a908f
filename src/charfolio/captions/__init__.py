"""Captions: the captioner registry, captioning of ingested folders, and caption lint."""

from charfolio.captions.lint import CaptionWarning, lint_caption, lint_captions
from charfolio.captions.registry import (
    CaptionContext,
    Captioner,
    create_captioner,
    register_captioner,
)

__all__ = [
    "CaptionContext",
    "CaptionWarning",
    "Captioner",
    "create_captioner",
    "lint_caption",
    "lint_captions",
    "register_captioner",
]
