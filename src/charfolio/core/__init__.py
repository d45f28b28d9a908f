"""Shared by every stage: tables, imaging, atomic writes, config loading, progress, the results layout."""
