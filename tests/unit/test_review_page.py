"""The review page in Debian's Chromium, driven by Playwright against the real server."""

from __future__ import annotations

import csv
import os
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
import uvicorn

from charfolio.review.app import create_app
from charfolio.review.serve import bind, page_url
from charfolio.review.state import ReviewSettings
from tests.unit.chromium_support import chromium
from tests.unit.review_fixtures import (
    CHARACTER,
    FRAME,
    IMAGES,
    Tree,
    catalog_row,
    make_tree,
    write_catalog,
)

sync_api = pytest.importorskip("playwright.sync_api")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]  # fmt: skip
A, B, C, D, E, F = (row[0] for row in IMAGES)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    executable = chromium()  # skips with the apt hint when Chromium is not installed
    assert shutil.which(executable) or Path(executable).exists()
    with sync_api.sync_playwright() as p:
        launched = p.chromium.launch(executable_path=executable, args=ARGS)
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    # bypass_csp: Playwright evaluates its wait conditions as strings, which the page's CSP
    # (script-src 'self', no eval) forbids; the page itself never evaluates strings.
    context = browser.new_context(viewport={"width": 1280, "height": 900}, bypass_csp=True)
    yield context.new_page()
    context.close()


@contextmanager
def running(settings: ReviewSettings) -> Iterator[str]:
    """The review server on a free loopback port, in a thread; yields the tokened URL."""
    app = create_app(settings)
    sock = bind("127.0.0.1", 0)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "the review server did not start"
        time.sleep(0.02)
    try:
        yield page_url(sock, "127.0.0.1", settings.token)
    finally:
        server.should_exit = True
        thread.join(timeout=20)
        sock.close()


def settings_for(
    tree_results: Path, review_dir: Path, character: str = CHARACTER
) -> ReviewSettings:
    return ReviewSettings(character, str(review_dir), "ana", results_root=str(tree_results))


def rows_of(path: Path) -> dict[str, dict[str, str]]:
    if not path.exists():
        return {}
    with path.open(newline="") as stream:
        return {r["file"]: r for r in csv.DictReader(stream)}


def wait_for(condition: Callable[[], Any], what: str, timeout: float = 15) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def tile(file: str) -> str:
    return f'#spacer .tile[data-file="{file}"]'


@pytest.fixture
def tree(tmp_path: Path) -> Tree:
    return make_tree(tmp_path)


def open_page(page: Any, url: str, tiles: int) -> None:
    page.goto(url)
    page.wait_for_function(f"document.querySelectorAll('#spacer .tile').length === {tiles}")


def test_keys_on_a_filtered_grid_write_the_review_file(page: Any, tree: Tree) -> None:
    with running(settings_for(tree.results, tree.review_dir)) as url:
        open_page(page, url, len(IMAGES) + 1)
        page.select_option("#f-verdict", "rejected")
        page.wait_for_function("document.querySelectorAll('#spacer .tile').length === 3")
        shown = set(page.eval_on_selector_all("#spacer .tile", "ts => ts.map(t => t.dataset.file)"))
        assert shown == {D, E, F}
        page.click(tile(D))
        page.keyboard.press("r")
        wait_for(lambda: rows_of(tree.decisions).get(D), "the reject of d")
        page.click(tile(E))
        page.keyboard.press("s")
        wait_for(lambda: E in rows_of(tree.decisions), "the star of e")
        page.keyboard.press("u")  # undoes the star: e had no decision before
        wait_for(lambda: E not in rows_of(tree.decisions), "the undo of e's star")
        rows = rows_of(tree.decisions)
        assert {f: (r["decision"], r["reviewer"], r["sha256"]) for f, r in rows.items()} == {
            D: ("reject", "ana", tree.sha256[D])
        }
        assert page.inner_text(f"{tile(D)} .badge") == "reject"
        # undo restores a previous decision too, not only none
        page.click(tile(D))
        page.keyboard.press("a")
        wait_for(lambda: rows_of(tree.decisions)[D]["decision"] == "accept", "d accepted")
        page.keyboard.press("u")
        wait_for(lambda: rows_of(tree.decisions)[D]["decision"] == "reject", "d's reject back")
        # a shot-type filter, then the arrow keys move the focus through the grid
        page.select_option("#f-verdict", "")
        page.select_option("#f-shot", "full_body")
        page.wait_for_function("document.querySelectorAll('#spacer .tile').length === 3")
        page.select_option("#f-sort", "file")
        first = page.eval_on_selector("#spacer .tile", "t => t.dataset.file")
        assert first == C  # c.jpg, d.jpg, f.jpg by file name
        page.click(tile(C))
        page.keyboard.press("ArrowRight")
        page.keyboard.press("ArrowRight")
        assert page.get_attribute("#spacer .tile.focused", "data-file") == F
        page.keyboard.press("s")
        wait_for(lambda: rows_of(tree.decisions).get(F, {}).get("decision") == "star", "f starred")
        assert set(rows_of(tree.decisions)) == {D, F}


