"""`charfolio review`'s server: the token gate, the files it serves, what it writes."""

from __future__ import annotations

import csv
import hashlib
import os
import re
import socket
import subprocess
import sys
import threading
from pathlib import Path

import httpx
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from starlette.testclient import TestClient

from charfolio.review.app import create_app
from charfolio.review.serve import bind, is_loopback, serve
from charfolio.review.state import ReviewSettings
from tests.unit.review_fixtures import (
    CHARACTER,
    CHECKPOINT,
    EVIL,
    FRAME,
    IMAGES,
    LEAK,
    Tree,
    make_tree,
)

TOKEN = "right-token-0123456789"
REPO = Path(__file__).resolve().parents[2]
ISO = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")
A, B, C = (row[0] for row in IMAGES[:3])


@pytest.fixture
def tree(tmp_path: Path) -> Tree:
    return make_tree(tmp_path)


LOCAL = "http://127.0.0.1"  # the page answers to loopback names only


def client(tree: Tree, reviewer: str = "ana") -> TestClient:
    settings = ReviewSettings(CHARACTER, str(tree.review_dir), reviewer, TOKEN, str(tree.results))
    return TestClient(create_app(settings), base_url=LOCAL, headers={"X-Charfolio-Token": TOKEN})


def anonymous(tree: Tree) -> TestClient:
    settings = ReviewSettings(CHARACTER, str(tree.review_dir), "ana", TOKEN, str(tree.results))
    return TestClient(create_app(settings), base_url=LOCAL)


def snapshot(root: Path) -> dict[str, tuple[int, int]]:
    """Every file and link under root: (size, mtime_ns), to see what a session wrote."""
    out = {}
    for folder, dirs, files in os.walk(root):
        for name in files + dirs:
            path = Path(folder) / name
            facts = path.lstat()
            out[str(path.relative_to(root))] = (facts.st_size, facts.st_mtime_ns)
    return out


def csv_rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as stream:
        return list(csv.DictReader(stream))


GETS = [
    "/", "/static/review.js", "/static/common.js", "/static/views.js", "/static/review.css",
    "/api/items", "/api/decisions",
    f"/api/detail?file={A}", f"/api/image?file={A}", f"/api/thumb?file={A}", "/api/preview",
    "/api/rateables", "/no/such/route",
]  # fmt: skip
POSTS = [
    ("/api/decisions", {"changes": [{"file": A, "decision": "reject"}]}),
    ("/api/ratings", {"changes": [{"file": FRAME, "rating": 3}]}),
]


def test_every_request_without_the_right_token_is_refused(tree: Tree) -> None:
    before = snapshot(tree.tmp)
    bare = anonymous(tree)
    wrong = [
        {},  # no token at all
        {"params": {"token": "wrong"}},
        {"params": {"token": TOKEN[:-1]}},  # a prefix is not the token
        {"params": {"token": TOKEN + "x"}},
        {"params": {"token": ""}},
        {"headers": {"X-Charfolio-Token": "wrong"}},
        {"headers": {"Cookie": f"token={TOKEN}"}},  # no cookie stands in for it
    ]
    for how in wrong:
        for url in GETS:
            response = bare.get(url, **how)
            assert response.status_code == 403, (url, how, response.status_code)
            assert A not in response.text and "charfolio-token" not in response.text
        for url, body in POSTS:
            assert bare.post(url, json=body, **how).status_code == 403, (url, how)
    assert snapshot(tree.tmp) == before  # a refused POST wrote nothing
    # ... and the right token opens each of them, by query or by header.
    assert bare.get("/", params={"token": TOKEN}).status_code == 200
    assert bare.get(f"/api/image?file={A}", headers={"X-Charfolio-Token": TOKEN}).status_code == 200


def test_the_page_carries_the_token_for_its_own_requests(tree: Tree) -> None:
    page = anonymous(tree).get("/", params={"token": TOKEN})
    assert f'content="{TOKEN}"' in page.text
    assert f"static/review.js?token={TOKEN}" in page.text
    assert page.headers["referrer-policy"] == "no-referrer"  # the URL's token stays here
    assert "default-src 'self'" in page.headers["content-security-policy"]


