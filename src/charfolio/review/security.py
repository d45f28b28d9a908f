"""The review page's gate: the token on every request, and more for writes.

The token comes as `?token=` (the URL `charfolio review` prints, and the page's image URLs)
or the X-Charfolio-Token header the page's fetches send.
"""

from __future__ import annotations

import secrets
from urllib.parse import parse_qs, urlsplit

from starlette.responses import PlainTextResponse
from starlette.types import ASGIApp, Receive, Scope, Send

TOKEN_HEADER = "x-charfolio-token"
# No inline script, nothing from elsewhere, and the tokened URL never leaks in a Referer.
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self'; style-src 'self'; "
    "script-src 'self'; connect-src 'self'; frame-ancestors 'none'",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
}


LOOPBACK_NAMES = frozenset({"127.0.0.1", "localhost", "::1"})
SAFE_METHODS = frozenset({"GET", "HEAD"})


class TokenGate:
    """Refuses (403) every request that does not carry the token, and more for writes.

    - every request: the token, as `?token=` or the X-Charfolio-Token header;
    - a write (POST): the token in the header only. A web page elsewhere cannot set that
      header on a cross-site request without a CORS preflight, which is never answered;
    - a request naming another site as its Origin is refused;
    - on loopback, the Host header must name loopback: a DNS-rebound name pointing at
      127.0.0.1 is refused.
    """

    def __init__(self, app: ASGIApp, token: str, loopback_only: bool = True) -> None:
        self.app, self.token, self.loopback_only = app, token.encode(), loopback_only

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        problem = self._problem(scope)
        if problem is None:
            await self.app(scope, receive, send)
        elif scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})  # no socket routes anyway
        else:
            response = PlainTextResponse(
                f"403: {problem}", status_code=403, headers=SECURITY_HEADERS
            )
            await response(scope, receive, send)

    def _problem(self, scope: Scope) -> str | None:
        headers = {k.decode("latin-1"): v for k, v in scope.get("headers", [])}
        host = headers.get("host", b"").decode("latin-1")
        if self.loopback_only and urlsplit(f"//{host}").hostname not in LOOPBACK_NAMES:
            return f"this page answers only to 127.0.0.1 or localhost, not {host!r}"
        origin = headers.get("origin")
        if origin is not None and urlsplit(origin.decode("latin-1")).netloc != host:
            return "requests from another site are refused"
        given = [headers[TOKEN_HEADER]] if TOKEN_HEADER in headers else []
        if scope.get("method", "GET") in SAFE_METHODS or scope["type"] == "websocket":
            query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
            given += [t.encode("latin-1", "replace") for t in query.get("token", [])]
        if not any(secrets.compare_digest(t, self.token) for t in given):
            return "this page needs the token of the URL `charfolio review` printed"
        return None
