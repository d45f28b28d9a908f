"""The network guard (tests/netguard) catches and names callers; LoRA training passes it."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

import safetensors.torch

from ..network_guard import HUB_SWITCHES_OFF, REPO, attempts, describe, guarded_env, hub_modes


def run_guarded(
    args: Sequence[str], log: Path, extra: Mapping[str, str] | None = None, timeout: int = 120
) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, *args], env=guarded_env(log, extra), cwd=REPO, capture_output=True,
        text=True, timeout=timeout,
    )  # fmt: skip


def test_guard_names_the_library_that_looks_up_a_host(tmp_path):
    code = (
        "from huggingface_hub import file_exists\n"
        "try:\n    file_exists('openai/clip-vit-large-patch14', 'config.json')\n"
        "except Exception as error:\n    print(type(error).__name__)\n"
    )
    hub_online = {**HUB_SWITCHES_OFF, "HF_ENDPOINT": "https://huggingface.co"}
    result = run_guarded(["-c", code], tmp_path / "net.jsonl", hub_online)
    found = attempts(tmp_path / "net.jsonl")
    assert found, result.stdout + result.stderr
    assert {(e["call"], e["target"], e["library"]) for e in found} == {
        ("socket.getaddrinfo", "huggingface.co:443", "huggingface_hub")
    }
    # the request itself, and the caller that made it (hub clients also look up other things)
    callers = [c.rsplit(":", 1)[0] for e in found for c in e["callers"]]
    assert "huggingface_hub.hf_api:file_exists" in callers and "__main__:<module>" in callers


def test_guard_names_a_stdlib_callers_caller(tmp_path):
    code = (
        "import urllib.request\n"
        "def fetch_weights():\n    urllib.request.urlopen('http://example.com/w', timeout=5)\n"
        "try:\n    fetch_weights()\n"
        "except OSError as error:\n    print(error)\n"
    )
    run_guarded(["-c", code], tmp_path / "net.jsonl")
    found = attempts(tmp_path / "net.jsonl")
    assert [(e["call"], e["target"]) for e in found] == [("socket.getaddrinfo", "example.com:80")]
    assert found[0]["callers"][0].startswith("__main__:fetch_weights:")


def test_guard_refuses_other_addresses_and_allows_loopback_and_unix_sockets(tmp_path):
    code = f"""
import socket
server = socket.create_server(("127.0.0.1", 0))
port = server.getsockname()[1]
socket.create_connection(("127.0.0.1", port)).close()
socket.create_connection(("localhost", port)).close()
unix = socket.socket(socket.AF_UNIX)
unix.bind({str(tmp_path / "s.sock")!r})
unix.listen()
client = socket.socket(socket.AF_UNIX)
client.connect({str(tmp_path / "s.sock")!r})
# Only ever try an outside address through the guard: unguarded, this would send a packet.
assert socket.socket.connect.__module__ == "sitecustomize"
print(socket.socket().connect_ex(("192.0.2.1", 9)))
try:
    socket.socket().connect(("192.0.2.1", 9))
except OSError as error:
    print(error.errno)
"""
    result = run_guarded(["-c", code], tmp_path / "net.jsonl")
    assert result.returncode == 0, result.stderr
    found = attempts(tmp_path / "net.jsonl")
    assert [e["call"] for e in found] == ["socket.socket.connect_ex", "socket.socket.connect"]
    assert {e["target"] for e in found} == {"('192.0.2.1', 9)"}
    lines = [n for n, line in enumerate(code.splitlines(), 1) if "192.0.2.1" in line]
    assert [e["callers"] for e in found] == [[f"__main__:<module>:{n}"] for n in lines]


def test_text_encoder_lora_training_looks_nothing_up(tmp_path):
    """A UNet + text-encoder run, the hubs' switches off as a user's shell may have them: the
    code itself must not ask the Hub about the text encoder's repo id (peft's embedding check)."""
    log = tmp_path / "net.jsonl"
    root = tmp_path / "run"
    result = run_guarded(
        ["-m", "tests.unit.guarded_training", str(root)], log, HUB_SWITCHES_OFF, timeout=900
    )
    assert result.returncode == 0, result.stderr[-4000:]
    found = attempts(log)
    assert not found, f"{len(found)} network attempt(s):\n{describe(found)}"
    assert hub_modes(log), "the guard did not load in the training process"
    kohya = safetensors.torch.load_file(root / "out" / "lora_kohya.safetensors")
    assert any(k.startswith("lora_te_text_model_encoder_layers_") for k in kohya)
