"""k-means on image embeddings, and a check for semantic collapse (everything looks alike).

Only images whose face verdict is ok are clustered. Quality thresholds are deliberately not
applied here, so changing a threshold reruns selection but never clustering.
"""

from __future__ import annotations

import json
import os
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow.parquet as pq
from sklearn.cluster import KMeans

from charfolio.core import tables
from charfolio.core.atomic import write_text_atomic
from charfolio.embed.base import l2_normalise
from charfolio.embed.stream import load_embeddings

N_INIT = 10  # fixed: part of what makes the labels reproducible, with random_state
NEAR_IDENTICAL_QUERIES = 5000  # above this many images, a fixed sample of rows is checked


@dataclass(frozen=True)
class CollapseLimits:
    max_cluster_share: float = 0.5  # one cluster holding more than this share is a collapse
    near_identical_cosine: float = 0.98  # two images this similar count as near-identical
    max_near_identical_share: float = 0.5  # more images than this with a near-twin: collapse


def kmeans(
    vectors: np.ndarray, k: int, random_state: int = 42, log: Callable[[str], None] = print
) -> tuple[np.ndarray, np.ndarray]:
    """Labels and distances to the own centroid; labels renumbered largest cluster first.

    `k` above the number of vectors is clamped (with a logged warning).
    """
    n = len(vectors)
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}; set curation.k in the config")
    if n == 0:
        return np.zeros(0, dtype=np.int32), np.zeros(0, dtype=np.float64)
    if k > n:
        log(f"WARNING: k={k} is more than the {n} clusterable images; using k={n}")
        k = n
    model = KMeans(n_clusters=k, n_init=N_INIT, random_state=random_state)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        raw = model.fit_predict(np.asarray(vectors, dtype=np.float64))
    for warning in caught:  # e.g. fewer distinct points than k: worth seeing in the job log
        log(f"WARNING: k-means: {warning.message}")
    distances = model.transform(np.asarray(vectors, dtype=np.float64))[np.arange(n), raw]
    # sklearn's label numbers are arbitrary; number by size (then first member) to read easily.
    sizes = np.bincount(raw, minlength=k)
    first = np.array([np.flatnonzero(raw == c)[0] if sizes[c] else n for c in range(k)])
    order = sorted(range(k), key=lambda c: (-sizes[c], first[c]))
    relabel = np.empty(k, dtype=np.int32)
    relabel[order] = np.arange(k, dtype=np.int32)
    return relabel[raw], distances


def mean_pairwise_cosine(unit: np.ndarray) -> float:
    """Mean cosine over all pairs i != j, in O(N*D) from the sum vector."""
    n = len(unit)
    if n < 2:
        return float("nan")
    total = unit.sum(axis=0, dtype=np.float64)
    self_sim = float(np.einsum("ij,ij->", unit, unit, dtype=np.float64))
    return float((total @ total - self_sim) / (n * (n - 1)))


def near_identical_share(unit: np.ndarray, cosine: float, block: int = 1024) -> float:
    """Share of images with at least one other image above `cosine` (blockwise, bounded memory)."""
    n = len(unit)
    if n < 2:
        return 0.0
    queries = np.arange(n)
    if n > NEAR_IDENTICAL_QUERIES:
        queries = np.sort(np.random.default_rng(0).choice(n, NEAR_IDENTICAL_QUERIES, replace=False))
    hits = 0
    for start in range(0, len(queries), block):
        rows = queries[start : start + block]
        sims = unit[rows] @ unit.T
        sims[np.arange(len(rows)), rows] = -np.inf  # not oneself
        hits += int((sims.max(axis=1) > cosine).sum())
    return hits / len(queries)