@pytest.mark.parametrize(
    "file",
    [
        "../../outside/secret.png",
        "images/../../../outside/secret.png",
        "%2e%2e/%2e%2e/outside/secret.png",
        "..%2f..%2foutside%2fsecret.png",
        "%2E%2E%2F%2E%2E%2Foutside%2Fsecret.png",
        "/etc/passwd",
        "{tmp}/outside/secret.png",  # absolute, to the real file
        "{root}/images/seed_1/a.png",  # absolute, even to a served image
        EVIL,  # catalogued, but a symlink planted to point outside
        LEAK,  # listed by a storyboard whose folder is a symlink to outside
        "catalog.parquet",  # inside results, but not an image anyone listed
        "faces.parquet",
        "story/first_day/storyboard.json",
        "images/seed_1",
        "",
    ],
)
@pytest.mark.parametrize("route", ["image", "thumb"])
def test_no_path_outside_the_listed_images_is_served(tree: Tree, route: str, file: str) -> None:
    file = file.format(tmp=tree.tmp, root=tree.root)
    raw = f"/api/{route}?file={file}"  # sent as written: %2e stays encoded on the wire
    response = client(tree).get(raw)
    assert response.status_code == 404, (raw, response.status_code)
    assert response.content[:4] not in (b"\x89PNG", b"\xff\xd8\xff\xe0")


def test_path_tricks_on_the_static_route_are_refused(tree: Tree) -> None:
    c = client(tree)
    for url in ["/static/..%2fapp.py", "/static/%2e%2e%2fapp.py", "/static/index.html",
                "/static/../app.py", "/static/review.js%00"]:  # fmt: skip
        assert c.get(url).status_code == 404, url


def test_the_served_set_is_exactly_the_listed_images_inside_results(tree: Tree) -> None:
    """Ask for every file under the test tree (inside results or not, by its path relative to
    the character): only the catalogued images, the board frame and the checkpoint image that
    stay inside results/hero/ come back, byte for byte."""
    c = client(tree)
    served = set()
    for folder, _, files in os.walk(tree.tmp):
        for name in files:
            path = Path(folder) / name
            key = os.path.relpath(path, tree.root)
            response = c.get("/api/image", params={"file": key})
            if response.status_code == 200:
                assert response.content == path.read_bytes()
                served.add(key)
    expected = {row[0] for row in IMAGES} | {FRAME, CHECKPOINT}
    assert served == expected


def test_thumbnails_are_small_jpegs_made_in_memory(tree: Tree) -> None:
    before = snapshot(tree.tmp)
    response = client(tree).get("/api/thumb", params={"file": A})
    assert response.status_code == 200 and response.headers["content-type"] == "image/jpeg"
    assert response.content[:3] == b"\xff\xd8\xff"
    assert snapshot(tree.tmp) == before  # no thumbnail cache on disk


def test_decisions_are_written_as_exact_rows(tree: Tree) -> None:
    c = client(tree, reviewer="ana")
    answer = c.post("/api/decisions", json={"changes": [
        {"file": A, "decision": "reject", "note": "extra finger"},
        {"file": B, "decision": "star"},
    ]})  # fmt: skip
    assert answer.status_code == 200, answer.text
    assert set(answer.json()["decisions"]) == {A, B}
    rows = {r["file"]: r for r in csv_rows(tree.decisions)}
    assert list(csv_rows(tree.decisions)[0]) == ["file", "decision", "note", "reviewer",
                                                 "reviewed_at", "sha256"]  # fmt: skip
    assert {f: (r["decision"], r["note"], r["reviewer"], r["sha256"]) for f, r in rows.items()} == {
        A: ("reject", "extra finger", "ana", tree.sha256[A]),
        B: ("star", "", "ana", tree.sha256[B]),
    }
    assert all(ISO.fullmatch(r["reviewed_at"]) for r in rows.values())
    # A change that carries no note (a key press) keeps the note on file; an empty one clears it.
    c.post("/api/decisions", json={"changes": [{"file": A, "decision": "star"}]})
    assert {r["file"]: r["note"] for r in csv_rows(tree.decisions)}[A] == "extra finger"
    c.post("/api/decisions", json={"changes": [{"file": A, "decision": "reject", "note": ""}]})
    assert {r["file"]: r["note"] for r in csv_rows(tree.decisions)}[A] == ""
    # null withdraws a decision; the other row stays as it was
    assert (
        c.post("/api/decisions", json={"changes": [{"file": A, "decision": None}]}).status_code
        == 200
    )
    assert [r["file"] for r in csv_rows(tree.decisions)] == [B]
    assert c.get("/api/decisions").json()["decisions"][B]["decision"] == "star"


