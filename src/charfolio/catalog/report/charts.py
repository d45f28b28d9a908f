"""The chart sections: the funnel, score histograms with thresholds, per-seed and per-cluster bars."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from html import escape
from typing import Any

from charfolio.catalog.report import svg
from charfolio.catalog.report.data import ReportData

# The selection report's stage names, as the step an image reaches by passing them.
STAGE_LABELS = {
    "face": "face ok",
    "duplicate": "unique",
    "thresholds": "thresholds ok",
    "quality_score": "passed",
}


def tier_colours(names: list[str]) -> dict[str, str]:
    """Larger tiers lighter, the smallest darkest (drawn last, on top)."""
    shades = svg.TIER_SHADES
    return {name: shades[min(i, len(shades) - 1)] for i, name in enumerate(names)}


def _legend(items: list[tuple[str, str]]) -> str:
    spans = "".join(
        f'<span><i style="background:{colour}"></i>{escape(name)}</span>' for name, colour in items
    )
    return f'<div class="legend">{spans}</div>'


def funnel_section(d: ReportData) -> str:
    funnel = d.selection["funnel"]
    total = funnel["total"]
    steps = [svg.FunnelStep("generated", total, {}, svg.GREY)]
    for stage in funnel["stages"]:
        label = STAGE_LABELS.get(stage["stage"], stage["stage"])
        steps.append(svg.FunnelStep(label, stage["passed"], stage["reasons"]))
    colours = tier_colours(d.tier_names)
    for name in d.tier_names:
        tier = d.selection["tiers"][name]
        steps.append(svg.FunnelStep(name, tier["size"], {}, colours[name]))
    note = (
        f"{funnel['passed']:,} of {total:,} images passed "
        f"({(funnel['pass_rate'] or 0):.1%}). Each image is counted once, under the first "
        f"check it failed; tiers are filled from the passing images by rank."
    )
    return f'<p class="lead">{escape(note)}</p>{svg.funnel(steps, total)}'


@dataclass(frozen=True)
class MeasureChart:
    """One raw measure's histogram and the thresholds (Thresholds fields) drawn on it."""

    column: str
    title: str
    thresholds: tuple[str, ...]
    domain: tuple[float, float] | None = None

    def value(self, row: Mapping[str, Any]) -> float | None:
        value = row.get(self.column)
        if self.column == "face_size" and value is not None:
            return value * row["working_scale"]  # what min_face_size is compared with
        return value


# Every measure a threshold gates, in the order selection checks them.
MEASURE_CHARTS: tuple[MeasureChart, ...] = (
    MeasureChart("short_side", "short side (px)", ("min_short_side",)),
    MeasureChart("face_size", "face size at the working resolution (px)", ("min_face_size",)),
    MeasureChart("face_highlights", "face clipped (share)", ("max_face_highlights",), (0.0, 1.0)),
    MeasureChart("highlights", "frame clipped (share)", ("max_highlights",), (0.0, 1.0)),
    MeasureChart("face_brightness", "face brightness (0–255)", ("min_face_brightness",), (0, 255)),
    MeasureChart("face_shadows", "face crushed (share)", ("max_face_shadows",), (0.0, 1.0)),
    MeasureChart("shadows", "frame crushed (share)", ("max_shadows",), (0.0, 1.0)),
    MeasureChart("contrast", "contrast (grey std, 0–255)", ("min_contrast", "max_contrast")),
    MeasureChart("noise", "noise (sigma, 0–255)", ("max_noise",)),
    MeasureChart("blockiness", "JPEG blocking (1 = none)", ("max_blockiness",)),
    MeasureChart(
        "face_sharpness", "face sharpness (re-blur, 0–1)", ("min_face_sharpness",), (0.0, 1.0)
    ),
    MeasureChart("sharpness", "frame sharpness (Laplacian variance)", ("min_sharpness",)),
)


def quality_section(d: ReportData) -> str:
    t = d.thresholds
    readable = [r for r in d.rows if r["readable"]]
    passed = [r for r in readable if r["verdict"] == "passed"]
    floors = d.selection["parameters"]["tiers"]
    score_lines = [svg.Line(t["min_quality_score"], f"min {t['min_quality_score']:g}")]
    score_lines += [
        svg.Line(floor, f"{name} ≥ {floor:g}", svg.NAVY)
        for name, floor in floors.items()
        if floor is not None
    ]
    charts = [
        svg.histogram(
            [r["quality_score"] for r in readable],
            [r["quality_score"] for r in passed],
            score_lines,
            "quality score",
            domain=(0.0, 1.0),
        )
    ]
    for chart in MEASURE_CHARTS:
        values = [chart.value(r) for r in readable]
        if all(v is None for v in values):
            continue  # a catalog from before the measure existed
        lines = [
            svg.Line(t[field], f"{field[:3]} {t[field]:g}")
            for field in chart.thresholds
            if t.get(field) is not None
        ]
        charts.append(
            svg.histogram(
                values, [chart.value(r) for r in passed], lines, chart.title, domain=chart.domain
            )
        )
    keys = [
        (f"all readable images ({len(readable):,})", svg.GREY),
        (f"passed ({len(passed):,})", svg.TEAL),
        ("threshold", svg.RED),
    ]
    if len(score_lines) > 1:
        keys.append(("tier floor", svg.NAVY))
    legend = _legend(keys)
    return legend + '<div class="charts">' + "".join(charts) + "</div>"


def _nested(d: ReportData, key: str, base: str, title: str, prefix: str) -> str:
    dist = d.selection[key]
    categories = sorted(dist["all"], key=lambda k: (len(k), k))  # numeric strings in order
    colours = tier_colours(d.tier_names)
    layers = [
        svg.Layer(base, svg.GREY, [dist["all"].get(c, 0) for c in categories]),
        svg.Layer("passed", svg.TEAL, [dist.get("passed", {}).get(c, 0) for c in categories]),
    ]
    for name in reversed(d.tier_names):  # largest first, so smaller tiers are drawn on top
        layers.append(
            svg.Layer(name, colours[name], [dist.get(name, {}).get(c, 0) for c in categories])
        )
    legend = _legend([(layer.name, layer.colour) for layer in layers])
    labels = [f"{prefix}{c}" for c in categories]
    chart = svg.nested_bars(labels, layers, title)
    return f'{legend}<div class="columns">{chart}{_counts_table(labels, layers)}</div>'


def _counts_table(labels: list[str], layers: list[svg.Layer]) -> str:
    """The numbers behind the bars, for reading exact values."""
    head = "".join(f'<th class="num">{escape(layer.name)}</th>' for layer in layers)
    body = "".join(
        f"<tr><td>{escape(label)}</td>"
        + "".join(f'<td class="num">{layer.values[i]:,}</td>' for layer in layers)
        + "</tr>"
        for i, label in enumerate(labels)
    )
    return f"<table><thead><tr><th></th>{head}</tr></thead><tbody>{body}</tbody></table>"


def seeds_section(d: ReportData) -> str:
    chart = _nested(d, "per_seed", "generated", "images per seed group", "")
    return f'<p class="lead">Tiers should draw on every seed group.</p>{chart}'


def clusters_section(d: ReportData) -> str:
    chart = _nested(d, "per_cluster", "face ok (clustered)", "images per cluster", "c")
    collapse = d.selection.get("collapse") or {}
    note = collapse.get("message", "Clusters of face-ok images, 0 the largest.")
    verdict = collapse.get("verdict")
    badge = f' <span class="badge {escape(verdict)}">{escape(verdict)}</span>' if verdict else ""
    return f'<p class="lead">{escape(note)}{badge}</p>{chart}'
