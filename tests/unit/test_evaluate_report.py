"""checkpoint_report.html: ranking, per-category tables and the image grid, in headless Chromium."""

from __future__ import annotations

import base64
import io
import json
import re
import shutil
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote

import pyarrow.parquet as pq
import pytest
from PIL import Image

from charfolio.core import tables
from charfolio.core.digest import sha256_file
from charfolio.core.ratings import Rating, update_ratings
from charfolio.evaluate import CHECKPOINT_REPORT_SECTIONS, build_suite, evaluate_lora, write_suite
from charfolio.evaluate.checkpoint_report import write_checkpoint_report
from charfolio.evaluate.ranking import CATEGORY_SCORES

from .chromium_support import run_chromium
from .evaluate_support import (
    FakeRenderer,
    FakeTextScorer,
    astronaut,
    blank,
    lfw_face,
    make_lora_dir,
    make_reference_tier,
)

pytest.importorskip("dlib")
CATEGORIES = ["close_up", "full_body"]


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """results/demo with two LoRAs: tier_1 (3 epochs) and tier_2 (no reference faces)."""
    from charfolio.faces import create_face_detector

    detector = create_face_detector({"backend": "dlib"})
    root = tmp_path_factory.mktemp("results") / "demo"
    faces, tier_1 = make_reference_tier(root, [astronaut(), astronaut(mirror=True)], detector)
    write_suite(root / "checkpoints" / "suite.parquet",
                build_suite("nova", "woman", CATEGORIES, per_category=2, seed=1))  # fmt: skip
    # tier_2 lists only a faceless image: identity missing, with the reason
    Image.fromarray(blank()).save(root / "images" / "seed_0" / "flat.png")
    tier_2 = root / "tier_2"
    shutil.copytree(tier_1, tier_2)
    rows = tables.read_table(tier_2 / "manifest.parquet", tables.TIER_MANIFEST).to_pylist()
    tables.write_table(tier_2 / "manifest.parquet",
                       [{**rows[0], "file": "images/seed_0/flat.png"}], tables.TIER_MANIFEST)  # fmt: skip
    renderer = FakeRenderer(
        {"epoch-0002.safetensors": lfw_face(3), "epoch-0003.safetensors": astronaut(scale=0.8)}
    )
    for n, tier, epochs in ((1, tier_1, 3), (2, tier_2, 2)):
        lora = root / "lora" / "p" / f"tier_{n}"
        summary = make_lora_dir(lora, [10.0 * n + e for e in range(epochs)])
        evaluate_lora(
            summary, root / "checkpoints" / "suite.parquet", faces, tier,
            root / "checkpoints" / "p" / f"tier_{n}", preset="p", tier=n, renderer=renderer,
            detector=detector, text_scorer=FakeTextScorer(), log=lambda _: None,
        )  # fmt: skip
    return root


@pytest.fixture(scope="module")
def report(results: Path) -> tuple[Path, dict]:
    scores = [results / "checkpoints" / "p" / f"tier_{n}" / "scores.parquet" for n in (1, 2)]
    result = write_checkpoint_report(
        scores,
        results / "checkpoints" / "suite.parquet",
        results / "checkpoint_report.html",
        out_json=results / "checkpoint_report.json",
        out_table=results / "checkpoint_scores.parquet",
    )
    return results / "checkpoint_report.html", result


class _Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.sections: list[str] = []
        self.images: list[str] = []
        self.links: list[str] = []
        self.ranking: list[list[str]] = []
        self._in_ranking = False
        self._cell: list[str] | None = None
        self._row: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "section":
            self.sections.append(a.get("id") or "")
        elif tag == "img":
            self.images.append(a.get("src") or "")
        elif tag == "a" and not (a.get("href") or "").startswith("#"):
            self.links.append(a.get("href") or "")
        elif tag == "table":
            self._in_ranking = a.get("id") == "ranking-table"
        elif tag == "tr" and self._in_ranking:
            self._row = []
        elif tag in ("td", "th") and self._row is not None:
            self._cell = []

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None and self._row is not None:
            self._row.append("".join(self._cell).strip())
            self._cell = None
        elif tag == "tr" and self._row is not None:
            self.ranking.append(self._row)
            self._row = None
        elif tag == "table":
            self._in_ranking = False


