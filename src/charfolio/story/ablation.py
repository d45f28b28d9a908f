"""The ablation table: baseline vs simple vs reference_guided on the same stories and seeds.

One row per story and mode (tables.ABLATION) in results/{character}/ablation.parquet, and
results/{character}/ablation.html: the same numbers (but render times) per story, side by
side, with each storyboard's contact sheet, to read in a browser. Each row carries the mean
of people's 1-5 ratings of its frames (the ratings file), empty when none is current.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping, Sequence
from html import escape
from pathlib import Path
from typing import Any

from charfolio.catalog.report.style import CSS
from charfolio.catalog.report.thumbs import Thumbnails
from charfolio.core import tables
from charfolio.core.atomic import write_text_atomic
from charfolio.core.ratings import RatedImages, rating_text
from charfolio.story.board_scores import read_storyboard
from charfolio.story.frames import StoryError
from charfolio.story.storyboard import STORY_MODES

COLUMNS = (  # (row key, header, what it means)
    ("frames_with_face", "faces", "frames where a face was found"),
    ("face_first_vs_rest_mean", "face: frame 1 vs rest", "mean cosine of frame 1's face with the others"),
    ("face_pairwise_mean", "face: all pairs", "mean cosine over all pairs of frames' faces"),
    ("prompt_adherence_mean", "CLIP mean", "text-image agreement with the frame descriptions"),
    ("prompt_adherence_min", "CLIP min", "the worst frame"),
    ("frames_passed", "passed", "frames at or above the threshold"),
    ("diversity", "diversity", "mean pairwise CLIP image distance"),
    ("attempts", "renders", "renders including retries"),
    ("rating_mean", "rating", "mean of people's 1-5 ratings of the frames (how many)"),
)  # fmt: skip
# Not in the page: seconds_per_frame (ablation.parquet has it). A time differs on every run,
# and the page, like every artifact but the named time fields, is the same for the same inputs.


def _loras(summary: Mapping[str, Any]) -> str:
    return ", ".join(f"{lora['name']}:{lora['weight']:g}" for lora in summary.get("loras", []))


def ablation_row(
    evaluation_path: str | os.PathLike[str],
    storyboard_path: str | os.PathLike[str],
    page_dir: Path,
    rated: RatedImages | None = None,
) -> dict[str, Any]:
    """The table row of one evaluated storyboard; `storyboard` links its folder from the
    page's folder; the rating is of the frames storyboard.json lists."""
    path, board = Path(evaluation_path), Path(storyboard_path)
    try:
        evaluation = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise StoryError(
            f"{path}: not a readable evaluation ({error}); rerun evaluate_storyboard"
        ) from error
    summary = read_storyboard(board)
    identity, adherence = evaluation["identity"], evaluation["prompt_adherence"]
    rated = rated or RatedImages({}, page_dir)
    rating = rated.mean(rated.key(board.parent / frame["file"]) for frame in summary["frames"])
    return {
        "character": evaluation["character"],
        "story": evaluation["story"],
        "mode": evaluation["mode"],
        "n_frames": evaluation["n_frames"],
        "frames_with_face": identity["frames_with_face"],
        "face_first_vs_rest_mean": identity["first_vs_rest_mean"],
        "face_first_vs_rest_min": identity["first_vs_rest_min"],
        "face_pairwise_mean": identity["pairwise_mean"],
        "face_pairwise_min": identity["pairwise_min"],
        "face_backend": identity["face_backend"],
        "prompt_adherence_mean": adherence["mean"],
        "prompt_adherence_min": adherence["min"],
        "frames_passed": adherence["passed"],
        "threshold": adherence["threshold"],
        "diversity": evaluation["diversity"],
        "attempts": summary["attempts"],
        "seconds_per_frame": summary["seconds_per_frame"],
        "loras": _loras(summary),
        "storyboard": Path(os.path.relpath(board.parent, page_dir)).as_posix(),
        **rating.fields(),
    }


def _fmt(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)


def _cell(row: Mapping[str, Any], key: str) -> str:
    if key in ("frames_with_face", "frames_passed"):
        return f"{row[key]}/{row['n_frames']}"
    if key == "rating_mean":
        return rating_text(row)[0]
    return _fmt(row[key])


def _td(row: Mapping[str, Any], key: str) -> str:
    hover = f' title="{escape(rating_text(row)[1])}"' if key == "rating_mean" else ""
    return f'<td class="num" data-key="{key}"{hover}>{escape(_cell(row, key))}</td>'


