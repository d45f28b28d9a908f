"""charfolio: from a character description to a curated image portfolio and a character LoRA."""

__version__ = "0.1.0"
