"""The report page: header with the run's parameters, sections, inline CSS; one HTML file."""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from html import escape
from pathlib import Path
from typing import Any

from charfolio import __version__
from charfolio.catalog.report import charts, sheets
from charfolio.catalog.report.data import ReportData, load
from charfolio.catalog.report.style import CSS
from charfolio.catalog.report.thumbs import Thumbnails
from charfolio.core.atomic import write_text_atomic
from charfolio.core.config import load_schema
from charfolio.core.imaging import DEFAULT_MAX_PIXELS
from charfolio.core.layout import REVIEW_PORT, ratings_file, review_file
from charfolio.curate.selection import REJECT_REASONS, STAGES

PathLike = str | os.PathLike[str]

# Section ids are stable: links into the report and the tests rely on them.
CURATION_REPORT_SECTIONS: tuple[tuple[str, str], ...] = (
    ("summary", "Summary"),
    ("funnel", "Selection funnel"),
    ("quality", "Quality scores"),
    ("seeds", "Seed groups"),
    ("clusters", "Clusters"),
    ("tiers", "Tiers"),
    ("cluster-sheets", "Contact sheets by cluster"),
    ("tier-sheets", "Contact sheets by tier"),
    ("rejects", "Reject reasons"),
    ("selection-report", "Selection report"),
    ("review", "Review"),
)
# The review page `charfolio review` serves (charfolio.review's default port); it asks for the
# link with the token the command prints.
REVIEW_URL = f"http://127.0.0.1:{REVIEW_PORT}/"  # without the token it asks for it


