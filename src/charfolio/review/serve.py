"""Serve the review page: bind, print the tokened URL, open a browser, run uvicorn.

The socket is bound here, before uvicorn starts, so a busy port is one clear message and
`--port 0` prints the port the kernel picked. The URL is the command's first line of output
(flushed), so a script or an SSH user can pick it up.
"""

from __future__ import annotations

import errno
import ipaddress
import socket
import sys
import webbrowser
from collections.abc import Mapping
from typing import Any, TextIO

import uvicorn

from charfolio.core.layout import REVIEW_PORT
from charfolio.faces.shots import ShotRules
from charfolio.review.app import create_app
from charfolio.review.catalog_view import CatalogError
from charfolio.review.state import ReviewSettings

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = REVIEW_PORT


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def bind(host: str, port: int) -> socket.socket:
    """A listening socket; OSError (EADDRINUSE) when the port is taken."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(128)
    except BaseException:
        sock.close()
        raise
    return sock


def page_url(sock: socket.socket, host: str, token: str) -> str:
    port = sock.getsockname()[1]
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}/?token={token}"


def serve(
    settings: ReviewSettings,
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    open_browser: bool = True,
    out: TextIO = sys.stdout,
    err: TextIO = sys.stderr,
) -> int:
    """Run the review page until interrupted; the exit code of `charfolio review`."""
    try:
        app = create_app(settings)
    except CatalogError as error:
        print(f"charfolio review: {error}", file=err)
        return 2
    try:
        sock = bind(host, port)
    except OSError as error:
        if error.errno == errno.EADDRINUSE:
            print(f"charfolio review: port {port} on {host} is already in use (another "
                  f"charfolio review?); pick another with --port N, or --port 0 for any free "
                  f"one", file=err)  # fmt: skip
        else:
            print(f"charfolio review: cannot listen on {host}:{port}: {error}", file=err)
        return 2
    url = page_url(sock, host, settings.token)
    print(url, file=out, flush=True)  # first: scripts and SSH users read it
    if not is_loopback(host):
        print(f"charfolio review: WARNING: listening on {host}, not loopback: anyone who can "
              f"reach this port and has the URL can read the images and change decisions; "
              f"prefer the default 127.0.0.1 and an SSH tunnel", file=err)  # fmt: skip
    print(f"reviewing {settings.character}; decisions go to {settings.review_dir}/ "
          f"(Ctrl-C stops)", file=err, flush=True)  # fmt: skip
    if open_browser:
        webbrowser.open(url)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False))
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()
    return 0


def run_review(
    config: Mapping[str, Any],
    character: str,
    reviewer: str,
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    open_browser: bool = True,
) -> int:
    """`charfolio review` on a loaded config: its review_dir and balance shot rules."""
    if character not in config["characters"]:
        known = ", ".join(config["characters"]) or "none"
        print(f"charfolio review: --character {character!r} is not one of the config's "
              f"characters ({known}); pass the --config that lists it", file=sys.stderr)  # fmt: skip
        return 2
    shots = config.get("balance", {}).get("rules", {}).get("shots")
    settings = ReviewSettings(
        character=character,
        review_dir=config["review_dir"],
        reviewer=reviewer,
        shot_rules=ShotRules.from_config(shots),
        loopback_only=is_loopback(host),
    )
    return serve(settings, host, port, open_browser)
