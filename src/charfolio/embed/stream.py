"""Embed a list of images into an .npy file batch by batch, with a row index table.

The (N, D) float32 output is a memory-mapped .npy allocated at its final size, so memory
stays flat for any N: only one batch of decoded images is ever held. Its disk space is
allocated before the first batch, so a full disk fails at the start with a message instead
of a SIGBUS mid-way. It is written under a temporary name and renamed on success, so a
killed job leaves no partial file.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from charfolio.core import tables
from charfolio.core.atomic import atomic_path
from charfolio.core.imaging import read_rgb
from charfolio.core.mapped_npy import create_mapped_npy
from charfolio.core.progress import Progress
from charfolio.embed.base import ImageEmbedder, create_embedder


@dataclass(frozen=True)
class EmbeddingSummary:
    rows: int
    dim: int
    ok: int
    model: str


def embed_images(
    paths: Sequence[str],
    root: str | os.PathLike[str],
    embedder: ImageEmbedder,
    batch_size: int,
    out_npy: str | os.PathLike[str],
    out_index: str | os.PathLike[str],
    log: Callable[[str], None] = print,
) -> EmbeddingSummary:
    """Row i of `out_npy` embeds `root/paths[i]`; an unreadable image is a zero row, ok=false."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    n, dim = len(paths), int(embedder.dim)
    index: list[dict[str, object]] = []
    progress = Progress(n, f"embeddings ({embedder.model})", log)
    with atomic_path(out_npy) as tmp:
        if n == 0:
            with open(tmp, "wb") as fh:  # a handle: np.save would append .npy to the name
                np.save(fh, np.zeros((0, dim), dtype=np.float32), allow_pickle=False)
        else:
            # Allocated in full first: a full disk is then an error here, not a SIGBUS later.
            out = create_mapped_npy(tmp, (n, dim), np.float32, target=out_npy)
            for start in range(0, n, batch_size):
                chunk = paths[start : start + batch_size]
                index.extend(_embed_batch(chunk, start, Path(root), embedder, out, log))
                progress.advance(len(chunk))
            out.flush()
            del out  # close the map before the rename
    tables.write_table(out_index, index, tables.EMBEDDING_INDEX)
    ok = sum(1 for row in index if row["ok"])
    log(f"embedded {ok}/{n} images into {out_npy} ({n}x{dim}); {n - ok} unreadable")
    return EmbeddingSummary(rows=n, dim=dim, ok=ok, model=embedder.model)


def _embed_batch(
    chunk: Sequence[str],
    start: int,
    root: Path,
    embedder: ImageEmbedder,
    out: np.ndarray,
    log: Callable[[str], None],
) -> list[dict[str, object]]:
    reads = [read_rgb(root / file) for file in chunk]
    good = [i for i, r in enumerate(reads) if r.array is not None]
    vectors = embedder.embed([reads[i].array for i in good]) if good else None
    if vectors is not None and vectors.shape != (len(good), out.shape[1]):
        raise RuntimeError(
            f"embedder {embedder.model} returned shape {vectors.shape} for {len(good)} images; "
            f"expected ({len(good)}, {out.shape[1]}): its `dim` is wrong"
        )
    out[start : start + len(chunk)] = 0.0
    rows = []
    for i, (file, read) in enumerate(zip(chunk, reads, strict=True)):
        ok = read.array is not None
        if not ok:
            log(f"{file}: unreadable ({read.reason}); zero embedding")
        rows.append(
            {
                "row": start + i,
                "file": file,
                "ok": ok,
                "model": embedder.model,
                "reason": None if ok else read.reason,
            }
        )
    if vectors is not None:
        out[[start + i for i in good]] = vectors
    return rows


def load_embeddings(
    npy: str | os.PathLike[str], index: str | os.PathLike[str]
) -> tuple[np.ndarray, list[dict[str, object]]]:
    """The embedding matrix (memory-mapped, read-only) and its index rows, checked to agree."""
    vectors = np.load(npy, mmap_mode="r", allow_pickle=False)
    rows = tables.read_table(index, tables.EMBEDDING_INDEX).to_pylist()
    if vectors.ndim != 2 or vectors.shape[0] != len(rows):
        raise ValueError(
            f"{npy} has shape {vectors.shape} but {index} has {len(rows)} rows; they come from "
            f"different runs: delete both and rerun the embeddings rule"
        )
    return vectors, rows


def embed_tables(
    image_tables: Sequence[str | os.PathLike[str]],
    root: str | os.PathLike[str],
    embeddings_cfg: Mapping[str, Any],
    out_npy: str | os.PathLike[str],
    out_index: str | os.PathLike[str],
    *,
    model_cache: str | None = None,
    log: Callable[[str], None] = print,
) -> EmbeddingSummary:
    """The embedding stage for a character: one model load, streamed batches to disk."""
    embedder = create_embedder(embeddings_cfg, model_cache)
    return embed_images(
        tables.image_files(image_tables), root, embedder, int(embeddings_cfg["batch_size"]),
        out_npy, out_index, log,
    )  # fmt: skip


def embedding_name(embeddings_cfg: Mapping[str, Any]) -> str:
    """A file-name-safe id of the configured embedder: results/{c}/embeddings/{name}.npy."""
    backend = embeddings_cfg["backend"]
    if backend == "open_clip":
        settings = embeddings_cfg.get("open_clip") or {}
        pretrained = settings.get("pretrained") or "random"
        label = f"open_clip-{settings.get('model', 'ViT-B-32')}-{os.path.basename(str(pretrained))}"
    else:
        label = backend
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", label)