def _fmt(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.3f}" if abs(value) < 10 else f"{value:,.1f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """Columns whose values are all numbers (or missing) are right-aligned."""
    numeric = [
        all(_is_number(row[i]) or row[i] is None for row in rows)
        and any(_is_number(row[i]) for row in rows)
        for i in range(len(header))
    ]
    head = "".join(
        f'<th class="{"num" * num}">{escape(h)}</th>'
        for h, num in zip(header, numeric, strict=True)
    )
    body = "".join(
        "<tr>"
        + "".join(
            f'<td class="{"num" * num}">{escape(_fmt(v))}</td>'
            for v, num in zip(row, numeric, strict=True)
        )
        + "</tr>"
        for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _distinct(rows: Sequence[Mapping[str, Any]], key: str) -> str:
    values = sorted({str(r[key]) for r in rows if r[key] is not None})
    return ", ".join(values) if values else "–"


def _duplicate_rule(params: dict[str, Any]) -> str:
    """The duplicate criteria in force, as the selection report records them."""
    dup = params.get("duplicate_distance")
    near = params.get("near_duplicates") or {}
    face, embedding = near.get("face_distance"), near.get("embedding_similarity")
    rules = [] if dup is None else [f"same bytes or pHash within {dup} bits"]
    if face is not None or embedding is not None:
        both = [
            *([f"face descriptors within {face:g}"] if face is not None else []),
            *([f"embeddings ≥ {embedding:g} cosine"] if embedding is not None else []),
        ]
        rules.append(" and ".join(both))
    return "; or ".join(rules) if rules else "not checked"


def _header(d: ReportData) -> str:
    params = d.selection["parameters"]
    t = d.thresholds
    rows = d.rows
    seeds = sorted({r["seed"] for r in rows})
    modes = Counter(r["mode"] for r in rows)
    collapse = d.selection.get("collapse") or {}
    contrast = f"≥ {t['min_contrast']:g}" + (
        f", ≤ {t['max_contrast']:g}" if t.get("max_contrast") is not None else ""
    )
    tiers = ", ".join(
        f"{name} ({'floor ' + format(floor, 'g') if floor is not None else 'no floor'})"
        for name, floor in params["tiers"].items()
    )
    facts = [
        (
            "images",
            f"{len(rows):,} in {len(seeds)} seed groups ("
            + ", ".join(f"{m} {n:,}" for m, n in sorted(modes.items()))
            + ")",
        ),
        (
            "generator",
            f"{_distinct(rows, 'backend')} · {_distinct(rows, 'model_id')} "
            f"({_distinct(rows, 'architecture')})",
        ),
        (
            "settings",
            f"{_distinct(rows, 'width')}×{_distinct(rows, 'height')} px, "
            f"{_distinct(rows, 'steps')} steps, guidance {_distinct(rows, 'guidance_scale')}, "
            f"{_distinct(rows, 'sampler')}",
        ),
        (
            "thresholds",
            (
                f"face sharpness ≥ {t['min_face_sharpness']:g} (no face: frame "
                if t.get("min_face_sharpness") is not None
                else "("
            )
            + f"sharpness ≥ {t['min_sharpness']:g}), contrast {contrast}, face "
            f"confidence ≥ {t['min_face_confidence']:g}, score ≥ {t['min_quality_score']:g}; "
            "the other gates on their histograms",
        ),
        ("duplicates", _duplicate_rule(params)),
        (
            "selection",
            f"{params['strategy']}, {params['per_cluster']} per cluster per round"
            + (f"; k = {collapse['k_used']}" if "k_used" in collapse else ""),
        ),
        ("tiers", tiers),
    ]
    items = "".join(f"<dt>{escape(k)}</dt><dd>{escape(v)}</dd>" for k, v in facts)
    nav = "".join(
        f'<a href="#{sid}">{escape(title)}</a>' for sid, title in CURATION_REPORT_SECTIONS
    )
    return (
        f'<header><div class="wrap"><p class="kicker">charfolio curation report</p>'
        f"<h1>{escape(d.character)}</h1><dl>{items}</dl></div></header>"
        f'<nav><div class="wrap">{nav}</div></nav>'
    )


def _card(label: str, value: str, sub: str = "", cls: str = "") -> str:
    return (
        f'<div class="card {cls}"><div class="label">{escape(label)}</div>'
        f'<div class="value">{escape(value)}</div><div class="sub">{escape(sub)}</div></div>'
    )


def _summary(d: ReportData) -> str:
    funnel = d.selection["funnel"]
    total = funnel["total"] or 1
    face = next((s for s in funnel["stages"] if s["stage"] == "face"), None)
    cards = [_card("generated", f"{funnel['total']:,}", "images")]
    if face is not None:
        cards.append(_card("face ok", f"{face['passed']:,}", f"{face['passed'] / total:.1%}"))
    cards.append(_card("passed", f"{funnel['passed']:,}", f"{(funnel['pass_rate'] or 0):.1%}"))
    for name in d.tier_names:
        tier = d.selection["tiers"][name]
        short = tier["short_by"] > 0
        sub = f"short by {tier['short_by']:,}" if short else "full"
        cards.append(_card(name, f"{tier['size']:,} / {tier['requested']:,}", sub, "warn" * short))
    collapse = d.selection.get("collapse")
    if collapse:
        cls = "" if collapse["verdict"] == "ok" else "warn"
        cards.append(_card("clusters", str(collapse.get("k_used", "–")), collapse["verdict"], cls))
    missing = sum(not r["exists"] for r in d.rows)
    if missing:
        cards.append(_card("missing files", f"{missing:,}", "at catalog time", "warn"))
    return f'<div class="cards">{"".join(cards)}</div>'


def _tiers(d: ReportData) -> str:
    rows = []
    for name in d.tier_names:
        tier = d.selection["tiers"][name]
        members = [r for r in d.rows if name in r["tiers"]]
        splits = Counter(
            e["split"] for r in members for e in r["tier_entries"] if e["tier"] == name
        )
        rows.append(
            [
                name,
                tier["requested"],
                tier["size"],
                tier["floor"],
                splits.get("train", 0),
                splits.get("val", 0),
                len({r["seed"] for r in members}),
                len({r["cluster"] for r in members}),
                tier["why_short"] or "",
            ]
        )
    header = [
        "tier",
        "requested",
        "size",
        "floor",
        "train",
        "val",
        "seeds",
        "clusters",
        "why short",
    ]
    return _table(header, rows)


def _stats_table(stats: Mapping[str, Mapping[str, Any]]) -> str:
    keys = ["count", "mean", "std", "min", "p25", "p50", "p75", "p90", "max"]
    return _table(
        ["images", *keys], [[name, *(s.get(k) for k in keys)] for name, s in stats.items()]
    )


def _selection_numbers(d: ReportData) -> str:
    sel = d.selection
    reasons = sel["funnel"]["reasons"]
    stage_of = {r: stage for stage, rs in STAGES.items() for r in rs}
    reason_rows = [[stage_of.get(r, "–"), r, reasons[r]] for r in REJECT_REASONS if r in reasons]
    per_mode = sel.get("per_mode", {})
    groups = list(per_mode)
    modes = sorted({m for g in per_mode.values() for m in g})
    mode_rows = [[m, *(per_mode[g].get(m, 0) for g in groups)] for m in modes]
    columns = [
        "<div><h3>Rejects by reason</h3>"
        + _table(["stage", "reason", "images"], reason_rows)
        + "</div>",
        "<div><h3>Images per mode</h3>" + _table(["mode", *groups], mode_rows) + "</div>",
    ]
    collapse = sel.get("collapse")
    if collapse:
        keys = (
            "verdict",
            "k_requested",
            "k_used",
            "n_images",
            "largest_cluster_share",
            "near_identical_share",
            "mean_pairwise_cosine",
        )
        rows = [[k.replace("_", " "), collapse[k]] for k in keys if k in collapse]
        columns.append(
            "<div><h3>Cluster collapse check</h3>" + _table(["measure", "value"], rows) + "</div>"
        )
    return (
        "<h3>Quality score statistics</h3>"
        + _stats_table(sel["scores"])
        + f'<div class="columns">{"".join(columns)}</div>'
    )


def _decisions_applied(d: ReportData) -> str:
    """What the reviewer's decisions did in this selection (selection_report's `review`)."""
    review = d.selection.get("review") or {}
    applied = review.get("applied") or {}
    if not applied and not review.get("stale"):
        return "<p>No reviewer decisions were applied to this selection.</p>"
    counts = ", ".join(f"{n} {decision}" for decision, n in sorted(applied.items())) or "none"
    stale = review.get("stale") or []
    note = (
        f" {len(stale)} stale (the image changed since it was reviewed), not applied: review "
        f"{'it' if len(stale) == 1 else 'them'} again."
        if stale
        else ""
    )
    return (
        f"<p>Reviewer decisions applied: {escape(counts)}; {review.get('overruled', 0)} overruled "
        f"the funnel's verdict (<code>charfolio audit reviews</code> lists them).{escape(note)}</p>"
    )


def _review(d: ReportData, review_dir: str) -> str:
    command = f"charfolio review --config CONFIG... --character {d.character}"
    decisions = f"{review_file(review_dir, d.character)}"
    ratings = f"{ratings_file(review_dir, d.character)}"
    return (
        f"{_decisions_applied(d)}"
        '<p class="lead">Look through the images yourself: accept, reject or star them, and '
        "rate storyboard frames and checkpoint images 1-5. Start the review page with</p>"
        f"<pre><code>{escape(command)}</code></pre>"
        "<p>(CONFIG: the config files you run snakemake with, e.g. config/demo.yaml) and open "
        "the link with a token that it prints first; the page, "
        f'<a href="{REVIEW_URL}">{REVIEW_URL}</a>, asks for it.</p><p>Decisions go to '
        f"<code>{escape(decisions)}</code> and are read by selection on the next snakemake "
        "run: accept keeps an image whatever the thresholds, reject drops it, star keeps it "
        "and ranks it first in its cluster; tiers, catalog and this report follow, never "
        f"generation or measurements. Ratings go to <code>{escape(ratings)}</code> and show "
        "in the ablation and checkpoint reports.</p>"
    )


def render(
    d: ReportData,
    thumbs: Thumbnails,
    per_cluster: int,
    per_tier: int,
    per_reason: int,
    review_dir: str,
) -> str:
    builders: dict[str, Callable[[], str]] = {
        "summary": lambda: _summary(d),
        "funnel": lambda: charts.funnel_section(d),
        "quality": lambda: charts.quality_section(d),
        "seeds": lambda: charts.seeds_section(d),
        "clusters": lambda: charts.clusters_section(d),
        "tiers": lambda: _tiers(d),
        "cluster-sheets": lambda: sheets.cluster_sheets(d, thumbs, per_cluster),
        "tier-sheets": lambda: sheets.tier_sheets(d, thumbs, per_tier),
        "rejects": lambda: sheets.reject_examples(d, thumbs, per_reason),
        "selection-report": lambda: _selection_numbers(d),
        "review": lambda: _review(d, review_dir),
    }
    body = "".join(
        f'<section id="{sid}"><h2>{escape(title)}</h2>{builders[sid]()}</section>'
        for sid, title in CURATION_REPORT_SECTIONS
    )
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(d.character)} · charfolio report</title><style>{CSS}</style></head>"
        f'<body>{_header(d)}<main class="wrap">{body}</main>'
        f"<footer>charfolio {escape(__version__)} · from catalog.parquet and "
        f"selection_report.json</footer></body></html>\n"
    )