def detect_collapse(
    vectors: np.ndarray,
    labels: np.ndarray,
    k_requested: int,
    limits: CollapseLimits = CollapseLimits(),
) -> dict[str, Any]:
    """Collapse statistics, a verdict (ok | collapse | too_few) and a message saying what to do."""
    n = len(vectors)
    unit = l2_normalise(np.asarray(vectors, dtype=np.float32))
    sizes = np.bincount(labels, minlength=1) if n else np.zeros(0, dtype=int)
    k_used = len(sizes) if n else 0
    share = float(sizes.max() / n) if n else 0.0
    near = near_identical_share(unit, limits.near_identical_cosine)
    report: dict[str, Any] = {
        "n_images": n,
        "k_requested": k_requested,
        "k_used": k_used,
        "cluster_sizes": {str(c): int(s) for c, s in enumerate(sizes)},
        "largest_cluster_share": round(share, 6),
        "mean_pairwise_cosine": None if n < 2 else round(mean_pairwise_cosine(unit), 6),
        "near_identical_share": round(near, 6),
        "limits": {
            "max_cluster_share": limits.max_cluster_share,
            "near_identical_cosine": limits.near_identical_cosine,
            "max_near_identical_share": limits.max_near_identical_share,
        },
    }
    if n < 2:
        report["verdict"] = "too_few"
        report["message"] = (
            f"only {n} image(s) passed face validation: nothing to compare. Check faces.parquet "
            f"for why images were rejected, or generate more images."
        )
        return report
    problems = []
    # With k < 3 one cluster holding most images is normal; judge the share only from k = 3.
    if k_used >= 3 and share > limits.max_cluster_share:
        problems.append(
            f"cluster 0 holds {share:.0%} of {n} images (limit {limits.max_cluster_share:.0%})"
        )
    if near > limits.max_near_identical_share:
        problems.append(
            f"{near:.0%} of images have a near-identical twin (cosine > "
            f"{limits.near_identical_cosine}; limit {limits.max_near_identical_share:.0%})"
        )
    if problems:
        report["verdict"] = "collapse"
        report["message"] = (
            "semantic collapse: " + "; ".join(problems) + ". The images vary too little: "
            "increase scenario diversity or the number of seed groups, lower the guidance "
            "scale, or check that generation really varied (identical files?)."
        )
    else:
        report["verdict"] = "ok"
        report["message"] = (
            f"{n} images in {k_used} clusters, largest {share:.0%}; "
            f"{near:.0%} with a near-identical twin."
        )
    return report


def clusterable_files(faces_path: str | os.PathLike[str]) -> set[str]:
    """Files whose face verdict is ok."""
    if "face_verdict" not in pq.read_schema(faces_path).names:
        raise ValueError(
            f"{faces_path}: not a faces table (no face_verdict column); rerun the faces rule"
        )
    faces = pq.read_table(faces_path, columns=["file", "face_verdict"]).to_pylist()
    return {row["file"] for row in faces if row["face_verdict"] == "ok"}


def cluster_images(
    embeddings_npy: str | os.PathLike[str],
    embedding_index: str | os.PathLike[str],
    faces: str | os.PathLike[str],
    k: int,
    out_table: str | os.PathLike[str],
    out_collapse: str | os.PathLike[str],
    random_state: int = 42,
    limits: CollapseLimits = CollapseLimits(),
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Cluster the face-ok images' embeddings; write CLUSTERS and the collapse JSON."""
    vectors, index = load_embeddings(embeddings_npy, embedding_index)
    keep = clusterable_files(faces)
    rows = sorted((r for r in index if r["file"] in keep and r["ok"]), key=lambda r: r["file"])
    missing = keep - {r["file"] for r in rows}
    if missing:
        log(
            f"WARNING: {len(missing)} face-ok images have no embedding (unreadable or not in "
            f"{embedding_index}), e.g. {sorted(missing)[0]}; they are not clustered"
        )
    subset = np.asarray(vectors[[int(r["row"]) for r in rows]], dtype=np.float32)
    labels, distances = kmeans(subset, k, random_state, log)
    sizes = np.bincount(labels) if len(labels) else np.zeros(0, dtype=int)
    table_rows = [
        {"file": r["file"], "cluster": int(c), "distance": float(d), "cluster_size": int(sizes[c])}
        for r, c, d in zip(rows, labels, distances, strict=True)
    ]
    tables.write_table(out_table, table_rows, tables.CLUSTERS)
    collapse = detect_collapse(subset, labels, k, limits)
    write_text_atomic(out_collapse, json.dumps(collapse, indent=2, sort_keys=True) + "\n")
    log(f"clusters: {collapse['message']}")
    return collapse