def test_two_writers_on_one_file_keep_every_row(tree: Tree) -> None:
    """Two servers (two tabs or two people) writing at once: each change is applied to the
    file as it is now, so neither loses the other's rows."""
    files = [row[0] for row in IMAGES]
    writers = [client(tree, "ana"), client(tree, "ben")]
    start = threading.Barrier(2)
    errors: list[str] = []

    def write(k: int) -> None:
        start.wait()
        for round_ in range(5):
            for file in files[k::2]:
                decision = ("accept", "reject", "star")[(round_ + k) % 3]
                r = writers[k].post(
                    "/api/decisions", json={"changes": [{"file": file, "decision": decision}]}
                )
                if r.status_code != 200:
                    errors.append(r.text)

    threads = [threading.Thread(target=write, args=(k,)) for k in (0, 1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    rows = {r["file"]: r for r in csv_rows(tree.decisions)}
    assert set(rows) == set(files)
    assert {rows[f]["reviewer"] for f in files[0::2]} == {"ana"}
    assert {rows[f]["reviewer"] for f in files[1::2]} == {"ben"}
    # the last round's decisions: round 4, writer k
    assert rows[files[0]]["decision"] == ("accept", "reject", "star")[4 % 3]
    assert rows[files[1]]["decision"] == ("accept", "reject", "star")[5 % 3]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"file": A, "decision": "maybe"}, "is not one of accept, reject, star"),
        ({"file": A, "decision": 1}, "is not one of accept, reject, star"),
        ({"file": "images/seed_9/nope.png", "decision": "accept"}, "no image"),
        ({"file": "../outside/secret.png", "decision": "accept"}, "no image"),
        ({"decision": "accept"}, "no image"),
        ({"file": A, "decision": "accept", "note": 5}, "note"),
    ],
)
def test_a_bad_decision_is_refused_with_its_reason(tree: Tree, change: dict, message: str) -> None:
    c = client(tree)
    before = snapshot(tree.tmp)
    # the good change before the bad one is not written either: all or nothing
    r = c.post("/api/decisions", json={"changes": [{"file": B, "decision": "star"}, change]})
    assert r.status_code == 400 and message in r.json()["error"], r.text
    assert snapshot(tree.tmp) == before


def test_malformed_bodies_are_refused(tree: Tree) -> None:
    c = client(tree)
    json_type = {"Content-Type": "application/json"}
    for body in [b"not json", b"{}", b'{"changes": 3}', b'{"changes": [1]}']:
        r = c.post("/api/decisions", content=body, headers=json_type)
        assert r.status_code == 400 and "changes" in r.json()["error"], body
    # A form or text/plain body (what a cross-site form can send) is not read at all.
    good = b'{"changes": [{"file": "%s", "decision": "reject"}]}' % A.encode()
    for kind in ("text/plain", "application/x-www-form-urlencoded"):
        r = c.post("/api/decisions", content=good, headers={"Content-Type": kind})
        assert r.status_code == 415, kind
    assert not tree.decisions.exists()


