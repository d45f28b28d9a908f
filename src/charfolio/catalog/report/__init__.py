"""The curation report: one self-contained HTML file per character (charts, contact sheets)."""

from charfolio.catalog.report.page import SECTIONS, render, write_report

__all__ = ["SECTIONS", "render", "write_report"]
