"""The review page's Starlette app: a small JSON API, images and the page, behind the gate.

Every request passes security.TokenGate first, so another local user or a web page in the
browser cannot read the images or write decisions. Files are served by key (files.py), and
the only files written are the character's decisions and ratings CSVs.
"""

from __future__ import annotations

import contextlib
import html
import threading
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from charfolio.core.digest import sha256_file
from charfolio.core.keyed_csv import CsvFileError
from charfolio.core.ratings import RATINGS, Rating, read_ratings, update_ratings
from charfolio.curate.decisions import (
    DECISIONS,
    Decision,
    now_iso,
    read_decisions,
    update_decisions,
)
from charfolio.curate.review_preview import tier_changes
from charfolio.review.catalog_view import CatalogError, detail
from charfolio.review.security import SECURITY_HEADERS, TokenGate
from charfolio.review.state import Review, ReviewSettings, catalog_version

STATIC = {
    "common.js": "text/javascript",
    "views.js": "text/javascript",
    "review.js": "text/javascript",
    "review.css": "text/css",
}


def decision_record(d: Decision) -> dict[str, str]:
    return {"decision": d.decision, "note": d.note, "reviewer": d.reviewer,
            "reviewed_at": d.reviewed_at}  # fmt: skip


def refused(message: str, status: int = 400) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status, headers=SECURITY_HEADERS)


def ok(body: Any) -> JSONResponse:
    return JSONResponse(body, headers=SECURITY_HEADERS)


MAX_BODY = 32 << 20  # a bulk action on 200,000 images is about 20 MB of JSON


async def changes_of(request: Request) -> list[Mapping[str, Any]] | JSONResponse:
    if request.headers.get("content-type", "").split(";")[0].strip() != "application/json":
        return refused("send the changes as application/json", 415)
    if int(request.headers.get("content-length") or 0) > MAX_BODY:
        return refused(f"a request may carry at most {MAX_BODY >> 20} MB of changes", 413)
    try:
        body = await request.json()
        changes = body["changes"]
        if not isinstance(changes, list) or not all(isinstance(c, dict) for c in changes):
            raise TypeError
    except (ValueError, KeyError, TypeError):
        return refused('send JSON {"changes": [{"file": ..., ...}, ...]}')
    return changes