def test_bulk_actions_on_a_shift_click_selection(page: Any, tree: Tree) -> None:
    with running(settings_for(tree.results, tree.review_dir)) as url:
        open_page(page, url, len(IMAGES) + 1)
        page.select_option("#f-sort", "rank")  # a, b, c (ranks 1-3) first
        page.click(tile(A))
        page.click(tile(C), modifiers=["Shift"])
        assert page.eval_on_selector_all("#spacer .tile.selected", "ts => ts.length") == 3
        page.click('[data-bulk="star"]')
        wait_for(lambda: len(rows_of(tree.decisions)) == 3, "three stars")
        assert {f: r["decision"] for f, r in rows_of(tree.decisions).items()} == {
            A: "star", B: "star", C: "star"
        }  # fmt: skip
        page.click(tile(B), modifiers=["Control"])  # out of the selection
        page.click('[data-bulk="clear"]')
        wait_for(lambda: set(rows_of(tree.decisions)) == {B}, "a and c cleared")
        page.click('[data-bulk="reject"]')  # the selection is still a and c
        wait_for(lambda: len(rows_of(tree.decisions)) == 3, "a and c rejected")
        assert {f: r["decision"] for f, r in rows_of(tree.decisions).items()} == {
            A: "reject", B: "star", C: "reject"
        }  # fmt: skip


def test_a_gap_filter_lists_the_candidates_outside_the_tier(page: Any, tree: Tree) -> None:
    with running(settings_for(tree.results, tree.review_dir)) as url:
        open_page(page, url, len(IMAGES) + 1)
        page.select_option("#f-gap", "tier_2|full_body")
        page.wait_for_function("document.querySelectorAll('#spacer .tile').length === 2")
        shown = page.eval_on_selector_all("#spacer .tile", "ts => ts.map(t => t.dataset.file)")
        assert set(shown) == {C, D}  # f.jpg is full_body too, but unreadable


def test_the_full_size_view_shows_the_prompt_and_settings(page: Any, tree: Tree) -> None:
    with running(settings_for(tree.results, tree.review_dir)) as url:
        open_page(page, url, len(IMAGES) + 1)
        page.dblclick(tile(B))
        page.wait_for_selector("#detail:not([hidden]) dd.prompt")
        assert page.inner_text("dd.prompt") == "photo of hero number 1"
        assert page.inner_text("dd.negative-prompt") == "blurry"
        assert '"sampler": "euler"' in page.inner_text("#detail-settings")
        assert "quality_score" in page.inner_text("#detail-fields")
        page.wait_for_function("document.getElementById('detail-image').naturalWidth === 256")
        page.keyboard.press("Escape")
        assert page.is_hidden("#detail")


def test_the_tier_preview_panel_follows_the_decisions(page: Any, tmp_path: Path) -> None:
    from charfolio.catalog.build import build_catalog
    from tests.unit.catalog_data import ALICE, image_file, make_character

    results = tmp_path / "results"
    inputs = make_character(results, "alice", ALICE, {2: None, 4: None})
    build_catalog(**inputs, out_path=results / "alice" / "catalog.parquet")
    with running(settings_for(results, tmp_path / "reviews", "alice")) as url:
        page.goto(url)
        page.wait_for_selector(tile(image_file("b03")))
        page.wait_for_function(
            "document.getElementById('preview-body').textContent.includes('no tier')"
        )
        for name, key in [("b03", "r"), ("a05", "s"), ("b01", "a")]:
            page.click(tile(image_file(name)))
            page.keyboard.press(key)
        wait_for(lambda: len(rows_of(tmp_path / "reviews" / "alice.csv")) == 3, "3 decisions")
        # b03's reject alone also reads "+1 / -1" (a04 moves up): wait for the final files,
        # which the line lists on hover
        expected = f"+ {image_file('a05')}\n- {image_file('b03')}"
        page.wait_for_function(
            "e => { const t = document.querySelector('.tier-change'); return t && t.title === e; }",
            arg=expected,
        )
        assert page.inner_text(".tier-change") == "tier_2: +1 / -1"


