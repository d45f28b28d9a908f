"""Contact sheets: thumbnails per cluster, per tier and per reject reason, each capped."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from html import escape
from typing import Any

from charfolio.catalog.report.data import ReportData
from charfolio.catalog.report.thumbs import Thumbnails
from charfolio.curate.selection import REJECT_REASONS

Row = dict[str, Any]


def _score(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f}"


def _images(n: int) -> str:
    return f"{n:,} image" + ("s" if n != 1 else "")


def _measure(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}"


def _why(row: Row) -> str:
    """The measurement behind a reject reason, for the thumbnail caption."""
    reason = row["reject_reason"]
    if reason == "low_sharpness":
        return f"sharpness {row['sharpness']:.1f}"
    if reason in ("low_contrast", "high_contrast"):
        return f"contrast {row['contrast']:.1f}"
    if reason == "low_face_confidence":
        return f"face {_score(row['face_confidence'])}"
    if reason == "low_quality_score":
        return f"score {_score(row['quality_score'])}"
    if reason == "duplicate" and row["duplicate_kind"] == "face_embedding":
        face, emb = row["duplicate_face_distance"], row["duplicate_embedding_similarity"]
        return f"dup · face {_measure(face)} · emb {_measure(emb)}"
    if reason == "duplicate":
        return f"dup · {row['duplicate_distance']} bits"
    if reason in ("multiple_faces", "partial_face") and row["n_faces"] is not None:
        return f"{row['n_faces']} face" + ("s" if row["n_faces"] != 1 else "")
    return f"score {_score(row['quality_score'])}"


def _tooltip(row: Row) -> str:
    parts = [
        row["file"],
        f"seed {row['seed']}",
        f"{row['mode']}" + (f": {row['scenario'].strip(' ,')}" if row["scenario"] else ""),
        f"score {_score(row['quality_score'])}",
        f"cluster {row['cluster']}" if row["cluster"] is not None else "not clustered",
        row["verdict"] + (f" ({row['reject_reason']})" if row["reject_reason"] else ""),
    ]
    if row["duplicate_of"]:
        parts.append(f"duplicate of {row['duplicate_of']} ({row['duplicate_kind']})")
    return "\n".join(parts)


def thumb(row: Row, thumbs: Thumbnails, caption: str, extra_class: str = "") -> str:
    uri = thumbs.uri(row["file"])
    cls = f"thumb {row['verdict']} {extra_class}".strip()
    if uri is None:
        picture = '<div class="missing">missing</div>'
    else:
        picture = f'<img src="{uri}" alt="{escape(row["file"])}">'
    return (
        f'<figure class="{cls}" title="{escape(_tooltip(row))}">{picture}'
        f"<figcaption>{escape(caption)}</figcaption></figure>"
    )


def sheet(
    rows: Sequence[Row],
    thumbs: Thumbnails,
    cap: int,
    caption: Callable[[Row], str],
    classes: Callable[[Row], str] = lambda _: "",
) -> str:
    """Up to `cap` thumbnails in a grid, and how many were left out."""
    shown = "".join(thumb(r, thumbs, caption(r), classes(r)) for r in rows[:cap])
    more = len(rows) - cap
    note = f'<p class="more">and {more:,} more not shown</p>' if more > 0 else ""
    return f'<div class="sheet">{shown}</div>{note}'


def _ranked_caption(row: Row) -> str:
    return f"#{row['rank']} · {_score(row['quality_score'])}"


def cluster_sheets(d: ReportData, thumbs: Thumbnails, cap: int) -> str:
    """Each cluster's members, most typical first; rejected ones dimmed with their reason."""
    by_cluster: dict[int, list[Row]] = {}
    for r in d.rows:
        if r["cluster"] is not None:
            by_cluster.setdefault(r["cluster"], []).append(r)
    if not by_cluster:
        return '<p class="lead">No images were clustered.</p>'
    parts = [
        '<p class="lead">Members nearest the cluster centre first; rejected images are '
        "dimmed and captioned with their reason.</p>"
    ]
    for cluster in sorted(by_cluster):
        rows = sorted(by_cluster[cluster], key=lambda r: (r["cluster_position"] or 0, r["file"]))
        passed = sum(r["verdict"] == "passed" for r in rows)

        def caption(r: Row) -> str:
            return _ranked_caption(r) if r["rank"] else (r["reject_reason"] or "").replace("_", " ")

        parts.append(
            f'<h3 id="cluster-{cluster}">cluster {cluster} '
            f'<span class="dim">{_images(len(rows))}, {passed:,} passed</span></h3>'
            + sheet(rows, thumbs, cap, caption, lambda r: "dimmed" * (r["verdict"] != "passed"))
        )
    return "".join(parts)


def tier_sheets(d: ReportData, thumbs: Thumbnails, cap: int) -> str:
    """Each built tier in rank order, showing only what it adds to the next smaller tier."""
    parts = [
        '<p class="lead">Tiers are nested, so each sheet shows the images a tier adds to the '
        "smaller one, in rank order; outlined images are in its validation split.</p>"
    ]
    previous: set[str] = set()
    previous_name = None
    for name in d.tier_names:
        members = sorted((r for r in d.rows if name in r["tiers"]), key=lambda r: r["rank"] or 0)
        if not members:
            parts.append(f'<h3 id="sheet-{name}">{name} <span class="dim">not built</span></h3>')
            continue
        splits = {
            r["file"]: e["split"] for r in members for e in r["tier_entries"] if e["tier"] == name
        }
        added = [r for r in members if r["file"] not in previous]
        val = sum(split == "val" for split in splits.values())
        what = f"{_images(len(members))}, {val:,} val"
        if previous_name is not None:
            what += f"; {previous_name} plus these {len(added):,}"
        parts.append(
            f'<h3 id="sheet-{name}">{name} <span class="dim">{what}</span></h3>'
            + sheet(
                added,
                thumbs,
                cap,
                _ranked_caption,
                lambda r, splits=splits: "val" if splits.get(r["file"]) == "val" else "",
            )
        )
        previous, previous_name = {r["file"] for r in members}, name
    return "".join(parts)


def reject_examples(d: ReportData, thumbs: Thumbnails, per_reason: int) -> str:
    """A few images per reject reason, the best-scored first (the closest calls)."""
    parts = []
    for reason in REJECT_REASONS:
        rows = [r for r in d.rows if r["reject_reason"] == reason]
        if not rows:
            continue
        rows.sort(key=lambda r: (r["quality_score"] is None, -(r["quality_score"] or 0), r["file"]))
        parts.append(
            f'<h3 id="reject-{reason}">{reason.replace("_", " ")} '
            f'<span class="dim">{_images(len(rows))}</span></h3>'
            + sheet(rows, thumbs, per_reason, _why)
        )
    return "".join(parts) or '<p class="lead">No image was rejected.</p>'
