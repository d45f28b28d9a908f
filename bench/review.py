"""Benchmark the review page on a large catalog: server load, payload, preview, page in Chromium.

Builds a character of N images (default 30,000: a season of film frames) in a temporary
folder: a catalog.parquet and a selection.parquet with the real schemas, every image a link
to one of a few real photo crops, then measures what a reviewer waits for:

- the server: catalog load (create_app), /api/items time and size, peak RSS;
- the preview ("tier_70: +2 / -1"): /api/preview after a decision, i.e. the whole ranking
  and tier fill redone for N rows;
- the page in Debian's headless Chromium: time to the first tiles, to a filter applied, to
  the last image after scrolling to the end, and the most tiles in the DOM at once.

Prints one JSON object with `targets_met`. Usage: python bench/review.py [--images N]
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import shutil
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import pyarrow as pa
import uvicorn
from PIL import Image
from skimage import data
from starlette.testclient import TestClient

from charfolio.core import tables
from charfolio.core.layout import Results, tier_folder
from charfolio.curate.selection import SelectionResult, SelectionRow, rank_and_fill
from charfolio.curate.selection_io import write_selection
from charfolio.curate.thresholds import PRESETS
from charfolio.review.app import create_app
from charfolio.review.serve import bind, page_url
from charfolio.review.state import ReviewSettings

CHARACTER = "season"
TIERS = {20: None, 70: None, 100: None, 200: None, 300: None}
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]  # fmt: skip
# What a reviewer should not wait longer than, on this 2-core machine.
TARGETS = {
    "server_load_s": 5.0,
    "items_ms": 1500.0,
    "preview_ms": 1500.0,
    "first_tiles_ms": 3000.0,
    "filter_ms": 500.0,
    "scroll_to_end_ms": 1500.0,
    "max_dom_tiles": 200,
}


def _default(field: pa.Field) -> Any:
    if field.nullable:
        return None
    if pa.types.is_list(field.type):
        return []
    if pa.types.is_boolean(field.type):
        return False
    return "" if pa.types.is_string(field.type) else 0


def build_character(results: Path, n: int) -> None:
    """N catalogued images (links to 8 real crops) and the selection they came from."""
    root = Path(Results(str(results)).character(CHARACTER).root)
    crops = root / "crops"
    crops.mkdir(parents=True)
    photo = data.astronaut()
    for i in range(8):
        Image.fromarray(photo[i * 20 : i * 20 + 320, i * 20 : i * 20 + 320]).save(
            crops / f"{i}.png"
        )
    generator = random.Random(0)
    verdicts = ("passed",) * 3 + ("rejected",)
    reasons = ("low_sharpness", "duplicate", "no_face", "low_quality_score")
    rows: dict[str, dict[str, Any]] = {}
    for i in range(n):
        seed = 1000 + i // 500
        file = f"images/seed_{seed}/frame_{i:06d}.png"
        (root / file).parent.mkdir(parents=True, exist_ok=True)
        (root / file).symlink_to(crops / f"{i % 8}.png")
        verdict = verdicts[i % 4]
        reason = None if verdict == "passed" else reasons[i // 4 % 4]
        rows[file] = {
            "file": file, "sha256": f"{i:064x}", "seed": seed, "mode": "scenario",
            "scenario": f"scene {i % 60}", "prompt": f"zxq person, scene {i % 60}",
            "cluster": None if reason == "no_face" else generator.randrange(40),
            "quality_score": round(generator.random(), 4), "sharpness": 300.0, "contrast": 60.0,
            "face_confidence": 0.97, "face_verdict": "no_face" if reason == "no_face" else "ok",
            "face_pass": reason != "no_face", "unique_pass": None, "thresholds_pass": None,
            "score_pass": None, "verdict": verdict, "reject_reason": reason,
            **dict.fromkeys(tables.DUPLICATE_EVIDENCE_COLUMNS), "rank": None, "tiers": (),
            **dict.fromkeys(tables.REVIEW_DECISION_COLUMNS),
            "pipeline_verdict": verdict, "pipeline_reject_reason": reason,
        }  # fmt: skip
    members = rank_and_fill(rows, "balanced", 3, TIERS)
    write_selection(
        SelectionResult(
            rows=tuple(SelectionRow(**r) for r in rows.values()),
            thresholds=PRESETS["balanced"],
            strategy="balanced",
            per_cluster=3,
            tiers=TIERS,
            duplicate_distance=None,
            members=members,
        ),
        root / "selection.parquet",
    )
    catalog = []
    for r in rows.values():
        row = {f.name: _default(f) for f in tables.CATALOG}
        row.update({k: v for k, v in r.items() if k in tables.CATALOG.names})
        row.update(character=CHARACTER, path=f"{CHARACTER}/{r['file']}", tiers=list(r["tiers"]))
        row.update(settings_json="{}", negative_prompt="blurry", width=320, height=320)
        catalog.append(row)
    tables.write_table(root / "catalog.parquet", catalog, tables.CATALOG)


def measure_server(settings: ReviewSettings, n: int) -> tuple[Any, dict[str, Any]]:
    started = time.perf_counter()
    app = create_app(settings)
    load_s = time.perf_counter() - started
    client = TestClient(
        app, base_url="http://127.0.0.1", headers={"X-Charfolio-Token": settings.token}
    )
    started = time.perf_counter()
    items = client.get("/api/items")
    items_ms = (time.perf_counter() - started) * 1000
    assert items.status_code == 200, items.text
    some = f"images/seed_1000/frame_{n // 2:06d}.png"
    client.post("/api/decisions", json={"changes": [{"file": some, "decision": "star"}]})
    started = time.perf_counter()
    preview = client.get("/api/preview")
    preview_ms = (time.perf_counter() - started) * 1000
    assert preview.status_code == 200, preview.text
    client.post("/api/decisions", json={"changes": [{"file": some, "decision": None}]})
    return app, {
        "server_load_s": round(load_s, 3),
        "items_ms": round(items_ms, 1),
        "items_bytes": len(items.content),
        "preview_ms": round(preview_ms, 1),
    }


def measure_page(app: Any, token: str, n: int) -> dict[str, Any]:
    from playwright.sync_api import sync_playwright

    sock = bind("127.0.0.1", 0)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.02)
    tiles = "document.querySelectorAll('#spacer .tile').length"
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(
                executable_path=shutil.which("chromium"), args=CHROMIUM_ARGS
            )
            context = browser.new_context(viewport={"width": 1400, "height": 900}, bypass_csp=True)
            page = context.new_page()
            started = time.perf_counter()
            page.goto(page_url(sock, "127.0.0.1", token))
            page.wait_for_function(f"{tiles} > 0", timeout=60_000)
            first_ms = (time.perf_counter() - started) * 1000
            most = page.evaluate(tiles)
            started = time.perf_counter()
            page.select_option("#f-verdict", "rejected")  # every 4th image is a reject
            page.wait_for_function(
                "t => document.getElementById('tab-images').textContent.includes(t)",
                arg=f"({n // 4} of {n} shown",
            )
            filter_ms = (time.perf_counter() - started) * 1000
            page.select_option("#f-verdict", "")
            page.select_option("#f-sort", "file")  # the last image is the last frame
            page.wait_for_function(f"{tiles} > 0")
            started = time.perf_counter()
            page.eval_on_selector("#grid", "g => { g.scrollTop = g.scrollHeight; }")
            page.wait_for_function(
                "f => { const g = document.getElementById('grid'); return g.scrollTop > 0 && "
                "document.querySelector(`#spacer .tile[data-file='${f}']`) !== null; }",
                arg=f"images/seed_{1000 + (n - 1) // 500}/frame_{n - 1:06d}.png",
            )
            scroll_ms = (time.perf_counter() - started) * 1000
            for _ in range(40):  # scroll through the grid, counting the tiles in the DOM
                page.eval_on_selector(
                    "#grid", "g => { g.scrollTop = Math.random() * g.scrollHeight; }"
                )
                page.wait_for_timeout(25)
                most = max(most, page.evaluate(tiles))
            browser.close()
    finally:
        server.should_exit = True
        thread.join(timeout=20)
        sock.close()
    return {
        "first_tiles_ms": round(first_ms, 1),
        "filter_ms": round(filter_ms, 1),
        "scroll_to_end_ms": round(scroll_ms, 1),
        "max_dom_tiles": most,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=30_000)
    n = parser.parse_args().images
    with tempfile.TemporaryDirectory() as tmp:
        results = Path(tmp) / "results"
        started = time.perf_counter()
        build_character(results, n)
        build_s = time.perf_counter() - started
        settings = ReviewSettings(
            CHARACTER, str(Path(tmp) / "reviews"), "bench", results_root=str(results)
        )
        app, server = measure_server(settings, n)
        page = measure_page(app, settings.token, n)
    measured = server | page
    met = {key: measured[key] <= limit for key, limit in TARGETS.items()}
    print(json.dumps({
        "images": n,
        "fixture_build_s": round(build_s, 1),
        **measured,
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "tiers": [tier_folder(t) for t in TIERS],
        "targets": TARGETS,
        "targets_met": all(met.values()),
        "missed": sorted(k for k, ok in met.items() if not ok),
    }, indent=2))  # fmt: skip


if __name__ == "__main__":
    main()