def test_storyboard_frames_are_rated_with_the_number_keys(page: Any, tree: Tree) -> None:
    with running(settings_for(tree.results, tree.review_dir)) as url:
        open_page(page, url, len(IMAGES) + 1)
        page.click("#tab-ratings")
        page.wait_for_selector(f'.rating-tile[data-file="{FRAME}"]')
        page.click(f'.rating-tile[data-file="{FRAME}"] img')
        page.keyboard.press("4")
        wait_for(lambda: rows_of(tree.ratings).get(FRAME), "the frame's rating")
        assert rows_of(tree.ratings)[FRAME]["rating"] == "4"
        page.click(f'.rating-tile[data-file="{FRAME}"] button[data-rating="2"]')
        wait_for(lambda: rows_of(tree.ratings)[FRAME]["rating"] == "2", "the button's rating")


def test_thirty_thousand_images_stay_a_small_dom(page: Any, tmp_path: Path) -> None:
    n = 30_000
    results = tmp_path / "results"
    rows = [
        catalog_row(character=CHARACTER, file=f"images/seed_{k // 1000}/img_{k:05d}.png",
                    path=f"{CHARACTER}/images/seed_{k // 1000}/img_{k:05d}.png", seed=k // 1000,
                    sha256=f"{k:064x}", face_verdict="ok", readable=True,
                    quality_score=1 - k / n, cluster=k % 12, verdict="passed", rank=k + 1,
                    tiers=["tier_70"] if k < 70 else [], exists=False)
        for k in range(n)
    ]  # fmt: skip
    write_catalog(results / CHARACTER / "catalog.parquet", rows)
    with running(settings_for(results, tmp_path / "reviews")) as url:
        started = time.monotonic()
        page.goto(url)
        page.wait_for_selector(tile("images/seed_0/img_00000.png"))
        first_render = time.monotonic() - started
        count = "document.querySelectorAll('#spacer .tile').length"
        tiles = page.evaluate(count)
        report = f"first render {first_render:.2f} s ({page.evaluate('document.body.dataset.firstRenderMs')} ms in the page), {tiles} tiles in the DOM"
        assert 0 < tiles <= 120, report
        page.evaluate("document.getElementById('grid').scrollTop = 1e9")
        last = tile(f"images/seed_29/img_{n - 1:05d}.png")
        page.wait_for_selector(last, timeout=15000)
        assert page.evaluate(count) <= 120, report
        page.click(last)
        page.keyboard.press("a")
        wait_for(
            lambda: rows_of(tmp_path / "reviews" / f"{CHARACTER}.csv"), "the last image's accept"
        )
        page.keyboard.press("ArrowLeft")
        assert page.get_attribute("#spacer .tile.focused", "data-file").endswith(
            f"{n - 2:05d}.png"
        ), report
        page.keyboard.press("Home")  # the first image, and the grid scrolls back to it
        page.wait_for_selector(f"{tile('images/seed_0/img_00000.png')}.focused")
        page.keyboard.press("End")
        page.wait_for_selector(f"{last}.focused")
        assert page.evaluate(count) <= 120, report
        print(report)


def test_the_page_withdraws_orphans_and_follows_a_rebuilt_catalog(page: Any, tree: Tree) -> None:
    gone = "images/seed_9/gone.png"
    tree.decisions.parent.mkdir(parents=True, exist_ok=True)
    tree.decisions.write_text(
        f"file,decision,note,reviewer,reviewed_at,sha256\n{gone},reject,,ana,,\n"
    )
    with running(settings_for(tree.results, tree.review_dir)) as url:
        open_page(page, url, len(IMAGES) + 1)
        page.wait_for_selector("#orphans:not([hidden])")
        page.click("#orphans")
        wait_for(lambda: not rows_of(tree.decisions), "the orphan row withdrawn")
        page.wait_for_selector("#orphans", state="hidden")
        # A snakemake run rebuilds the catalog without D while the page is open.
        catalog = tree.root / "catalog.parquet"
        table = pq.read_table(catalog)
        pq.write_table(table.filter(pc.not_equal(table["file"], D)), catalog)
        os.utime(catalog, ns=(catalog.stat().st_mtime_ns + 10**9,) * 2)
        page.click(tile(A))
        page.keyboard.press("a")  # the answer carries the new catalog version: reload
        page.wait_for_function(
            f"document.querySelectorAll('#spacer .tile').length === {len(IMAGES)}"
        )
        assert page.query_selector(tile(D)) is None
        assert rows_of(tree.decisions)[A]["decision"] == "accept"
