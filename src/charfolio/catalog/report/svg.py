"""Small inline SVG charts (funnel, histogram, nested bars), so the report needs no files.

Text uses the page's font through CSS; colours come from the caller or the palette below.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from html import escape

import numpy as np

GREY, TEAL, NAVY, RED, AMBER = "#c5ccd6", "#2a9d8f", "#264653", "#d62828", "#e9a23b"
TIER_SHADES = ("#14213d", "#3d5a80", "#6c8ebf", "#98c1d9", "#b8d8e8", "#d3e8f2")  # smallest first


def _num(value: float) -> str:
    """A compact axis label: 1200 -> 1.2k, 0.85 -> 0.85."""
    if abs(value) >= 1000:
        return f"{value / 1000:.3g}k"
    return f"{value:.3g}"


def nice_ticks(low: float, high: float, count: int = 5, cover: bool = False) -> list[float]:
    """Round ticks (1, 2, 2.5 or 5 times a power of ten) within [low, high].

    `cover` is for count axes: whole-number steps, and the last tick at or above `high` so
    the axis holds the tallest bar.
    """
    if high <= low:
        return [low]
    raw = (high - low) / max(count - 1, 1)
    power = 10 ** math.floor(math.log10(raw))
    steps = (1, 2, 5, 10) if cover else (1, 2, 2.5, 5, 10)  # counts: no 2.5 steps
    step = max(next(m * power for m in steps if m * power >= raw), 1 if cover else 0)
    first = math.ceil(low / step - 1e-9) * step
    last = math.ceil(high / step - 1e-9) * step if cover else high
    return [round(first + i * step, 10) for i in range(int((last - first) / step + 1e-9) + 1)]


def _svg(width: int, height: int, body: Sequence[str], label: str) -> str:
    return (
        f'<svg class="chart" viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
        f'role="img" aria-label="{escape(label)}" xmlns="http://www.w3.org/2000/svg">'
        + "".join(body)
        + "</svg>"
    )


def _text(x: float, y: float, text: str, cls: str = "", anchor: str = "start") -> str:
    cls_attr = f' class="{cls}"' if cls else ""
    return f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}"{cls_attr}>{escape(text)}</text>'


@dataclass(frozen=True)
class FunnelStep:
    label: str
    count: int
    rejected: Mapping[str, int]  # reason -> images rejected on the way to this step
    colour: str = TEAL


def funnel(steps: Sequence[FunnelStep], total: int, width: int = 760) -> str:
    """Horizontal bars, one per step, with the share of all images and the rejects below."""
    label_w, value_w, row_h = 120, 120, 46
    bar_w = width - label_w - value_w
    body = []
    for i, step in enumerate(steps):
        y = 8 + i * row_h
        share = step.count / total if total else 0.0
        w = max(bar_w * share, 1.5)
        body.append(_text(label_w - 10, y + 15, step.label, "label", "end"))
        body.append(
            f'<rect x="{label_w}" y="{y}" width="{bar_w:.1f}" height="20" class="track"/>'
            f'<rect x="{label_w}" y="{y}" width="{w:.1f}" height="20" fill="{step.colour}"/>'
        )
        body.append(_text(label_w + w + 6, y + 15, f"{step.count:,}  ({share:.1%})", "value"))
        lost = dict(sorted(((r, n) for r, n in step.rejected.items() if n), key=lambda x: -x[1]))
        if lost:
            detail = "  ·  ".join(f"{r.replace('_', ' ')} {n:,}" for r, n in lost.items())
            body.append(_text(label_w, y + 35, f"−{sum(lost.values()):,}: {detail}", "note"))
    height = 8 + len(steps) * row_h
    return _svg(width, height, body, "selection funnel")


@dataclass(frozen=True)
class Line:
    x: float
    label: str
    colour: str = RED


def histogram(
    values: Sequence[float],
    highlight: Sequence[float],
    lines: Sequence[Line],
    title: str,
    bins: int = 30,
    domain: tuple[float, float] | None = None,
    width: int = 340,
    height: int = 230,
) -> str:
    """All values in grey, the highlighted subset (e.g. passed) over them, threshold lines."""
    data = np.asarray([v for v in values if v is not None and math.isfinite(v)], dtype=float)
    sub = np.asarray([v for v in highlight if v is not None and math.isfinite(v)], dtype=float)
    left, right, top, bottom = 40, 12, 26, 34
    plot_w, plot_h = width - left - right, height - top - bottom
    body = [_text(left, 16, title, "title")]
    if data.size == 0:
        body.append(_text(width / 2, height / 2, "no values", "note", "middle"))
        return _svg(width, height, body, title)
    low, high = domain or (float(data.min()), float(data.max()))
    low = min([low, *(ln.x for ln in lines)])
    high = max([high, *(ln.x for ln in lines)])
    if high <= low:
        low, high = low - 0.5, high + 0.5
    edges = np.linspace(low, high, bins + 1)
    counts, _ = np.histogram(np.clip(data, low, high), edges)
    sub_counts, _ = np.histogram(np.clip(sub, low, high), edges)
    y_ticks = nice_ticks(0, max(int(counts.max()), 1), 4, cover=True)
    y_max = max(y_ticks[-1], 1)

    def sx(v: float) -> float:
        return left + (v - low) / (high - low) * plot_w

    def sy(c: float) -> float:
        return top + plot_h - c / y_max * plot_h

    for t in y_ticks:
        body.append(
            f'<line x1="{left}" x2="{left + plot_w}" y1="{sy(t):.1f}" y2="{sy(t):.1f}" '
            f'class="grid"/>'
        )
        body.append(_text(left - 5, sy(t) + 4, _num(t), "tick", "end"))
    bar_w = plot_w / bins
    for layer, fill in ((counts, GREY), (sub_counts, TEAL)):
        for i, c in enumerate(layer):
            if c:
                x, y = left + i * bar_w, sy(c)
                body.append(
                    f'<rect x="{x + 0.5:.1f}" y="{y:.1f}" width="{max(bar_w - 1, 0.5):.1f}" '
                    f'height="{top + plot_h - y:.1f}" fill="{fill}"/>'
                )
    for t in nice_ticks(low, high, 5):
        body.append(_text(sx(t), top + plot_h + 16, _num(t), "tick", "middle"))
    body.append(
        f'<line x1="{left}" x2="{left + plot_w}" y1="{top + plot_h}" y2="{top + plot_h}" '
        f'class="axis"/>'
    )
    for i, ln in enumerate(sorted(lines, key=lambda ln: ln.x)):
        x = sx(ln.x)
        body.append(
            f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{top - 4}" y2="{top + plot_h}" '
            f'stroke="{ln.colour}" stroke-width="1.5" stroke-dasharray="4 3"/>'
        )
        anchor = "end" if x > left + plot_w * 0.6 else "start"
        dx = -3 if anchor == "end" else 3
        body.append(
            f'<text x="{x + dx:.1f}" y="{top + 8 + 11 * i:.1f}" text-anchor="{anchor}" '
            f'class="marker" fill="{ln.colour}">{escape(ln.label)}</text>'
        )
    return _svg(width, height, body, title)


@dataclass(frozen=True)
class Layer:
    name: str
    colour: str
    values: Sequence[int]


def nested_bars(categories: Sequence[str], layers: Sequence[Layer], title: str) -> str:
    """One bar per category with nested subsets drawn over each other, largest first.

    Works because each layer is a subset of the one before (generated ⊇ passed ⊇ tiers).
    """
    n = max(len(categories), 1)
    slot = min(max(720 / n, 14), 72)
    left, top, bottom = 40, 26, 44
    width = int(left + slot * n + 16)
    width = max(width, 320)
    plot_h = 190
    height = top + plot_h + bottom
    peak = max([max(layer.values, default=0) for layer in layers] + [1])
    y_ticks = nice_ticks(0, peak, 4, cover=True)
    y_max = max(y_ticks[-1], 1)
    body = [_text(left, 16, title, "title")]
    for t in y_ticks:
        y = top + plot_h - t / y_max * plot_h
        body.append(
            f'<line x1="{left}" x2="{left + slot * n:.1f}" y1="{y:.1f}" y2="{y:.1f}" class="grid"/>'
        )
        body.append(_text(left - 5, y + 4, _num(t), "tick", "end"))
    bar_w = slot * 0.72
    for i, category in enumerate(categories):
        x = left + i * slot + (slot - bar_w) / 2
        tip = "; ".join(f"{layer.name}: {layer.values[i]}" for layer in layers)
        body.append(f"<g><title>{escape(f'{category} — {tip}')}</title>")
        for layer in layers:
            v = layer.values[i]
            if v:
                h = v / y_max * plot_h
                body.append(
                    f'<rect x="{x:.1f}" y="{top + plot_h - h:.1f}" width="{bar_w:.1f}" '
                    f'height="{h:.1f}" fill="{layer.colour}"/>'
                )
        body.append("</g>")
        cx = x + bar_w / 2
        if n > 12:
            body.append(
                f'<text x="{cx:.1f}" y="{top + plot_h + 12}" text-anchor="end" class="tick" '
                f'transform="rotate(-45 {cx:.1f} {top + plot_h + 12})">{escape(category)}</text>'
            )
        else:
            body.append(_text(cx, top + plot_h + 15, category, "tick", "middle"))
    body.append(
        f'<line x1="{left}" x2="{left + slot * n:.1f}" y1="{top + plot_h}" '
        f'y2="{top + plot_h}" class="axis"/>'
    )
    return _svg(width, height, body, title)
