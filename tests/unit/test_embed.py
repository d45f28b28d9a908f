"""Embeddings: streaming writer, tiny open_clip model, the offline colour_layout embedder."""

from __future__ import annotations

import tracemalloc
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from charfolio.core import tables
from charfolio.core.config import ModelFileError
from charfolio.embed import create_embedder, embed_images, load_embeddings
from charfolio.embed.colour_layout import DIM, ColourLayoutEmbedder

torch = pytest.importorskip("torch")
pytest.importorskip("open_clip")

TINY = {"backend": "open_clip", "open_clip": {"model": "charfolio-tiny-vit", "pretrained": None}}


def _image(kind: str, variant: int, size: int = 96) -> np.ndarray:
    rng = np.random.default_rng(variant)
    y, x = np.mgrid[0:size, 0:size]
    img = np.zeros((size, size, 3), dtype=np.float64)
    if kind == "red_flat":
        img[:] = (200, 40, 40)
    elif kind == "blue_stripes":
        img[..., 2] = 200
        img[..., 1] = np.where((x // 8) % 2 == 0, 220, 30)
    elif kind == "green_disc":
        img[:] = (20, 20, 20)
        img[(x - size / 2) ** 2 + (y - size / 2) ** 2 < (size / 3) ** 2] = (40, 210, 60)
    elif kind == "gradient":
        img[..., 0] = img[..., 1] = img[..., 2] = 255.0 * y / size
    img += rng.normal(0, 6, img.shape)
    return np.clip(img, 0, 255).astype(np.uint8)


def _write_images(root: Path, n: int, size: int = 96) -> list[str]:
    kinds = ["red_flat", "blue_stripes", "green_disc", "gradient"]
    files = []
    for i in range(n):
        file = f"images/seed_{i % 3}/img_{i:03d}.png"
        (root / file).parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(_image(kinds[i % 4], i, size)).save(root / file)
        files.append(file)
    return files


def test_tiny_open_clip_streams_normalised_rows_and_zero_rows_for_bad_files(tmp_path: Path) -> None:
    files = _write_images(tmp_path, 9)
    (tmp_path / "images/broken.png").write_bytes(b"not a png")
    files.insert(3, "images/broken.png")
    files.append("images/missing.png")
    embedder = create_embedder(TINY)
    assert embedder.dim == 32 and embedder.model == "open_clip:charfolio-tiny-vit:random-seed0"

    out, index = tmp_path / "emb/tiny.npy", tmp_path / "emb/tiny.parquet"
    summary = embed_images(files, tmp_path, embedder, 4, out, index, log=lambda _: None)

    assert (summary.rows, summary.dim, summary.ok) == (11, 32, 9)
    vectors, rows = load_embeddings(out, index)
    assert vectors.shape == (11, 32) and vectors.dtype == np.float32
    assert [r["file"] for r in rows] == files and [r["row"] for r in rows] == list(range(11))
    bad = {3, 10}
    assert [not r["ok"] for r in rows] == [i in bad for i in range(11)]
    assert all(rows[i]["reason"] == "unreadable" for i in bad)
    norms = np.linalg.norm(vectors, axis=1)
    assert np.allclose(norms[[i for i in range(11) if i not in bad]], 1.0, atol=1e-5)
    assert not vectors[sorted(bad)].any()
    assert sorted(p.name for p in out.parent.iterdir()) == [
        "tiny.npy",
        "tiny.parquet",
    ]  # no temp files

    # Same config, fresh model: the same bytes (random weights are seeded); another batch
    # size changes only float rounding.
    for batch, name in ((4, "same"), (3, "other")):
        embed_images(
            files,
            tmp_path,
            create_embedder(TINY),
            batch,
            tmp_path / f"{name}.npy",
            tmp_path / f"{name}.parquet",
            log=lambda _: None,
        )
    assert (tmp_path / "same.npy").read_bytes() == out.read_bytes()
    assert np.allclose(np.load(tmp_path / "other.npy"), vectors, atol=1e-5)


def test_open_clip_loads_local_safetensors_and_refuses_pickle(tmp_path: Path) -> None:
    from safetensors.torch import save_file

    reference = create_embedder(
        {"backend": "open_clip", "open_clip": {**TINY["open_clip"], "seed": 7}}
    )
    state = {k: v.contiguous() for k, v in reference._model.state_dict().items()}
    save_file(state, str(tmp_path / "tiny.safetensors"))
    loaded = create_embedder(
        {
            "backend": "open_clip",
            "open_clip": {"model": "charfolio-tiny-vit", "pretrained": "tiny.safetensors"},
        },
        model_cache=str(tmp_path),
    )
    assert loaded.model == "open_clip:charfolio-tiny-vit:tiny.safetensors"
    images = [_image("green_disc", 1), _image("gradient", 2)]
    assert np.allclose(loaded.embed(images), reference.embed(images), atol=1e-6)

    (tmp_path / "tiny.pt").write_bytes(b"pickle")
    with pytest.raises(ModelFileError, match="pickle"):
        create_embedder(
            {
                "backend": "open_clip",
                "open_clip": {
                    "model": "charfolio-tiny-vit",
                    "pretrained": str(tmp_path / "tiny.pt"),
                },
            }
        )


def test_memory_stays_flat_in_the_number_of_images(tmp_path: Path) -> None:
    files = _write_images(tmp_path, 120, size=256)  # 196 KB decoded each, 23 MB all together
    calls: list[int] = []
    inner = ColourLayoutEmbedder()

    class Spy:
        name, model, dim = inner.name, inner.model, inner.dim

        def embed(self, images):  # type: ignore[no-untyped-def]
            calls.append(len(images))
            return inner.embed(images)

    tracemalloc.start()
    embed_images(
        files, tmp_path, Spy(), 4, tmp_path / "e.npy", tmp_path / "e.parquet", log=lambda _: None
    )
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert max(calls) <= 4 and sum(calls) == 120
    assert peak < 8_000_000, f"peak {peak:,} bytes: images are being held beyond one batch"
    assert np.load(tmp_path / "e.npy").shape == (120, DIM)


def test_no_images_gives_an_empty_matrix(tmp_path: Path) -> None:
    embed_images(
        [], tmp_path, ColourLayoutEmbedder(), 4, tmp_path / "e.npy", tmp_path / "e.parquet"
    )
    vectors, rows = load_embeddings(tmp_path / "e.npy", tmp_path / "e.parquet")
    assert vectors.shape == (0, DIM) and rows == []
    assert tables.read_table(tmp_path / "e.parquet", tables.EMBEDDING_INDEX).num_rows == 0


def test_colour_layout_separates_visually_different_images() -> None:
    embedder = create_embedder({"backend": "colour_layout"})
    kinds = ["red_flat", "blue_stripes", "green_disc", "gradient"]
    vectors = embedder.embed([_image(k, v) for k in kinds for v in range(3)])
    assert vectors.shape == (12, DIM) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    sims = vectors @ vectors.T
    label = np.repeat(np.arange(4), 3)
    same = sims[(label[:, None] == label[None, :]) & ~np.eye(12, dtype=bool)]
    different = sims[label[:, None] != label[None, :]]
    assert same.min() > 0.9 and different.max() < 0.6, (same.min(), different.max())
    assert np.array_equal(vectors, embedder.embed([_image(k, v) for k in kinds for v in range(3)]))


def test_unknown_backend_names_the_choices() -> None:
    with pytest.raises(ValueError, match="colour_layout"):
        create_embedder({"backend": "clip_please"})
