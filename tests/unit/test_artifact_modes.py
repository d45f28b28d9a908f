"""LoRA training and checkpoint renders write files and folders with the umask's modes.

On a shared cluster colleagues in the project's group read each other's LoRAs, checkpoints
and renders; a private (0600 / 0700) artifact among them breaks that.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from charfolio.evaluate import build_suite, evaluate_lora, write_suite

from .evaluate_support import FakeRenderer, FakeTextScorer, astronaut, make_reference_tier
from .lora_support import make_tier, run, tiny_preset

pytest.importorskip("dlib")

NOBODY = "65534"


@contextlib.contextmanager
def _umask(mask: int) -> Iterator[None]:
    previous = os.umask(mask)
    try:
        yield
    finally:
        os.umask(previous)


@pytest.fixture(scope="module")
def references(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """faces.parquet and tier_1 of one face photo, and a one-prompt suite."""
    from charfolio.faces import create_face_detector

    root = tmp_path_factory.mktemp("references") / "demo"
    make_reference_tier(root, [astronaut()], create_face_detector({"backend": "dlib"}))
    write_suite(root / "suite.parquet", build_suite("nova", "woman", ["close_up"], 1, seed=3))
    return root


@pytest.fixture(scope="module", params=[0o002, 0o022], ids=["umask002", "umask022"])
def produced(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, references: Path
) -> Iterator[tuple[int, Path]]:
    """(umask, folder) after a one-epoch LoRA run and a render of its checkpoints under umask.

    The folder is under a 0755 folder in the system temp dir, not pytest's private one, so
    another uid can reach it.
    """
    from charfolio.faces import create_face_detector

    mask = request.param
    tier = make_tier(tmp_path_factory.mktemp("tier") / "tier_8", n=4, val=1)
    cache = tmp_path_factory.mktemp("models")
    base = Path(tempfile.mkdtemp(prefix="charfolio-modes-"))
    base.chmod(0o755)
    artifacts = base / "results"
    try:
        with _umask(mask):
            run(tier, artifacts / "lora", cache, tiny_preset(epochs=1))
            evaluate_lora(
                artifacts / "lora" / "summary.json", references / "suite.parquet",
                references / "faces.parquet", references / "tier_1", artifacts / "checkpoints",
                preset="tiny", tier=8, renderer=FakeRenderer(),
                detector=create_face_detector({"backend": "dlib"}),
                text_scorer=FakeTextScorer(), log=lambda _: None,
            )  # fmt: skip
        yield mask, artifacts
    finally:
        shutil.rmtree(base, ignore_errors=True)


def _everything(root: Path) -> list[Path]:
    return [root, *(p for p in sorted(root.rglob("*")) if not p.is_symlink())]


def test_every_file_and_folder_has_the_umask_mode(produced: tuple[int, Path]) -> None:
    mask, root = produced
    names = {p.relative_to(root).as_posix() for p in _everything(root)}
    # The kinds of artifact that used to be private are all among those checked.
    assert {"lora/lora_diffusers.safetensors", "lora/lora_kohya.safetensors",
            "lora/checkpoints/epoch-0001.safetensors", "checkpoints/images/epoch-0001",
            "checkpoints/images/epoch-0001/close_up_01.png"} <= names  # fmt: skip
    assert any(
        n.startswith("lora/state/step-") and n.endswith("tensors.safetensors") for n in names
    )

    wrong = []
    for path in _everything(root):
        expected = (0o777 if path.is_dir() else 0o666) & ~mask
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode != expected:
            wrong.append(f"{path.relative_to(root)}: {mode:o}, expected {expected:o}")
    assert not wrong, "\n".join(wrong)


@pytest.mark.skipif(os.geteuid() != 0, reason="reading as another uid of the group needs root")
@pytest.mark.skipif(shutil.which("setpriv") is None, reason="needs setpriv (util-linux)")
def test_a_group_member_reads_every_artifact(produced: tuple[int, Path]) -> None:
    _, root = produced
    group = str(root.stat().st_gid)
    read_all = (
        'for p; do if [ -d "$p" ]; then ls "$p"; else cat "$p"; fi >/dev/null || echo "$p"; done'
    )
    colleague = ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", f"--groups={group}"]
    result = subprocess.run(
        [*colleague, "sh", "-c", read_all, "sh", *map(str, _everything(root))],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout == "", f"unreadable for the group:\n{result.stdout}{result.stderr}"