def _parse(html: str) -> _Page:
    page = _Page()
    page.feed(html)
    return page


def test_sections_ranking_and_grid(report: tuple[Path, dict]) -> None:
    html_path, result = report
    page = _parse(html_path.read_text())
    assert page.sections == [sid for sid, _ in CHECKPOINT_REPORT_SECTIONS]
    header, *rows = page.ranking
    assert header[:5] == ["rank", "LoRA", "checkpoint", "final", "score"]
    assert len(rows) == 5  # 3 epochs of tier_1, 2 of tier_2
    assert [r[0] for r in rows] == ["1", "2", "3", "4", "5"]
    # the epoch that draws the tier's own face ranks first
    assert rows[0][1:4] == ["p/tier_1", "epoch-0003", "yes"]
    assert result["ranking"][0]["checkpoint"] == "epoch-0003"
    # grid: 2 LoRAs x (3 + 2 checkpoints) x 4 prompts, each an embedded thumbnail
    assert len(page.images) == 4 * 5
    for src in page.images:
        with Image.open(io.BytesIO(base64.b64decode(src.split(",", 1)[1]))) as thumb:
            assert thumb.format == "JPEG" and max(thumb.size) <= 96
    # ... linked to the full-size render relative to the report
    assert len(page.links) == 20
    for link in page.links:
        assert (
            link.startswith("checkpoints/p/tier_") and (html_path.parent / unquote(link)).is_file()
        )
    html = html_path.read_text()
    assert 'id="grid-p-tier_1"' in html and "epoch-0003 (final)" in html
    assert "nova woman, close-up portrait" in html


def test_per_category_tables_and_missing_identity(report: tuple[Path, dict]) -> None:
    html_path, result = report
    html = html_path.read_text()
    for metric in ("identity", "face_rate", "adherence", "quality"):
        assert f'data-metric="{metric}"' in html
    assert (
        "Identity is not measured for p/tier_2: no reference descriptors: none of the 1 images"
        in html
    )
    rows = {(r["lora"], r["checkpoint"], r["category"]): r for r in result["categories"]}
    assert rows[("p/tier_2", "epoch-0002", "all")]["identity_reason"] == "no_references"
    assert rows[("p/tier_1", "epoch-0001", "close_up")]["identity_reason"] == "no_face"
    assert rows[("p/tier_1", "epoch-0001", "close_up")]["face_rate"] == 0.0
    assert rows[("p/tier_1", "epoch-0003", "close_up")]["face_rate"] == 1.0
    table = pq.read_table(html_path.parent / "checkpoint_scores.parquet")
    assert table.schema == CATEGORY_SCORES and table.num_rows == 5 * 3
    saved = json.loads((html_path.parent / "checkpoint_report.json").read_text())
    assert [r["rank"] for r in saved["ranking"]] == [1, 2, 3, 4, 5]
    assert len(saved["suite"]) == 4 and set(saved["runs"]) == {"p/tier_1", "p/tier_2"}


