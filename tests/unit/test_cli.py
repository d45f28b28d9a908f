"""`charfolio validate` and `charfolio curate`: config mistakes fail up front, naming the fix."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from charfolio import cli
from charfolio.core import workflow_files
from charfolio.curate import default_tiers

REPO = Path(__file__).resolve().parents[2]
DEMO = str(REPO / "config" / "demo.yaml")


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = cli.main(argv)
    return code, capsys.readouterr().err


def write(path: Path, text: str) -> str:
    path.write_text(text)
    return str(path)


@pytest.fixture
def in_repo(monkeypatch: pytest.MonkeyPatch) -> None:
    """validate reads character files from character_dir, relative to the working folder."""
    monkeypatch.chdir(REPO)


@pytest.fixture
def photos(tmp_path: Path) -> Path:
    """A folder curate accepts (it checks for image files by name; nothing reads them here)."""
    folder = tmp_path / "photos"
    folder.mkdir()
    (folder / "a.png").write_bytes(b"")
    return folder


@pytest.fixture
def no_snakemake(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """Record the Snakemake command curate would run instead of running it."""
    calls: list[list[str]] = []

    def record(cmd: list[str], **kwargs: object) -> int:  # e.g. pass_fds: the --out lock
        calls.append(cmd)
        return 0

    monkeypatch.setattr(subprocess, "call", record)
    return calls


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        ("curation: {tiers: [{size: 10, floor: 0.5}, {size: 20, floor: 0.8}]}", "floor"),
        ("curation: {tiers: [{size: 10, floor: 0.5}, {size: 20}, {size: 30, floor: 0.4}]}",
         "floor"),
        ("curation: {tiers: [{size: 10, floor: 0.8}, {size: 10, floor: 0.5}]}", "twice"),
        ("training: {tiers: [15]}", "training.tiers"),
    ],
)  # fmt: skip
def test_validate_refuses_tiers_that_fail_later(
    in_repo: None, tmp_path: Path, capsys: pytest.CaptureFixture[str], override: str, expected: str
) -> None:
    code, err = run(["validate", DEMO, write(tmp_path / "bad.yaml", override)], capsys)
    assert code == 2
    assert "curation.tiers" in err and expected in err


PICKLE_KEYS = [
    ("generation.model.path", "sd15.ckpt"),
    ("generation.model.vae", "vae.pt"),
    ("generation.model.config_dir", "configs.bin"),
    ("generation.detail_lora.path", "detail.pth"),
    ("scenarios.llama_cpp.model_path", "llm.bin"),
    ("embeddings.open_clip.pretrained", "clip.pt"),
    ("captions.transformers.model_path", "vlm.bin"),
    ("captions.llama_cpp.model_path", "vlm.pkl"),
    ("captions.llama_cpp.mmproj_path", "mmproj.pickle"),
    ("prompt_adherence.pretrained", "clip.ckpt"),
    ("story.splitter.llama_cpp.model_path", "llm.pt"),
    ("story.ip_adapter.path", "ip.bin"),
    ("story.ip_adapter.weight_name", "ip-adapter_sd15.bin"),
    ("story.ip_adapter.image_encoder", "encoder.bin"),
    ("story.controlnet.path", "control.pth"),
    ("story.controlnet.detector_path", "detector.pt"),
    ("faces.dlib.models_dir", "dlib.pkl"),
    ("faces.insightface.model_root", "insightface.pt"),
]


def nested(key: str, value: str) -> dict:
    for part in reversed(key.split(".")):
        value = {part: value}
    return value


@pytest.mark.parametrize(("key", "value"), PICKLE_KEYS)
def test_validate_refuses_pickle_model_paths(
    in_repo: None, tmp_path: Path, capsys: pytest.CaptureFixture[str], key: str, value: str
) -> None:
    override = nested(key, value)
    if key.startswith("story.ip_adapter"):
        override["story"]["ip_adapter"].setdefault("path", "ip_adapter")
    if key.startswith("story.controlnet"):
        override["story"]["controlnet"].setdefault("path", "controlnet")
    bad = write(tmp_path / "bad.yaml", yaml.safe_dump(override))
    code, err = run(["validate", DEMO, bad], capsys)
    assert code == 2
    assert f"{key}: {value!r}" in err and "pickle" in err and ".safetensors" in err


def test_validate_refuses_a_pickle_download(
    in_repo: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sources = {"model_sources": {"sd.safetensors": {"url": "https://example.org/sd.ckpt"}}}
    code, err = run(["validate", DEMO, write(tmp_path / "s.yaml", yaml.safe_dump(sources))], capsys)
    assert code == 2 and "model_sources.sd.safetensors.url" in err and "pickle" in err


@pytest.mark.parametrize(
    ("text", "line"), [("curation:\n  k: [1,\n", 3), ("curation:\n\tk: 3\n", 2)]
)
def test_malformed_yaml_names_the_file_and_line(
    in_repo: None, tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, line: int
) -> None:
    bad = write(tmp_path / "bad.yaml", text)
    code, err = run(["validate", DEMO, bad], capsys)
    assert code == 2
    assert f"{bad} is not valid YAML" in err and f"line {line}" in err


def test_curate_refuses_malformed_yaml_before_writing(
    photos: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], no_snakemake: list
) -> None:
    bad = write(tmp_path / "bad.yaml", "curation:\n  k: [1,\n")
    out = tmp_path / "out"
    code, err = run(["curate", str(photos), "--out", str(out), "--config", bad], capsys)
    assert code == 2 and f"{bad} is not valid YAML" in err
    assert not (out / "config").exists() and no_snakemake == []


@pytest.mark.parametrize("name", ["../../x", "/abs/x", "Upper", "_x", "a/b", ""])
def test_curate_checks_name_before_writing(
    photos: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], no_snakemake: list,
    name: str,
) -> None:  # fmt: skip
    out = tmp_path / "deep" / "er" / "out"
    name = name if not name.startswith("/") else str(tmp_path / "abs" / "x")
    code, err = run(["curate", str(photos), "--out", str(out), "--name", name], capsys)
    assert code == 2 and "--name" in err and "[a-z0-9]" in err
    written = [p for p in tmp_path.rglob("*") if not p.is_relative_to(photos)]
    assert written == [] and no_snakemake == []


def test_curate_floors_never_rise_for_sizes_off_the_methodology(
    photos: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], no_snakemake: list
) -> None:
    out = tmp_path / "out"
    argv = ["curate", str(photos), "--out", str(out), "--floors"]
    code, err = run([*argv, "--tier", "8", "--tier", "20", "--tier", "150", "--tier", "250"],
                    capsys)  # fmt: skip
    assert code == 0, err
    curate = yaml.safe_load((out / "config" / "curate.yaml").read_text())
    assert curate["curation"]["tiers"] == [
        {"size": 8, "floor": 0.92}, {"size": 20, "floor": 0.92},
        {"size": 150, "floor": 0.70}, {"size": 250, "floor": None},
    ]  # fmt: skip
    # the requested tiers are the ones trained on (and balanced) with --train
    assert curate["training"]["tiers"] == [8, 20, 150, 250]


def test_the_floors_are_written_once_in_the_schema(
    photos: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    no_snakemake: list,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A workflow whose schema defaults other floors changes --floors, its help and select()'s
    default tiers: no other copy of the floors is left to disagree."""
    workflow = tmp_path / "workflow_copy"
    for name in ("Snakefile", "config/config.yaml", "workflow/schemas"):
        (workflow / name).parent.mkdir(parents=True, exist_ok=True)
        copy = shutil.copytree if (REPO / name).is_dir() else shutil.copy
        copy(REPO / name, workflow / name)
    schema_file = workflow / "workflow" / "schemas" / "config.schema.yaml"
    schema = yaml.safe_load(schema_file.read_text())
    floors = [{"size": 30, "floor": 0.9}, {"size": 60, "floor": 0.6}, {"size": 90, "floor": None}]
    schema["properties"]["curation"]["properties"]["tiers"]["default"] = floors
    schema_file.write_text(yaml.safe_dump(schema, sort_keys=False))
    monkeypatch.setenv(workflow_files.ENV_VAR, str(workflow))

    assert default_tiers() == {30: 0.9, 60: 0.6, 90: None}  # what select() uses unless told
    assert "(0.9/0.6 for 30/60;" in " ".join(_curate_help().split())
    out = tmp_path / "out"
    argv = ["curate", str(photos), "--out", str(out), "--floors", "--tier", "20", "--tier", "70"]
    code, err = run([*argv, "--tier", "100"], capsys)
    assert code == 0, err
    curate = yaml.safe_load((out / "config" / "curate.yaml").read_text())
    assert curate["curation"]["tiers"] == [
        {"size": 20, "floor": 0.9}, {"size": 70, "floor": None}, {"size": 100, "floor": None},
    ]  # fmt: skip


def _curate_help() -> str:
    parser = cli.build_parser()
    subparsers = next(a for a in parser._actions if a.dest == "command")
    return subparsers.choices["curate"].format_help()


def test_curate_with_train_and_no_model_fails_before_snakemake(
    photos: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], no_snakemake: list
) -> None:
    out = tmp_path / "out"
    code, err = run(["curate", str(photos), "--out", str(out), "--train"], capsys)
    assert code == 2
    assert "generation.model.path" in err and "charfolio models" in err
    assert str(out) in err  # where relative model paths were looked up
    assert no_snakemake == []


def test_curate_without_train_needs_no_model(
    photos: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], no_snakemake: list
) -> None:
    code, err = run(["curate", str(photos), "--out", str(tmp_path / "out")], capsys)
    assert code == 0, err
    assert len(no_snakemake) == 1