def test_writes_from_another_site_or_host_name_are_refused(tree: Tree) -> None:
    """What a page on another site could try once it knows the URL (from a log, history):
    a POST with the token in the query, a foreign Origin, or a DNS-rebound host name."""
    change = {"changes": [{"file": A, "decision": "reject"}]}
    c = anonymous(tree)
    assert c.post(f"/api/decisions?token={TOKEN}", json=change).status_code == 403
    tokened = client(tree)
    assert (
        tokened.post(
            "/api/decisions", json=change, headers={"Origin": "http://evil.example"}
        ).status_code
        == 403
    )
    assert tokened.get("/api/items", headers={"Host": "evil.example:8765"}).status_code == 403
    assert not tree.decisions.exists()
    # The page's own requests: same origin, loopback names, header token.
    for host in ("127.0.0.1:8765", "localhost:8765", "[::1]:8765"):
        assert tokened.get("/api/items", headers={"Host": host}).status_code == 200, host
    assert tokened.post("/api/decisions", json=change, headers={"Origin": LOCAL}).status_code == 200
    # Listening elsewhere (--host), the host name is whatever the user browses to.
    settings = ReviewSettings(CHARACTER, str(tree.review_dir), "ana", TOKEN, str(tree.results),
                              loopback_only=False)  # fmt: skip
    remote = TestClient(create_app(settings), base_url="http://review.lan",
                        headers={"X-Charfolio-Token": TOKEN})  # fmt: skip
    assert remote.get("/api/items").status_code == 200


def test_ratings_are_written_with_the_sha256_of_the_image_rated(tree: Tree) -> None:
    c = client(tree, reviewer="ana")
    listed = c.get("/api/rateables").json()["items"]
    assert [i["file"] for i in listed] == [FRAME, CHECKPOINT]  # not the board linking outside
    r = c.post("/api/ratings", json={"changes": [{"file": FRAME, "rating": 4},
                                                 {"file": CHECKPOINT, "rating": 2}]})  # fmt: skip
    assert r.status_code == 200, r.text
    rows = {row["file"]: row for row in csv_rows(tree.ratings)}
    assert {f: (row["rating"], row["reviewer"]) for f, row in rows.items()} == {
        FRAME: ("4", "ana"),
        CHECKPOINT: ("2", "ana"),
    }
    assert rows[FRAME]["sha256"] == hashlib.sha256((tree.root / FRAME).read_bytes()).hexdigest()
    for bad, message in [
        ({"file": FRAME, "rating": 7}, "from 1 to 5"),
        ({"file": FRAME, "rating": "4"}, "from 1 to 5"),
        ({"file": A, "rating": 3}, "no storyboard frame"),  # a catalog image is not rated
        ({"file": LEAK, "rating": 3}, "no storyboard frame"),
        ({"file": "../outside/secret.png", "rating": 3}, "no storyboard frame"),
    ]:
        r = c.post("/api/ratings", json={"changes": [bad]})
        assert r.status_code == 400 and message in r.json()["error"], (bad, r.text)
    assert c.post("/api/ratings", json={"changes": [{"file": FRAME, "rating": None}]}).json() == {
        "ratings": {CHECKPOINT: 2}
    }


def test_a_session_writes_only_the_two_review_files(tree: Tree) -> None:
    before = snapshot(tree.tmp)
    c = client(tree)
    for url in GETS:
        c.get(url)
    for file, *_ in IMAGES:
        c.get("/api/thumb", params={"file": file})
        c.get("/api/image", params={"file": file})
        c.get("/api/detail", params={"file": file})
    for url, body in POSTS:
        assert c.post(url, json=body).status_code == 200
    after = snapshot(tree.tmp)
    changed = {k for k in after.keys() | before.keys() if after.get(k) != before.get(k)}
    assert changed == {"reviews", "reviews/hero.csv", "reviews/hero_ratings.csv"}


def test_items_carry_shot_types_gaps_and_decisions(tree: Tree) -> None:
    c = client(tree)
    c.post("/api/decisions", json={"changes": [{"file": C, "decision": "accept"}]})
    body = c.get("/api/items").json()
    shots = dict(zip(body["columns"]["file"], body["columns"]["shot_type"], strict=True))
    assert [shots[row[0]] for row in IMAGES] == [
        "close_up", "medium", "full_body", "full_body", "unknown", "full_body"
    ]  # fmt: skip
    assert body["gaps"] == {"tier_2": {"full_body": 1}}  # close_up is over, not short
    assert body["decisions"][C]["decision"] == "accept"