def create_app(settings: ReviewSettings) -> Starlette:
    loaded = Review(settings)
    reloading = threading.Lock()

    def review() -> Review:
        """The review over the catalog as it is now: a snakemake run may rebuild it while the
        page is open, and the page then reloads its items (catalog_version changed)."""
        nonlocal loaded
        with reloading:
            if catalog_version(loaded.results) != loaded.catalog_version:
                # mid-rebuild or gone: keep showing the last one
                with contextlib.suppress(CatalogError):
                    loaded = Review(settings)
            return loaded

    character = settings.character
    static = resources.files("charfolio.review") / "static"

    def page(request: Request) -> Response:
        text = (static / "index.html").read_text(encoding="utf-8")
        text = text.replace("{{TOKEN}}", html.escape(settings.token))
        text = text.replace("{{CHARACTER}}", html.escape(character))
        return Response(text, media_type="text/html", headers=SECURITY_HEADERS)

    def static_file(request: Request) -> Response:
        name = request.path_params["name"]
        if name not in STATIC:
            return refused(f"no static file {name!r}", 404)
        return Response(
            (static / name).read_bytes(), media_type=STATIC[name], headers=SECURITY_HEADERS
        )

    def decisions_on_file() -> dict[str, Decision]:
        return read_decisions(review().decisions_path)

    def decisions_answer(on_file: Mapping[str, Decision]) -> dict[str, Any]:
        """The decisions as the page keeps them, the catalog version it shows (a rebuilt
        catalog makes the page reload its items), and the decisions on images the catalog no
        longer has (removed from an ingested folder, say), which the page can withdraw."""
        current = review()
        return {
            "decisions": {f: decision_record(d) for f, d in on_file.items()},
            "catalog_version": current.catalog_version,
            "orphans": sorted(f for f in on_file if f not in current.row_of),
        }

    def items(request: Request) -> Response:
        try:
            on_file = decisions_on_file()
        except CsvFileError as error:  # a hand edit broke the file: say where
            return refused(str(error), 409)
        return ok({
            "character": character, "reviewer": settings.reviewer, "columns": review().tiles,
            "gaps": review().gaps, "decision_values": list(DECISIONS),
            "review_file": review().decisions_path, **decisions_answer(on_file),
        })  # fmt: skip

    def current_decisions(request: Request) -> Response:
        try:
            return ok(decisions_answer(decisions_on_file()))
        except CsvFileError as error:
            return refused(str(error), 409)

    async def post_decisions(request: Request) -> Response:
        changes = await changes_of(request)
        if isinstance(changes, JSONResponse):
            return changes
        update: dict[str, Decision | None] = {}
        at = now_iso()
        try:  # a change without a note keeps the note on file (typed into the CSV, say)
            notes = {f: d.note for f, d in decisions_on_file().items()}
        except CsvFileError as error:
            return refused(str(error), 409)
        for change in changes:
            file, value = change.get("file"), change.get("decision")
            orphan = value is None and file in notes  # withdrawing a row the catalog lost
            if not isinstance(file, str) or (file not in review().row_of and not orphan):
                return refused(f"no image {file!r} in the catalog of {character}")
            if value is not None and value not in DECISIONS:
                return refused(
                    f"decision {value!r} for {file} is not one of {', '.join(DECISIONS)} "
                    f"(or null to withdraw it)"
                )
            note = change["note"] if "note" in change else notes.get(file, "")
            note = note or ""
            if not isinstance(note, str):
                return refused(f"note for {file} must be text")
            update[file] = None if value is None else Decision(
                file, value, note, settings.reviewer, at, review().sha256_of[file] or ""
            )  # fmt: skip
        try:
            written = await run_in_threadpool(update_decisions, review().decisions_path, update)
        except CsvFileError as error:
            return refused(str(error), 409)
        return ok(decisions_answer(written))

    def detail_of(request: Request) -> Response:
        file = request.query_params.get("file", "")
        if file not in review().row_of:
            return refused(f"no image {file!r} in the catalog of {character}", 404)
        row = review().table.slice(review().row_of[file], 1).to_pylist()[0]
        return ok(detail(row))

    def image(request: Request) -> Response:
        read = review().files.read(request.query_params.get("file", ""))
        if read is None:
            return refused("no such image in this character's results", 404)
        return Response(read[0], media_type=read[1], headers=SECURITY_HEADERS)

    def thumb(request: Request) -> Response:
        path = review().files.path(request.query_params.get("file", ""))
        jpeg = None if path is None else review().thumbs.jpeg(path)
        if jpeg is None:
            return refused("no such image in this character's results", 404)
        return Response(jpeg, media_type="image/jpeg", headers=SECURITY_HEADERS)

    def preview(request: Request) -> Response:
        selection = review().results.selection
        if not Path(selection).is_file():
            return ok({"available": False, "message": f"no {selection} yet: run the selection"})
        try:
            changes = tier_changes(selection, read_decisions(review().decisions_path))
        except ValueError as error:  # incl. ReviewFileError: a decision the selection lacks
            return ok({"available": False, "message": str(error)})
        return ok({"available": True, "tiers": {
            t: {"added": list(c.added), "removed": list(c.removed)} for t, c in changes.items()
        }})  # fmt: skip

    def ratings() -> dict[str, int]:
        return {f: r.rating for f, r in read_ratings(review().ratings_path).items()}

    def rateable_items(request: Request) -> Response:
        found = review().refresh_rateables()
        return ok({
            "items": [{"file": r.file, "group": r.group, "label": r.label} for r in found],
            "ratings": ratings(), "ratings_file": review().ratings_path,
        })  # fmt: skip

    async def post_ratings(request: Request) -> Response:
        changes = await changes_of(request)
        if isinstance(changes, JSONResponse):
            return changes
        update: dict[str, Rating | None] = {}
        at = now_iso()
        for change in changes:
            file, value = change.get("file"), change.get("rating")
            path = review().files.path(file) if isinstance(file, str) else None
            if file not in review().rateable_keys or path is None:
                return refused(f"no storyboard frame or checkpoint image {file!r} of {character}")
            if value is not None and value not in RATINGS:
                return refused(f"rating {value!r} for {file} is not a whole number from 1 to 5")
            sha = await run_in_threadpool(sha256_of_file, path)
            if sha is None:
                return refused(f"{file} cannot be read", 404)
            update[file] = (
                None if value is None else Rating(file, value, settings.reviewer, at, sha)
            )
        try:
            written = await run_in_threadpool(update_ratings, review().ratings_path, update)
        except CsvFileError as error:
            return refused(str(error), 409)
        return ok({"ratings": {f: r.rating for f, r in written.items()}})

    routes = [
        Route("/", page),
        Route("/static/{name}", static_file),
        Route("/api/items", items),
        Route("/api/decisions", current_decisions, methods=["GET"]),
        Route("/api/decisions", post_decisions, methods=["POST"]),
        Route("/api/detail", detail_of),
        Route("/api/image", image),
        Route("/api/thumb", thumb),
        Route("/api/preview", preview),
        Route("/api/rateables", rateable_items),
        Route("/api/ratings", post_ratings, methods=["POST"]),
    ]
    app = Starlette(routes=routes)
    app.add_middleware(TokenGate, token=settings.token, loopback_only=settings.loopback_only)
    return app


def sha256_of_file(path: Path) -> str | None:
    try:
        return sha256_file(path)  # a FIFO or device is refused, not read
    except OSError:
        return None