def _story_section(story: str, rows: Sequence[Mapping[str, Any]], thumbs: Thumbnails) -> str:
    head = "".join(f'<th class="num" title="{escape(t)}">{escape(h)}</th>' for _, h, t in COLUMNS)
    body = ""
    for row in rows:
        cells = "".join(_td(row, key) for key, _, _ in COLUMNS)
        loras = escape(row["loras"] or "no LoRA")
        body += f"<tr><th>{escape(row['mode'])}</th><td>{loras}</td>{cells}</tr>"
    sheets = ""
    for row in rows:
        uri = thumbs.uri(f"{row['storyboard']}/contact_sheet.png")
        picture = f'<img src="{uri}" alt="{escape(row["mode"])}">' if uri else "missing"
        sheets += (
            f'<figure style="margin:0"><figcaption><b>{escape(row["mode"])}</b></figcaption>'
            f"{picture}</figure>"
        )
    n = rows[0]["n_frames"]
    return (
        f'<section id="story-{escape(story)}"><h2>{escape(story)} '
        f'<span class="dim">{n} frames, same prompts and seeds in every mode</span></h2>'
        f"<table><thead><tr><th>mode</th><th>LoRAs</th>{head}</tr></thead>"
        f"<tbody>{body}</tbody></table>"
        f'<div class="charts">{sheets}</div></section>'
    )


def ablation_html(character: str, rows: Sequence[Mapping[str, Any]], results_root: Path) -> str:
    thumbs = Thumbnails(results_root, size=640, quality=80)
    stories = list(dict.fromkeys(row["story"] for row in rows))
    sections = "".join(
        _story_section(story, [r for r in rows if r["story"] == story], thumbs) for story in stories
    )
    backend = rows[0]["face_backend"]
    lead = (
        "Face scores are cosine similarities of the main face's descriptor "
        f"({escape(backend)}); they compare only within one face backend, and are empty when "
        "no frame shows a face. CLIP scores are (cosine + 1) / 2 of image and frame description "
        f"(threshold {rows[0]['threshold']:.2f}). Hover a column header for "
        "what it measures."
    )
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{escape(character)}: storyboard ablation</title><style>{CSS}</style></head>"
        f'<body><header><div class="wrap"><p class="kicker">charfolio storyboard ablation</p>'
        f"<h1>{escape(character)}</h1></div></header>"
        f'<main class="wrap"><section><p class="lead">{lead}</p></section>{sections}</main>'
        "</body></html>\n"
    )


def tabulate_ablation(
    evaluations: Sequence[str | os.PathLike[str]],
    storyboards: Sequence[str | os.PathLike[str]],
    out_table: str | os.PathLike[str],
    out_html: str | os.PathLike[str],
    log: Callable[[str], None] = print,
    *,
    ratings: str | os.PathLike[str] | None = None,
    character_root: str | os.PathLike[str] | None = None,
) -> list[dict[str, Any]]:
    """Rows for every evaluated storyboard (`storyboards[i]` is the board `evaluations[i]`
    scored), sorted by story then mode (baseline first). `ratings` is the character's ratings
    file (None: not written yet), keyed by paths relative to `character_root` (default: the
    page's folder)."""
    if not evaluations:
        raise StoryError("no storyboard evaluations to tabulate; configure story.stories")
    if len(storyboards) != len(evaluations):
        raise ValueError(
            f"{len(evaluations)} evaluations but {len(storyboards)} storyboards: pass the "
            f"storyboard.json of each evaluation, in the same order"
        )
    root = Path(out_html).parent  # the page links each board's contact sheet from here
    rated = RatedImages.load(ratings, root if character_root is None else character_root)
    pairs = zip(evaluations, storyboards, strict=True)
    rows = [ablation_row(e, s, root, rated) for e, s in pairs]
    characters = {row["character"] for row in rows}
    if len(characters) != 1:
        raise StoryError(f"an ablation table is per character; got {sorted(characters)}")
    rows.sort(key=lambda r: (r["story"], STORY_MODES.index(r["mode"])))
    tables.write_table(out_table, rows, tables.ABLATION)
    write_text_atomic(out_html, ablation_html(rows[0]["character"], rows, root))
    for row in rows:
        log(
            f"{row['story']}/{row['mode']}: CLIP {_fmt(row['prompt_adherence_mean'])}, faces "
            f"{row['frames_with_face']}/{row['n_frames']}, frame 1 vs rest "
            f"{_fmt(row['face_first_vs_rest_mean'])}, rating {rating_text(row)[0]}"
        )
    return rows