def test_the_detail_has_prompts_and_pretty_settings(tree: Tree) -> None:
    row = client(tree).get("/api/detail", params={"file": B}).json()
    assert row["prompt"] == "photo of hero number 1" and row["negative_prompt"] == "blurry"
    assert row["settings_json"] == '{\n  "sampler": "euler",\n  "steps": 30\n}'
    assert row["quality_score"] == 0.8


def test_a_missing_catalog_is_a_clear_error(tmp_path: Path) -> None:
    settings = ReviewSettings(
        CHARACTER, str(tmp_path / "r"), "ana", TOKEN, str(tmp_path / "results")
    )
    out, err = _Capture(), _Capture()
    assert serve(settings, port=0, open_browser=False, out=out, err=err) == 2
    assert "catalog.parquet does not exist" in err.text and out.text == ""


def test_a_busy_port_is_said_clearly(tree: Tree) -> None:
    taken = bind("127.0.0.1", 0)
    try:
        port = taken.getsockname()[1]
        settings = ReviewSettings(CHARACTER, str(tree.review_dir), "ana", TOKEN, str(tree.results))
        out, err = _Capture(), _Capture()
        assert serve(settings, port=port, open_browser=False, out=out, err=err) == 2
        assert f"port {port} on 127.0.0.1 is already in use" in err.text and "--port" in err.text
    finally:
        taken.close()


def test_loopback_hosts() -> None:
    assert all(map(is_loopback, ["127.0.0.1", "127.5.0.1", "::1", "localhost"]))
    assert not any(map(is_loopback, ["0.0.0.0", "192.168.1.4", "::", "example.org"]))


class _Capture:
    def __init__(self) -> None:
        self.text = ""

    def write(self, text: str) -> int:
        self.text += text
        return len(text)

    def flush(self) -> None:
        pass


def test_the_command_help() -> None:
    run = subprocess.run([sys.executable, "-m", "charfolio.cli", "review", "--help"],
                         capture_output=True, text=True, env=_env(), check=True)  # fmt: skip
    for option in ["--character", "--port", "--host", "--no-browser", "--reviewer", "--config"]:
        assert option in run.stdout


def _env() -> dict[str, str]:
    return {
        **os.environ,
        "PYTHONPATH": f"{REPO / 'src'}{os.pathsep}{os.environ.get('PYTHONPATH', '')}",
    }


def test_the_command_prints_the_tokened_url_first_and_serves_it(tree: Tree) -> None:
    config = tree.tmp / "review.yaml"
    config.write_text(f"characters: [{CHARACTER}]\nreview_dir: {tree.review_dir}\n")
    command = [sys.executable, "-m", "charfolio.cli", "review", "--config", str(config),
               "--character", CHARACTER, "--no-browser", "--port", "0", "--reviewer", "cli"]  # fmt: skip
    process = subprocess.Popen(command, cwd=tree.tmp, env=_env(), stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)  # fmt: skip
    try:
        assert process.stdout is not None
        first = process.stdout.readline().strip()
        match = re.fullmatch(r"http://127\.0\.0\.1:(\d+)/\?token=([\w-]{20,})", first)
        assert match, (
            f"first line {first!r}; stderr: {process.stderr.read() if process.poll() is not None else ''}"
        )  # type: ignore[union-attr]
        assert int(match[1]) != 0
        assert httpx.get(first, timeout=10).status_code == 200
        assert httpx.get(first.split("?")[0], timeout=10).status_code == 403
        base = first.split("?")[0]
        r = httpx.post(f"{base}api/decisions", timeout=10, headers={"X-Charfolio-Token": match[2]},
                       json={"changes": [{"file": A, "decision": "accept"}]})  # fmt: skip
        assert r.status_code == 200
        assert [(row["file"], row["reviewer"]) for row in csv_rows(tree.decisions)] == [(A, "cli")]
    finally:
        process.terminate()
        process.wait(timeout=20)


def test_the_binding_is_loopback_by_default() -> None:
    from charfolio.cli import build_parser

    args = build_parser().parse_args(["review", "--character", CHARACTER])
    assert (args.host, args.port, args.no_browser) == ("127.0.0.1", 8765, False)
    sock = bind(args.host, 0)
    try:
        assert sock.getsockname()[0] == "127.0.0.1" and sock.family == socket.AF_INET
    finally:
        sock.close()


