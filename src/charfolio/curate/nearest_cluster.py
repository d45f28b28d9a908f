"""The cluster an unclustered image would have joined: its nearest k-means centroid.

Only face-ok images are clustered, but a reviewer may accept an image the face gate
rejected. Ranking gives every cluster its share of each round, so such an image needs a
cluster to compete in: the one whose centroid (the mean embedding of its members, the
space k-means ran in) is nearest. Without one it would form a one-image group of its own
and take a first-round place ahead of every cluster's second-best image.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

import numpy as np

from charfolio.embed.stream import load_embeddings

_BLOCK = 8192


def nearest_clusters(
    clusters: Mapping[str, int], vectors: np.ndarray, rows: Mapping[str, int]
) -> dict[str, int]:
    """file -> nearest centroid's cluster, for every embedded image without a cluster.

    `vectors` is the embeddings matrix and `rows` maps a file to its row; an all-zero row
    (an image that could not be read) gets no cluster.
    """
    labels = sorted(set(clusters.values()))
    if not labels:
        return {}
    width = vectors.shape[1]
    centroids = np.zeros((len(labels), width), dtype=np.float64)
    counts = np.zeros(len(labels), dtype=np.int64)
    position = {c: i for i, c in enumerate(labels)}
    for file, cluster in clusters.items():
        if file in rows:
            centroids[position[cluster]] += vectors[rows[file]]
            counts[position[cluster]] += 1
    centroids /= np.maximum(counts, 1)[:, None]
    others = sorted(f for f in rows if f not in clusters)
    out: dict[str, int] = {}
    squared = (centroids**2).sum(axis=1)
    for start in range(0, len(others), _BLOCK):  # a block of rows at a time: flat memory
        block = others[start : start + _BLOCK]
        matrix = np.asarray(vectors[[rows[f] for f in block]], dtype=np.float64)
        # |x - c|^2 = |x|^2 - 2 x.c + |c|^2; |x|^2 is the same for every centroid
        nearest = (squared[None, :] - 2 * matrix @ centroids.T).argmin(axis=1)
        embedded = np.any(matrix != 0, axis=1)
        out.update(
            (f, labels[int(c)]) for f, c, ok in zip(block, nearest, embedded, strict=True) if ok
        )
    return out


def nearest_clusters_from_files(
    clusters: Mapping[str, int],
    embeddings_npy: str | os.PathLike[str],
    embeddings_index: str | os.PathLike[str],
) -> dict[str, int]:
    vectors, index = load_embeddings(embeddings_npy, embeddings_index)
    rows = {str(r["file"]): int(r["row"]) for r in index if r["ok"]}
    return nearest_clusters(clusters, vectors, rows)