def write_report(
    character_root: PathLike | None,
    out_html: PathLike,
    *,
    catalog: PathLike | None = None,
    selection_report: PathLike | None = None,
    images_root: PathLike | None = None,
    thumb_size: int = 112,
    per_cluster: int = 16,
    per_tier: int = 40,
    per_reason: int = 6,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    review_dir: str | None = None,
) -> Path:
    """Write a self-contained HTML report of one character's curation to `out_html`.

    Reads `character_root`/catalog.parquet and selection_report.json unless `catalog` and
    `selection_report` name other files; images are read from `images_root` (default the
    character folder). Contact sheets show at most `per_cluster`, `per_tier` and
    `per_reason` thumbnails of `thumb_size` pixels each and say how many are left out; an
    image above `max_pixels` (the stages' quality.max_pixels) is a placeholder. The Review
    section names the review files in `review_dir` (the config's; None: the schema default).
    """
    data = load(character_root, catalog, selection_report, images_root)
    thumbs = Thumbnails(data.images_root, thumb_size, max_pixels=max_pixels)
    if review_dir is None:
        review_dir = load_schema("config")["properties"]["review_dir"]["default"]
    html = render(data, thumbs, per_cluster, per_tier, per_reason, review_dir)
    write_text_atomic(out_html, html)
    return Path(out_html)
