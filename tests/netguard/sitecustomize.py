"""A test-only network guard that every Python process of a test run loads at start-up.

Python imports `sitecustomize` from sys.path when it starts, so a test that puts this folder
first on PYTHONPATH reaches the processes it starts and the ones they start in turn
(snakemake, its job processes, their scripts). With CHARFOLIO_NETGUARD_LOG set, DNS lookups
and connections to anything but AF_UNIX and loopback addresses fail as on an offline compute
node (gaierror / ENETUNREACH, before anything is sent), and each attempt is appended to that
file as a JSON line naming the call, the target and the first frames outside the standard
library and the HTTP transports: the library and function that tried. At exit, each process
that imported huggingface_hub also records whether the hub was offline in it.

It sees Python's socket module only: C code that resolves or connects by itself (libcurl,
a C++ TCP store) is not seen.
"""

from __future__ import annotations

import atexit
import errno
import ipaddress
import json
import os
import socket
import sys
from collections.abc import Callable
from typing import Any

LOG = os.environ.get("CHARFOLIO_NETGUARD_LOG")
# Layers between a library and the socket: naming them would not say who asked (with their
# major-version forks: huggingface_hub 2 sends through httpx2 / httpcore2).
TRANSPORTS = frozenset(
    {"httpx", "httpcore", "h11", "h2", "anyio", "sniffio", "urllib3", "requests", "aiohttp"}
)
FRAMES = 12  # outward from the socket call: enough to reach the caller of a hub client


def _is_loopback(host: object) -> bool:
    if host in (None, "", "localhost", b"localhost"):
        return True
    text = host.decode() if isinstance(host, bytes) else str(host)
    try:
        return ipaddress.ip_address(text.split("%")[0]).is_loopback
    except ValueError:
        return text.endswith(".localhost")


def _allowed_address(family: int, address: Any) -> bool:
    if family == getattr(socket, "AF_UNIX", None):
        return True
    if isinstance(address, tuple) and address:
        return _is_loopback(address[0])
    return False


def _callers() -> list[str]:
    """module:function:line of the innermost frames outside stdlib, transports and this file."""
    frame = sys._getframe(2)
    out: list[str] = []
    while frame is not None and len(out) < FRAMES:
        module = str(frame.f_globals.get("__name__", "?"))
        top = module.split(".")[0]
        transport = top.rstrip("0123456789") in TRANSPORTS
        if top not in sys.stdlib_module_names and not transport and module != __name__:
            out.append(f"{module}:{frame.f_code.co_name}:{frame.f_lineno}")
        frame = frame.f_back
    return out


def _record(call: str, target: str) -> None:
    callers = _callers()
    library = callers[0].split(":")[0].split(".")[0] if callers else "?"
    # The first frame of another package: who asked that library (peft asking huggingface_hub).
    asked_by = next((c for c in callers if c.split(":")[0].split(".")[0] != library), None)
    entry = {
        "kind": "network",
        "call": call,
        "target": target,
        "library": library,
        "asked_by": asked_by,
        "callers": callers,
        "pid": os.getpid(),
        "argv": sys.argv[:4],
    }
    _append(entry)


def _append(entry: dict[str, Any]) -> None:
    assert LOG is not None
    with open(LOG, "a", encoding="utf-8") as fh:  # one short line per write: whole lines
        fh.write(json.dumps(entry) + "\n")


def _refuse_lookup(name: str, original: Callable[..., Any]) -> Callable[..., Any]:
    def guarded(host: Any, *args: Any, **kwargs: Any) -> Any:
        if _is_loopback(host):
            return original(host, *args, **kwargs)
        port = args[0] if args else kwargs.get("port")
        _record(f"socket.{name}", f"{host}:{port}" if port is not None else str(host))
        raise socket.gaierror(socket.EAI_NONAME, f"netguard: no DNS lookup of {host} in tests")

    guarded.__name__ = guarded.__qualname__ = name
    return guarded


def _refuse_connect(name: str, original: Callable[..., Any]) -> Callable[..., Any]:
    def guarded(sock: socket.socket, address: Any, *args: Any) -> Any:
        if _allowed_address(sock.family, address):
            return original(sock, address, *args)
        _record(f"socket.socket.{name}", repr(address))
        if name == "connect_ex":
            return errno.ENETUNREACH
        raise OSError(errno.ENETUNREACH, f"netguard: no connection to {address!r} in tests")

    guarded.__name__ = guarded.__qualname__ = name
    return guarded


def _record_hub_mode() -> None:
    """Whether a process that loaded huggingface_hub had it offline (None: never loaded)."""
    constants = sys.modules.get("huggingface_hub.constants")
    if constants is not None:
        _append(
            {
                "kind": "hub",
                "offline": bool(constants.HF_HUB_OFFLINE),
                "pid": os.getpid(),
                "argv": sys.argv[:4],
            }
        )


def install() -> None:
    for name in ("getaddrinfo", "gethostbyname", "gethostbyname_ex", "gethostbyaddr"):
        setattr(socket, name, _refuse_lookup(name, getattr(socket, name)))
    for name in ("connect", "connect_ex"):
        setattr(socket.socket, name, _refuse_connect(name, getattr(socket.socket, name)))
    atexit.register(_record_hub_mode)


if LOG:
    install()
