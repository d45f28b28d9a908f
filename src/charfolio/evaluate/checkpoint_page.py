"""The checkpoint report's HTML page.

One page compares every checkpoint of every trained LoRA of a character on the prompt
suite: the ranking, the scores per category, and the image grid (rows = prompts by
category, columns = checkpoints). Thumbnails are embedded (the curation report's style and
thumbnail helper), each linking to its full-size render by a relative path, so the page
opens from the results folder and the images open from it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from html import escape
from pathlib import Path
from typing import Any

from charfolio import __version__
from charfolio.catalog.report.style import CSS
from charfolio.catalog.report.thumbs import Thumbnails
from charfolio.core.ratings import rating_text
from charfolio.evaluate.checkpoint_runs import LoraRun
from charfolio.evaluate.ranking import ALL, RANKING_METRICS, checkpoint_order
from charfolio.evaluate.scoring import (
    DESCRIPTOR_MISMATCH,
    DESCRIPTORS_OFF,
    NO_FACE,
    NO_REFERENCES,
)
from charfolio.evaluate.suite import SuitePrompt

# Section ids are stable: links into the report and the tests rely on them.
CHECKPOINT_REPORT_SECTIONS: tuple[tuple[str, str], ...] = (
    ("summary", "Summary"),
    ("ranking", "Checkpoint ranking"),
    ("categories", "Scores by category"),
    ("grid", "Images"),
    ("suite", "Prompt suite"),
    ("method", "How the scores are made"),
)
RENDER_FACTS = ("backend", "width", "height", "steps", "guidance_scale", "sampler", "sigmas",
                "dtype", "device")  # fmt: skip
METRIC_TITLES = {
    "identity": "identity",
    "face_rate": "face rate",
    "adherence": "adherence",
    "quality": "quality",
}
EXTRA_CSS = """
.grid-wrap { overflow-x: auto; }
table.grid td, table.grid th { vertical-align: top; }
table.grid td.prompt { max-width: 260px; font-size: 12.5px; }
table.grid tr.category th { padding-top: 14px; color: var(--ink); font-size: 14px; }
table.grid .thumb { width: auto; }
table.grid .thumb img, table.grid .thumb .missing { width: var(--thumb); height: var(--thumb); }
td.best { font-weight: 700; color: #17665c; }
td.missing-value { color: var(--muted); }
tr.top td { background: #eef8f6; }
"""


def _fmt(value: Any, digits: int = 3) -> str:
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def _reason_text(reason: str | None, runs: Sequence[LoraRun], lora: str | None = None) -> str:
    if reason == NO_FACE:
        return "no face found in these images"
    if reason == NO_REFERENCES:
        details = [
            r.record["references"]["reason"]
            for r in runs
            if (lora is None or r.lora == lora) and r.record["references"]["reason"]
        ]
        return "no reference descriptors" + (f": {details[0]}" if details else "")
    if reason == DESCRIPTORS_OFF:
        return "the face backend computes no descriptors (faces.descriptors is off)"
    if reason == DESCRIPTOR_MISMATCH:
        return "the tier's descriptors come from another face model; rerun detect_faces"
    return reason or ""


def _cell(value: Any, *, cls: str = "num", title: str = "") -> str:
    classes = cls + (" missing-value" if value is None else "")
    title_attr = f' title="{escape(title)}"' if title else ""
    return f'<td class="{classes.strip()}"{title_attr}>{escape(_fmt(value))}</td>'


def _head(columns: Sequence[tuple[str, bool]]) -> str:
    cells = "".join(f'<th class="{"num" * num}">{escape(c)}</th>' for c, num in columns)
    return f"<thead><tr>{cells}</tr></thead>"


def _card(label: str, value: str, sub: str = "", cls: str = "") -> str:
    return (
        f'<div class="card {cls}"><div class="label">{escape(label)}</div>'
        f'<div class="value">{escape(value)}</div><div class="sub">{escape(sub)}</div></div>'
    )


def _summary(
    ranking: Sequence[Mapping[str, Any]],
    runs: Sequence[LoraRun],
    n_prompts: int,
    run_ratings: Mapping[str, Mapping[str, Any]],
) -> str:
    best = ranking[0]
    cards = [
        _card("best checkpoint", best["checkpoint"], f"{best['lora']} · score {best['score']:.2f}"),
        _card("checkpoints", str(len(ranking)), f"of {len(runs)} LoRA" + "s" * (len(runs) != 1)),
        _card("images", f"{len(ranking) * n_prompts:,}", f"{n_prompts} prompts each"),
    ]
    for run in runs:
        mine = [r for r in ranking if r["lora"] == run.lora]
        top = min(mine, key=lambda r: r["rank"])
        sub = f"best of {len(mine)} · rank {top['rank']}"
        rating = run_ratings.get(run.lora, {})
        if rating.get("rating_mean") is not None:
            sub += f" · rated {rating_text(rating)[0]}"
        cards.append(_card(run.lora, top["checkpoint"], sub))
    warnings = []
    for run in runs:
        reason = run.record.get("identity_unavailable")
        if reason:
            cards.append(_card("identity", "missing", run.lora, "warn"))
            warnings.append(f"{run.lora}: {_reason_text(reason, runs, run.lora)}")
    note = "".join(
        f'<p class="lead">Identity is not measured for {escape(w)}.</p>' for w in warnings
    )
    return f'<div class="cards">{"".join(cards)}</div>{note}'


def _ranking(ranking: Sequence[Mapping[str, Any]], weights: Mapping[str, float]) -> str:
    used = ranking[0]["metrics_used"] if ranking else []
    explain = ", ".join(f"{METRIC_TITLES[m]} {weights[m]:g}" for m in used) or "none"
    columns = [("rank", True), ("LoRA", False), ("checkpoint", False), ("final", False),
               ("score", True), *((METRIC_TITLES[m], True) for m in RANKING_METRICS),
               ("rating", True)]  # fmt: skip
    best = {
        m: max((r[m] for r in ranking if r[m] is not None), default=None) for m in RANKING_METRICS
    }
    body = []
    for r in ranking:
        metric_cells = "".join(
            _cell(
                r[m],
                cls="num best" if r[m] is not None and r[m] == best[m] else "num",
                title=f"rank score {r[f'{m}_rank_score']:.2f}",
            )
            for m in RANKING_METRICS
        )
        body.append(
            f'<tr class="{"top" * (r["rank"] == 1)}">{_cell(r["rank"])}'
            f"{_cell(r['lora'], cls='')}{_cell(r['checkpoint'], cls='')}{_cell(r['final'], cls='')}"
            f"{_cell(r['score'])}{metric_cells}{_rating_cell(r)}</tr>"
        )
    return (
        f'<p class="lead">Best first. The score is the weighted mean of each metric\'s rank '
        f"among the checkpoints (1 best, 0 worst; weights {escape(explain)}); see "
        f'<a href="#method">how the scores are made</a>. Hover a value for its rank score. '
        "The rating is the mean of people's 1-5 ratings of the checkpoint's images (how many), "
        "not part of the score.</p>"
        f'<table id="ranking-table">{_head(columns)}<tbody>{"".join(body)}</tbody></table>'
    )


def _rating_cell(row: Mapping[str, Any]) -> str:
    text, hover = rating_text(row)
    cls = "num" + (" missing-value" if row.get("rating_mean") is None else "")
    return f'<td class="{cls} rating" title="{escape(hover)}">{escape(text)}</td>'


def _categories(
    summary: Sequence[Mapping[str, Any]], categories: Sequence[str], runs: Sequence[LoraRun]
) -> str:
    keys = checkpoint_order(summary)
    by_key = {(r["lora"], r["checkpoint"], r["category"]): r for r in summary}
    parts = [
        '<p class="lead">Identity is the mean over the images that have a face; the face '
        'rate says how many have one. "all" averages the categories.</p>'
    ]
    for metric in RANKING_METRICS:
        columns = [("LoRA", False), ("checkpoint", False),
                   *((c.replace("_", " "), True) for c in [*categories, ALL])]  # fmt: skip
        body = []
        for lora, checkpoint in keys:
            cells = []
            for category in [*categories, ALL]:
                row = by_key.get((lora, checkpoint, category))
                value = None if row is None else row[metric]
                title = ""
                if row is not None and metric == "identity" and value is None:
                    title = _reason_text(row["identity_reason"], runs, lora)
                elif row is not None and metric == "identity":
                    title = f"{row['identity_images']} of {row['n_images']} images"
                cells.append(_cell(value, title=title))
            body.append(
                f"<tr>{_cell(lora, cls='')}{_cell(checkpoint, cls='')}{''.join(cells)}</tr>"
            )
        parts.append(
            f'<h3 id="category-{metric}">{escape(METRIC_TITLES[metric])}</h3>'
            f'<table class="category-table" data-metric="{metric}">{_head(columns)}'
            f"<tbody>{''.join(body)}</tbody></table>"
        )
    return "".join(parts)


def _caption(row: Mapping[str, Any]) -> str:
    identity = "no face" if row["n_faces"] == 0 else f"id {_fmt(row['identity'], 2)}"
    return f"{identity} · adh {row['adherence']:.2f} · q {row['quality_score']:.2f}"


def _tooltip(row: Mapping[str, Any]) -> str:
    return "\n".join(
        [
            f"{row['lora']} {row['checkpoint']} · {row['prompt_id']} · seed {row['seed']}",
            row["prompt"],
            f"faces {row['n_faces']}, identity {_fmt(row['identity'])}"
            + (f" ({row['identity_reason']})" if row["identity_reason"] else ""),
            f"adherence {row['adherence']:.3f}, quality {row['quality_score']:.3f} "
            f"(sharpness {row['sharpness']:.1f}, contrast {row['contrast']:.1f})",
        ]
    )


def _grid(
    runs: Sequence[LoraRun], suite: Sequence[SuitePrompt], report_dir: Path, thumbs: Thumbnails
) -> str:
    parts = [
        '<p class="lead">Each column is one checkpoint, each row one prompt at its fixed '
        "seed, so only the LoRA weights differ along a row. Click an image for the full size.</p>"
    ]
    for run in runs:
        order = [c for lora, c in checkpoint_order(run.rows) if lora == run.lora]
        cells = {(r["checkpoint"], r["prompt_id"]): r for r in run.rows}
        finals = {r["checkpoint"] for r in run.rows if r["final"]}
        head = [("prompt", False), *((c + " (final)" * (c in finals), False) for c in order)]
        body = []
        category = None
        for prompt in suite:
            if prompt.category != category:
                category = prompt.category
                body.append(
                    f'<tr class="category"><th colspan="{len(order) + 1}">'
                    f"{escape(category.replace('_', ' '))}</th></tr>"
                )
            figures = []
            for checkpoint in order:
                row = cells[(checkpoint, prompt.prompt_id)]
                link = Path(os.path.relpath(run.folder / row["file"], report_dir)).as_posix()
                uri = thumbs.uri(link)
                picture = (
                    '<div class="missing">missing</div>'
                    if uri is None
                    else f'<img src="{uri}" alt="{escape(prompt.prompt_id)} {escape(checkpoint)}">'
                )
                figures.append(
                    f'<td><figure class="thumb" title="{escape(_tooltip(row))}">'
                    f'<a href="{escape(link)}">{picture}</a>'
                    f"<figcaption>{escape(_caption(row))}</figcaption></figure></td>"
                )
            body.append(
                f'<tr><td class="prompt"><b>{escape(prompt.prompt_id)}</b><br>'
                f'<span class="dim">{escape(prompt.prompt)}</span></td>{"".join(figures)}</tr>'
            )
        parts.append(
            f'<h3 id="grid-{escape(run.lora.replace("/", "-"))}">{escape(run.lora)}</h3>'
            f'<div class="grid-wrap"><table class="grid">{_head(head)}'
            f"<tbody>{''.join(body)}</tbody></table></div>"
        )
    return "".join(parts)


def _suite(suite: Sequence[SuitePrompt]) -> str:
    body = "".join(
        f"<tr>{_cell(p.prompt_id, cls='')}{_cell(p.category.replace('_', ' '), cls='')}"
        f"{_cell(p.seed)}{_cell(p.prompt, cls='')}</tr>"
        for p in suite
    )
    columns = [("prompt", False), ("category", False), ("seed", True), ("text", False)]
    return (
        '<p class="lead">Every checkpoint renders every prompt at the prompt\'s seed. '
        "Adherence is scored against the prompt without the trigger token.</p>"
        f"<table>{_head(columns)}<tbody>{body}</tbody></table>"
    )


def _method(runs: Sequence[LoraRun], weights: Mapping[str, float]) -> str:
    first = runs[0].record
    facts = [
        ("identity", "mean cosine of each image's main-face descriptor to every descriptor of "
         "the tier the LoRA was trained on (faces.parquet); images without a face count in the "
         f"face rate instead; face backend {first.get('face_backend')}, descriptor model "
         f"{first.get('descriptor_model')}. Compare values only within one backend."),
        ("adherence", "(cosine + 1) / 2 of the image and prompt CLIP embeddings, on [0, 1]; "
         f"model {first.get('adherence_model')}"),
        ("quality", "the curation's quality score: sharpness (Laplacian variance), contrast "
         "(grey std) and face confidence, weighted "
         + ", ".join(f"{k} {v:g}" for k, v in first.get("quality_weights", {}).items())),
        ("ranking", "each metric becomes a rank score among all checkpoints (best 1, worst 0, "
         "ties share, missing 0); the score is their weighted mean with weights "
         + ", ".join(f"{METRIC_TITLES[m]} {w:g}" for m, w in weights.items())
         + "; a metric no checkpoint has is left out. Ties: identity, face rate, adherence, "
         "quality, then LoRA and epoch order."),
    ]  # fmt: skip
    render = first.get("render", {})
    if render:
        shown = [f"{k.replace('_', ' ')} {render[k]}" for k in RENDER_FACTS if k in render]
        model = render.get("model") or {}
        facts.append(("render", ", ".join([*shown, f"model {model.get('path', '–')}"])))
    for run in runs:
        ref = run.record["references"]
        facts.append(
            (
                f"references {run.lora}",
                f"{ref['n_descriptors']} descriptors of {ref['n_images']} tier images"
                + (f" ({ref['reason']})" if ref["reason"] else ""),
            )
        )
    rows = "".join(f"<tr><th>{escape(k)}</th><td>{escape(v)}</td></tr>" for k, v in facts)
    return f"<table>{rows}</table>"


def render_page(
    character: str,
    runs: Sequence[LoraRun],
    suite: Sequence[SuitePrompt],
    summary: Sequence[Mapping[str, Any]],
    ranking: Sequence[Mapping[str, Any]],
    weights: Mapping[str, float],
    report_dir: Path,
    thumb_size: int = 96,
    run_ratings: Mapping[str, Mapping[str, Any]] | None = None,
) -> str:
    categories = list(dict.fromkeys(p.category for p in suite))
    thumbs = Thumbnails(report_dir, thumb_size)
    builders = {
        "summary": lambda: _summary(ranking, runs, len(suite), run_ratings or {}),
        "ranking": lambda: _ranking(ranking, weights),
        "categories": lambda: _categories(summary, categories, runs),
        "grid": lambda: _grid(runs, suite, report_dir, thumbs),
        "suite": lambda: _suite(suite),
        "method": lambda: _method(runs, weights),
    }
    body = "".join(
        f'<section id="{sid}"><h2>{escape(title)}</h2>{builders[sid]()}</section>'
        for sid, title in CHECKPOINT_REPORT_SECTIONS
    )
    facts = [
        ("LoRAs", ", ".join(r.lora for r in runs)),
        ("checkpoints", f"{len(ranking)}"),
        ("prompt suite", f"{len(suite)} prompts: "
         + ", ".join(f"{c.replace('_', ' ')} {sum(p.category == c for p in suite)}"
                     for c in categories)),
    ]  # fmt: skip
    items = "".join(f"<dt>{escape(k)}</dt><dd>{escape(v)}</dd>" for k, v in facts)
    nav = "".join(
        f'<a href="#{sid}">{escape(title)}</a>' for sid, title in CHECKPOINT_REPORT_SECTIONS
    )
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(character)} · charfolio checkpoint report</title>"
        f"<style>{CSS}{EXTRA_CSS}:root {{ --thumb: {thumb_size}px; }}</style></head><body>"
        f'<header><div class="wrap"><p class="kicker">charfolio checkpoint report</p>'
        f"<h1>{escape(character)}</h1><dl>{items}</dl></div></header>"
        f'<nav><div class="wrap">{nav}</div></nav><main class="wrap">{body}</main>'
        f"<footer>charfolio {escape(__version__)} · from the checkpoints' scores.parquet "
        f"and run.json</footer></body></html>\n"
    )
