"""The curation report: one self-contained HTML file per character (charts, contact sheets)."""

from charfolio.catalog.report.page import CURATION_REPORT_SECTIONS, render, write_report

__all__ = ["CURATION_REPORT_SECTIONS", "render", "write_report"]
