"""The HTML report: self-contained, every section present, and rendered by headless Chromium."""

from __future__ import annotations

import base64
import io
import re
import shutil
import struct
import zlib
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from charfolio.catalog.report import CURATION_REPORT_SECTIONS, write_report
from charfolio.catalog.report.page import REVIEW_URL

from .catalog_data import build_results
from .chromium_support import run_chromium


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("report") / "results"
    build_results(root)
    return root


@pytest.fixture(scope="module")
def report(results: Path) -> Path:
    return write_report(results / "alice", results / "alice" / "report.html")


class _Ids(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.sections: list[str] = []
        self.images: list[str] = []
        self.svgs = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "section":
            self.sections.append(a.get("id") or "")
        elif tag == "img":
            self.images.append(a.get("src") or "")
        elif tag == "svg":
            self.svgs += 1


def _parse(html: str) -> _Ids:
    parser = _Ids()
    parser.feed(html)
    return parser


def test_every_section_in_order(report: Path) -> None:
    parsed = _parse(report.read_text())
    assert parsed.sections == [sid for sid, _ in CURATION_REPORT_SECTIONS]
    assert parsed.svgs == 6  # funnel, three histograms, seeds, clusters


def test_self_contained(report: Path) -> None:
    html = report.read_text()
    assert not re.search(r"<(script|link|iframe|object|embed)\b", html)
    assert "@import" not in html
    assert not re.search(r"""url\(\s*['"]?(?!data:)""", html)
    for attr in re.findall(r"""\b(?:src|href)="([^"]*)\"""", html):
        assert attr.startswith(("data:image/jpeg;base64,", "#")) or attr == REVIEW_URL, attr
    # the other URLs: the SVG namespace, an identifier never fetched, and the link to the local
    # review page, followed only when clicked
    assert set(re.findall(r"https?://[^\s\"'<>)]+", html)) == {
        "http://www.w3.org/2000/svg",
        REVIEW_URL,
    }


def test_review_section_says_how_to_review(results: Path, tmp_path: Path) -> None:
    html = write_report(results / "alice", tmp_path / "r.html", review_dir="my/reviews").read_text()
    section = html.split('<section id="review">')[1].split("</section>")[0]
    assert "<code>charfolio review --config CONFIG... --character alice</code>" in section
    assert f'<a href="{REVIEW_URL}">' in section and "token" in section
    assert "<code>my/reviews/alice.csv</code>" in section and "selection" in section
    assert "<code>my/reviews/alice_ratings.csv</code>" in section
    assert "No reviewer decisions were applied" in section
    assert "accept" in section and "reject" in section and "star" in section
    assert '<a href="#review">Review</a>' in html  # in the table of contents


def test_thumbnails_are_small_jpegs(report: Path) -> None:
    images = _parse(report.read_text()).images
    assert images
    for src in images:
        data = base64.b64decode(src.split(",", 1)[1])
        with Image.open(io.BytesIO(data)) as image:
            assert image.format == "JPEG" and max(image.size) <= 112
    assert report.stat().st_size < 300_000


def test_content(report: Path) -> None:
    html = report.read_text()
    assert "<h1>alice</h1>" in html
    # The balanced thresholds on their measures' histograms (the data has no new measures).
    for marker in ("min 0.7", "min 280", "min 30"):
        assert marker in html
    for reason in ("no face", "multiple faces", "duplicate", "low sharpness", "low quality score"):
        assert f">{reason} <span" in html
    assert 'id="sheet-tier_2"' in html and 'id="sheet-tier_4"' in html
    assert 'id="cluster-0"' in html and 'id="cluster-1"' in html
    assert "tier_2 plus these 2" in html
    # The duplicate rule in force, and how the copy matched its kept image.
    assert "<dd>same bytes or pHash within 4 bits</dd>" in html
    assert "duplicate of images/seed_100/a03.png (phash)" in html


def test_caps_say_what_is_not_shown(results: Path, tmp_path: Path) -> None:
    out = write_report(
        results / "alice", tmp_path / "r.html", per_reason=1, per_cluster=2, per_tier=1
    )
    html = out.read_text()
    block = html.split('id="reject-no_face"')[1].split("<h3")[0]
    assert block.count("<figure") == 1 and "and 1 more not shown" in block
    cluster0 = html.split('id="cluster-0"')[1].split("<h3")[0]
    assert cluster0.count("<figure") == 2 and "and 3 more not shown" in cluster0


def _bob_report_over(results: Path, images: Path, out: Path) -> Path:
    """bob's report from explicit paths, with its images read from `images`."""
    return write_report(
        None,
        out,
        catalog=results / "bob" / "catalog.parquet",
        selection_report=results / "bob" / "selection_report.json",
        images_root=images,
    )


def test_explicit_paths_and_a_missing_image(results: Path, tmp_path: Path) -> None:
    images = tmp_path / "images_root"
    shutil.copytree(results / "bob", images, symlinks=True)
    (images / "images/seed_300/c00.png").unlink()
    out = _bob_report_over(results, images, tmp_path / "bob.html")
    html = out.read_text()
    assert '<div class="missing">missing</div>' in html
    assert _parse(html).sections == [sid for sid, _ in CURATION_REPORT_SECTIONS]


def _header_bomb_png(width: int, height: int) -> bytes:
    """A PNG whose header declares width x height RGB pixels, with almost no data behind it."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 100)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")
    )


def test_a_decompression_bomb_is_a_placeholder_not_a_failed_report(
    results: Path, tmp_path: Path
) -> None:
    # 30000 x 30000 is past Pillow's own bomb guard (2 x 89.5 MP): Image.open raises
    # DecompressionBombError, which is neither an OSError nor a ValueError.
    images = tmp_path / "images_root"
    shutil.copytree(results / "bob", images, symlinks=True)
    (images / "images/seed_300/c00.png").write_bytes(_header_bomb_png(30000, 30000))
    out = _bob_report_over(results, images, tmp_path / "bob.html")
    assert '<div class="missing">missing</div>' in out.read_text()


def test_errors_name_the_file(results: Path, tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"nowhere/catalog\.parquet not found"):
        write_report(tmp_path / "nowhere", tmp_path / "r.html")
    with pytest.raises(ValueError, match=r"the catalog is stale"):
        write_report(
            None,
            tmp_path / "r.html",
            catalog=results / "bob" / "catalog.parquet",
            selection_report=results / "alice" / "selection_report.json",
        )


def test_renders_in_headless_chromium(report: Path, tmp_path: Path) -> None:
    dom = run_chromium(report, tmp_path / "profile", "--dump-dom").stdout
    parsed = _parse(dom)
    assert parsed.sections == [sid for sid, _ in CURATION_REPORT_SECTIONS]
    assert parsed.svgs == 6
    assert len(parsed.images) == len(_parse(report.read_text()).images)
    for sid, title in CURATION_REPORT_SECTIONS:
        assert re.search(rf'<section id="{sid}"><h2>{re.escape(title)}</h2>', dom)


def test_screenshot_in_headless_chromium(report: Path, tmp_path: Path) -> None:
    shot = tmp_path / "report.png"
    run_chromium(report, tmp_path / "profile", "--window-size=1280,2400", f"--screenshot={shot}")
    with Image.open(shot) as image:
        assert image.size == (1280, 2400)
        grey = image.convert("L")
        # a rendered page: the dark header, white cards and charts, not a blank canvas
        low, high = grey.getextrema()
        assert low < 80 and high > 240
        assert sum(1 for count in grey.histogram() if count) > 20


def test_every_gated_measure_has_its_histogram_and_threshold(tmp_path: Path) -> None:
    import dataclasses

    from charfolio.catalog.report.charts import MEASURE_CHARTS, quality_section
    from charfolio.catalog.report.data import ReportData
    from charfolio.curate import PRESETS

    thresholds = dataclasses.asdict(PRESETS["balanced"])
    rng = np.random.default_rng(0)
    rows = [
        {
            "readable": True,
            "verdict": "passed" if i % 2 else "rejected",
            "quality_score": float(rng.uniform(0.5, 1)),
            **{chart.column: float(rng.uniform(0.1, 0.9)) for chart in MEASURE_CHARTS},
            "working_scale": 1.0,
        }
        for i in range(40)
    ]
    data = ReportData("x", rows, {"parameters": {"thresholds": thresholds, "tiers": {}}}, tmp_path)
    html = quality_section(data)
    for chart in MEASURE_CHARTS:
        assert chart.title in html
        for field in chart.thresholds:
            if thresholds[field] is not None:
                assert f"{field[:3]} {thresholds[field]:g}" in html, field
    # Every gate of Thresholds is drawn on some histogram.
    drawn = {field for chart in MEASURE_CHARTS for field in chart.thresholds}
    assert drawn == {f.name for f in dataclasses.fields(PRESETS["balanced"])} - {
        "min_face_confidence",
        "min_quality_score",
    }


def test_thumbnails_follow_the_configured_pixel_limit(results: Path, tmp_path: Path) -> None:
    """quality.max_pixels, not a fixed cap: over it a thumbnail is a placeholder, under it not."""
    kwargs = {
        "catalog": results / "bob" / "catalog.parquet",
        "selection_report": results / "bob" / "selection_report.json",
        "images_root": results / "bob",
    }
    roomy = write_report(None, tmp_path / "roomy.html", max_pixels=10_000, **kwargs).read_text()
    tight = write_report(None, tmp_path / "tight.html", max_pixels=10, **kwargs).read_text()
    assert "data:image/jpeg" in roomy and '<div class="missing">' not in roomy
    assert "data:image/jpeg" not in tight and '<div class="missing">missing</div>' in tight
