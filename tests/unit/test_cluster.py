"""k-means clustering of face-ok embeddings, k clamping, semantic-collapse detection."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from charfolio.core import tables
from charfolio.curate.clusters import CollapseLimits, cluster_images, detect_collapse, kmeans
from charfolio.embed import l2_normalise


def _blobs(
    n_per: int, centres: int, dim: int = 16, spread: float = 0.05, seed: int = 0
) -> np.ndarray:
    rng = np.random.default_rng(seed)
    means = rng.normal(size=(centres, dim))
    return l2_normalise(np.concatenate([m + spread * rng.normal(size=(n_per, dim)) for m in means]))


def _write_inputs(
    tmp: Path, vectors: np.ndarray, verdicts: list[str], ok: list[bool] | None = None
) -> list[str]:
    files = [f"images/seed_{i % 4}/img_{i:03d}.png" for i in range(len(vectors))]
    ok = ok or [True] * len(files)
    np.save(tmp / "emb.npy", np.where(np.array(ok)[:, None], vectors, 0).astype(np.float32))
    tables.write_table(
        tmp / "emb.parquet",
        [
            {"row": i, "file": f, "ok": k, "model": "test", "reason": None if k else "unreadable"}
            for i, (f, k) in enumerate(zip(files, ok, strict=True))
        ],
        tables.EMBEDDING_INDEX,
    )
    pq.write_table(pa.table({"file": files, "face_verdict": verdicts}), tmp / "faces.parquet")
    return files


def _run(tmp: Path, k: int, logs: list[str] | None = None) -> tuple[list[dict], dict]:
    collapse = cluster_images(
        tmp / "emb.npy",
        tmp / "emb.parquet",
        tmp / "faces.parquet",
        k,
        tmp / "clusters.parquet",
        tmp / "collapse.json",
        log=(logs.append if logs is not None else lambda _: None),
    )
    rows = tables.read_table(tmp / "clusters.parquet", tables.CLUSTERS).to_pylist()
    assert json.loads((tmp / "collapse.json").read_text()) == collapse
    return rows, collapse


def test_clusters_only_face_ok_images_and_recovers_blobs(tmp_path: Path) -> None:
    vectors = _blobs(10, 4, spread=0.3)
    verdicts = ["ok"] * 40
    verdicts[0], verdicts[13] = "no_face", "multiple_faces"
    ok = [True] * 40
    ok[25] = False  # unreadable for the embedder
    files = _write_inputs(tmp_path, vectors, verdicts, ok)
    rows, collapse = _run(tmp_path, 4)

    assert {r["file"] for r in rows} == set(files) - {files[0], files[13], files[25]}
    by_file = {r["file"]: r["cluster"] for r in rows}
    for blob in range(4):  # each blob is exactly one cluster
        labels = {by_file[f] for f in files[blob * 10 : blob * 10 + 10] if f in by_file}
        assert len(labels) == 1
    sizes = [sum(1 for r in rows if r["cluster"] == c) for c in range(4)]
    assert sizes == sorted(sizes, reverse=True)  # cluster 0 is the largest
    assert all(r["cluster_size"] == sizes[r["cluster"]] for r in rows)
    assert all(r["distance"] >= 0 for r in rows)
    assert collapse["verdict"] == "ok" and collapse["k_used"] == 4


def test_clusters_are_deterministic(tmp_path: Path) -> None:
    _write_inputs(tmp_path, _blobs(12, 5, spread=0.5), ["ok"] * 60)
    first = _run(tmp_path, 8)
    table_bytes = (tmp_path / "clusters.parquet").read_bytes()
    assert _run(tmp_path, 8) == first
    assert (tmp_path / "clusters.parquet").read_bytes() == table_bytes


def test_k_above_the_number_of_images_is_clamped_with_a_warning(tmp_path: Path) -> None:
    _write_inputs(tmp_path, _blobs(2, 3), ["ok"] * 6)
    logs: list[str] = []
    rows, collapse = _run(tmp_path, 16, logs)
    assert collapse["k_requested"] == 16 and collapse["k_used"] == 6
    assert len({r["cluster"] for r in rows}) == 6
    assert any("k=16" in line and "k=6" in line for line in logs)


def test_collapse_detected_on_near_identical_embeddings(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    base = rng.normal(size=32)
    vectors = l2_normalise(base + 0.01 * rng.normal(size=(40, 32)))
    _write_inputs(tmp_path, vectors, ["ok"] * 40)
    _, collapse = _run(tmp_path, 8)
    assert collapse["verdict"] == "collapse"
    assert collapse["near_identical_share"] == 1.0 and collapse["mean_pairwise_cosine"] > 0.98
    assert "scenario diversity" in collapse["message"]


def test_one_dominant_cluster_is_a_collapse() -> None:
    big = _blobs(30, 1, seed=3)
    small = _blobs(2, 5, spread=0.3, seed=4)
    vectors = np.concatenate([big, small])
    labels, _ = kmeans(vectors, 6, log=lambda _: None)
    report = detect_collapse(vectors, labels, 6, CollapseLimits(near_identical_cosine=0.999))
    assert report["largest_cluster_share"] == 0.75 and report["verdict"] == "collapse"
    assert "cluster 0 holds 75%" in report["message"]


def test_diverse_embeddings_are_not_a_collapse() -> None:
    vectors = l2_normalise(np.random.default_rng(2).normal(size=(80, 32)))
    labels, _ = kmeans(vectors, 8, log=lambda _: None)
    report = detect_collapse(vectors, labels, 8)
    assert report["verdict"] == "ok"
    assert report["near_identical_share"] == 0.0 and abs(report["mean_pairwise_cosine"]) < 0.05
    assert report["largest_cluster_share"] < 0.5


def test_no_face_ok_images_writes_empty_outputs(tmp_path: Path) -> None:
    _write_inputs(tmp_path, _blobs(2, 2), ["no_face"] * 4)
    rows, collapse = _run(tmp_path, 8)
    assert rows == [] and collapse["verdict"] == "too_few"
