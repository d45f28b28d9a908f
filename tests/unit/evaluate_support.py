"""Helpers for the checkpoint-report tests: face photos, reference tiers, LoRA folders, fakes."""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import safetensors.numpy
from PIL import Image
from skimage import data, transform

from charfolio.core import tables
from charfolio.faces import analyze_faces, write_faces
from charfolio.faces.detector import FaceDetector


def _uint8(image: np.ndarray) -> np.ndarray:
    return np.clip(image * 255 if image.dtype.kind == "f" else image, 0, 255).astype(np.uint8)


def astronaut(scale: float = 1.0, shift: tuple[int, int] = (0, 0), mirror: bool = False):
    """scikit-image's astronaut photo (one person), optionally scaled, shifted, mirrored."""
    photo = data.astronaut()
    if scale != 1.0:
        photo = _uint8(transform.rescale(photo, scale, channel_axis=-1))
    photo = np.roll(photo, shift, axis=(0, 1))
    return photo[:, ::-1].copy() if mirror else photo


def lfw_face(index: int) -> np.ndarray:
    """A Labeled Faces in the Wild face (another person), enlarged to 300 px, as RGB."""
    grey = _uint8(transform.resize(data.lfw_subset()[index], (200, 200)))
    return np.pad(np.stack([grey] * 3, axis=-1), ((50, 50), (50, 50), (0, 0)), mode="edge")


def blank(size: int = 200) -> np.ndarray:
    return np.full((size, size, 3), 128, np.uint8)


def make_reference_tier(
    root: Path, images: Sequence[np.ndarray], detector: FaceDetector, n: int = 1
) -> tuple[Path, Path]:
    """results/{character}-like folder: faces.parquet over the images, tier_{n} listing them."""
    files = []
    for i, rgb in enumerate(images):
        file = f"images/seed_0/ref_{i:02d}.png"
        (root / file).parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(rgb).save(root / file)
        files.append(file)
    faces = root / "faces.parquet"
    write_faces(faces, analyze_faces(files, root, detector, log=lambda _: None))
    tier = root / f"tier_{n}"
    tier.mkdir(parents=True, exist_ok=True)
    rows = [
        {
            "file": file, "tier_file": f"images/{Path(file).name}", "caption_file": "x.txt",
            "caption": "nova woman", "rank": i + 1, "cluster": 0, "seed": 0,
            "quality_score": 0.9, "split": "train",
        }
        for i, file in enumerate(files)
    ]  # fmt: skip
    tables.write_table(tier / "manifest.parquet", rows, tables.TIER_MANIFEST)
    return faces, tier


def small_weights(path: Path, value: float, metadata: dict[str, str] | None = None) -> Path:
    """A small .safetensors file whose tensors are filled with `value`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tensors = {"up": np.full((2, 3), value, np.float32), "down": np.full(4, -value, np.float32)}
    safetensors.numpy.save_file(tensors, path, metadata=metadata)
    return path


def make_lora_dir(
    root: Path,
    checkpoints: Sequence[Path | float],
    *,
    final: Path | float | None = None,
    workdir_prefix: str = "results/demo/lora/p/tier_1",
) -> Path:
    """A LoRA folder as train_lora leaves it, its summary's paths written from another workdir.

    A number stands for small weights of that value; `final` defaults to a copy of the last
    checkpoint (what training writes).
    """
    (root / "checkpoints").mkdir(parents=True, exist_ok=True)
    written = []
    for epoch, source in enumerate(checkpoints, start=1):
        target = root / "checkpoints" / f"epoch-{epoch:04d}.safetensors"
        _put(source, target)
        written.append(f"{workdir_prefix}/checkpoints/{target.name}")
    _put(final if final is not None else root / "checkpoints" / Path(written[-1]).name,
         root / "lora_diffusers.safetensors")  # fmt: skip
    summary = {
        "complete": True,
        "out_dir": workdir_prefix,
        "lora_diffusers": f"{workdir_prefix}/lora_diffusers.safetensors",
        "checkpoints": written,
        "epochs": len(written),
    }
    (root / "summary.json").write_text(json.dumps(summary), encoding="utf-8")
    return root / "summary.json"


def _put(source: Path | float, target: Path) -> None:
    if isinstance(source, int | float):
        small_weights(target, float(source))
    elif source.resolve() != target.resolve():
        shutil.copyfile(source, target)


class FakeTextScorer:
    """Adherence from image brightness: deterministic, in [0, 1], no model."""

    model = "fake:brightness"

    def score(self, images: Sequence[np.ndarray], texts: Sequence[str]) -> np.ndarray:
        return np.array([float(np.mean(rgb)) / 255.0 for rgb in images])


class FakeRenderer:
    """Renders by LoRA file: a face photo for files named in `faces`, else seeded noise."""

    def __init__(self, faces: dict[str, np.ndarray] | None = None, size: int = 160) -> None:
        self.faces = faces or {}
        self.size = size
        self.loras: list[Any] = []
        self.calls: list[tuple[str, str, int]] = []

    def set_loras(self, loras: Sequence[Any], fuse: bool = False) -> None:
        self.loras = list(loras)

    def render(self, prompt: str, seed: int) -> Image.Image:
        path = Path(self.loras[0].path)
        self.calls.append((path.name, prompt, seed))
        if path.name in self.faces:
            return Image.fromarray(self.faces[path.name])
        digest = hashlib.sha256(f"{path.name}:{seed}".encode()).digest()
        rng = np.random.default_rng(int.from_bytes(digest[:8], "little"))
        return Image.fromarray(rng.integers(0, 256, (self.size, self.size, 3), dtype=np.uint8))

    def settings_record(self) -> dict[str, Any]:
        return {"backend": "fake", "width": self.size, "height": self.size, "steps": 1}