def test_ratings_beside_the_metrics(results: Path, tmp_path: Path) -> None:
    run = results / "checkpoints" / "p" / "tier_1"
    renders = pq.read_table(run / "scores.parquet").to_pylist()
    first = [r for r in renders if r["checkpoint"] == "epoch-0001"]
    keys = [f"checkpoints/p/tier_1/{r['file']}" for r in first]
    ratings = tmp_path / "demo_ratings.csv"
    update_ratings(ratings, {
        keys[0]: Rating(keys[0], 5, sha256=sha256_file(results / keys[0])),
        keys[1]: Rating(keys[1], 2),
        keys[2]: Rating(keys[2], 1, sha256="0" * 64),  # an earlier render: left out
    })  # fmt: skip
    scores = [results / "checkpoints" / "p" / f"tier_{n}" / "scores.parquet" for n in (1, 2)]
    out = tmp_path / "report"
    out.mkdir()
    result = write_checkpoint_report(
        scores, results / "checkpoints" / "suite.parquet", out / "checkpoint_report.html",
        out_table=out / "scores.parquet", ratings=ratings, character_root=results,
    )  # fmt: skip
    rating = ("rating_mean", "rating_count", "rating_stale")
    assert [result["runs"]["p/tier_1"][k] for k in rating] == [3.5, 2, 1]
    assert [result["runs"]["p/tier_2"][k] for k in rating] == [None, 0, 0]
    ranked = {(r["lora"], r["checkpoint"]): r for r in result["ranking"]}
    assert ranked[("p/tier_1", "epoch-0001")]["rating_mean"] == 3.5
    assert ranked[("p/tier_1", "epoch-0002")]["rating_mean"] is None
    by_category = {
        r["category"]: [r[k] for k in rating]
        for r in pq.read_table(out / "scores.parquet").to_pylist()
        if r["lora"] == "p/tier_1" and r["checkpoint"] == "epoch-0001"
    }
    per_category = [by_category[r["category"]] for r in first[:3]]
    assert by_category["all"] == [3.5, 2, 1] and per_category[0][1] >= 1
    html = (out / "checkpoint_report.html").read_text()
    row = next(r for r in _parse(html).ranking if r[1:3] == ["p/tier_1", "epoch-0001"])
    assert row[-1] == "3.50 (2)"
    assert "· rated 3.50 (2)" in html  # the run's card: all its rated renders


def test_only_relative_links_and_embedded_images(report: tuple[Path, dict]) -> None:
    html = report[0].read_text()
    assert not re.search(r"<(script|link|iframe|object|embed)\b", html)
    for attr in re.findall(r"""\b(?:src|href)="([^"]*)\"""", html):
        assert attr.startswith(("data:image/jpeg;base64,", "#", "checkpoints/")), attr


def test_a_stale_suite_or_a_missing_run_is_named(results: Path, tmp_path: Path) -> None:
    scores = results / "checkpoints" / "p" / "tier_1" / "scores.parquet"
    other = tmp_path / "suite.parquet"
    write_suite(other, build_suite("nova", "woman", CATEGORIES, per_category=2, seed=2))
    with pytest.raises(ValueError, match="another prompt suite than the current one"):
        write_checkpoint_report([scores], other, tmp_path / "r.html")
    with pytest.raises(FileNotFoundError, match="run the render_checkpoints rule"):
        write_checkpoint_report([tmp_path / "x" / "scores.parquet"], other, tmp_path / "r.html")
    with pytest.raises(ValueError, match="no checkpoint scores to report"):
        write_checkpoint_report([], other, tmp_path / "r.html")
    with pytest.raises(ValueError, match="the same LoRA is listed twice"):
        write_checkpoint_report(
            [scores, scores], results / "checkpoints" / "suite.parquet", tmp_path / "r.html"
        )


def test_opens_in_headless_chromium(report: tuple[Path, dict], tmp_path: Path) -> None:
    html_path, _ = report
    dom = run_chromium(html_path, tmp_path / "profile", "--dump-dom").stdout
    page = _parse(dom)
    assert page.sections == [sid for sid, _ in CHECKPOINT_REPORT_SECTIONS]
    header, *rows = page.ranking
    assert header[:3] == ["rank", "LoRA", "checkpoint"] and len(rows) == 5
    assert rows[0][2] == "epoch-0003"
    assert len(page.images) == 20
    shot = tmp_path / "report.png"
    run_chromium(html_path, tmp_path / "profile", "--window-size=1280,1800", f"--screenshot={shot}")
    with Image.open(shot) as image:
        grey = image.convert("L")
        low, high = grey.getextrema()
        assert low < 80 and high > 240  # a rendered page, not a blank canvas