def test_the_preview_is_the_tier_change_of_the_decisions_on_file(tmp_path: Path) -> None:
    """alice (catalog_data) with a real selection.parquet: test_reviews shows that these three
    decisions put a05 into tier_2 and take b03 out of it when the selection reruns."""
    from charfolio.catalog.build import build_catalog
    from tests.unit.catalog_data import ALICE, image_file, make_character

    results = tmp_path / "results"
    inputs = make_character(results, "alice", ALICE, {2: None, 4: None})
    build_catalog(**inputs, out_path=results / "alice" / "catalog.parquet")
    settings = ReviewSettings("alice", str(tmp_path / "reviews"), "ana", TOKEN, str(results))
    c = TestClient(create_app(settings), base_url=LOCAL, headers={"X-Charfolio-Token": TOKEN})
    assert c.get("/api/preview").json()["tiers"]["tier_2"] == {"added": [], "removed": []}
    changes = [{"file": image_file("b03"), "decision": "reject"},
               {"file": image_file("a05"), "decision": "star"},
               {"file": image_file("b01"), "decision": "accept"}]  # fmt: skip
    assert c.post("/api/decisions", json={"changes": changes}).status_code == 200
    assert c.get("/api/preview").json()["tiers"]["tier_2"] == {
        "added": [image_file("a05")], "removed": [image_file("b03")]
    }  # fmt: skip


def test_without_a_selection_the_preview_says_so(tree: Tree) -> None:
    answer = client(tree).get("/api/preview").json()
    assert answer["available"] is False and "selection.parquet" in answer["message"]


def test_the_page_files_ship_in_the_wheel() -> None:
    """setuptools packs only the package data pyproject names: the page must be among it."""
    import tomllib

    data = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]
    assert "review/static/*" in data["package-data"]["charfolio"]
    static = REPO / "src" / "charfolio" / "review" / "static"
    names = {"index.html", "common.js", "views.js", "review.js", "review.css"}
    assert {p.name for p in static.iterdir()} == names


def test_decisions_on_images_the_catalog_lost_can_be_withdrawn_not_changed(tree: Tree) -> None:
    """An image removed from an ingested folder leaves its row behind: selection would fail on
    it, so the page lists it and lets the reviewer withdraw it (and nothing else)."""
    gone = "images/seed_9/gone.png"
    tree.decisions.parent.mkdir(parents=True, exist_ok=True)
    tree.decisions.write_text(
        "file,decision,note,reviewer,reviewed_at,sha256\n"
        f"{A},star,,ana,,\n{gone},reject,blurry,ana,,\n"
    )
    c = client(tree)
    assert c.get("/api/decisions").json()["orphans"] == [gone]
    assert c.get("/api/items").json()["orphans"] == [gone]
    refused = c.post("/api/decisions", json={"changes": [{"file": gone, "decision": "accept"}]})
    assert refused.status_code == 400 and "no image" in refused.json()["error"]
    answer = c.post("/api/decisions", json={"changes": [{"file": gone, "decision": None}]})
    assert answer.status_code == 200 and answer.json()["orphans"] == []
    assert [r["file"] for r in csv_rows(tree.decisions)] == [A]
    # a file that was never in the review file is no orphan to withdraw
    never = c.post("/api/decisions", json={"changes": [{"file": gone, "decision": None}]})
    assert never.status_code == 400


def test_a_rebuilt_catalog_is_picked_up_without_a_restart(tree: Tree) -> None:
    c = client(tree)
    first = c.get("/api/items").json()
    catalog = tree.root / "catalog.parquet"
    table = pq.read_table(catalog)
    pq.write_table(table.filter(pc.not_equal(table["file"], A)), catalog)
    os.utime(catalog, ns=(first["catalog_version"] + 10**9,) * 2)  # a later snakemake run
    second = c.get("/api/items").json()
    assert second["catalog_version"] != first["catalog_version"]
    assert A in first["columns"]["file"] and A not in second["columns"]["file"]
    assert c.get("/api/detail", params={"file": A}).status_code == 404
    assert c.get("/api/decisions").json()["catalog_version"] == second["catalog_version"]
