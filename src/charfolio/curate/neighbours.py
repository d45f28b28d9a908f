"""Pairs of close vectors by nearest neighbours, a block of rows at a time.

`close_pairs` scores every row against every later row one block of rows at a time, so it
holds one (block, N) score matrix and never an N x N one: memory stays flat as N grows
(about `block_elements` scores, 64 MB by default, beside the vectors themselves). Of each
row's matches it keeps only the `neighbours` closest, so a swarm of m copies of one picture
yields about m * neighbours pairs instead of m²; grouping the pairs transitively still
joins the whole swarm.
"""

from __future__ import annotations

import numpy as np

DEFAULT_NEIGHBOURS = 16
DEFAULT_BLOCK_ELEMENTS = 1 << 24  # one block's float32 scores: 64 MB


def close_pairs(
    vectors: np.ndarray,
    *,
    min_similarity: float | None = None,
    max_distance: float | None = None,
    neighbours: int = DEFAULT_NEIGHBOURS,
    block_elements: int = DEFAULT_BLOCK_ELEMENTS,
) -> tuple[np.ndarray, np.ndarray]:
    """Index pairs (i < j) of rows within a threshold, and their similarity or distance.

    Give exactly one threshold: `min_similarity` compares rows by dot product (cosine
    similarity for unit rows), `max_distance` by Euclidean distance. Returns an (m, 2) int64
    array sorted by i then j, and the m float64 similarities or distances. Each row keeps at
    most `neighbours` matches among the rows after it, the closest first.
    """
    if (min_similarity is None) == (max_distance is None):
        raise ValueError("give exactly one of min_similarity and max_distance")
    if neighbours < 1:
        raise ValueError(f"neighbours must be at least 1, got {neighbours}")
    x = np.ascontiguousarray(vectors, dtype=np.float32)
    if x.ndim != 2 or not np.isfinite(x).all():
        raise ValueError(f"expected a finite 2-D array of vectors, got shape {x.shape}")
    euclidean = max_distance is not None
    # Scores rise with closeness: the dot product, or minus the squared distance.
    threshold = -(float(max_distance) ** 2) if euclidean else float(min_similarity)  # type: ignore[arg-type]
    squares = np.einsum("ij,ij->i", x, x) if euclidean else None
    n = len(x)
    block = max(1, block_elements // max(n, 1))
    found_i, found_j, found_score = [], [], []
    for start in range(0, n, block):
        stop = min(start + block, n)
        scores = x[start:stop] @ x[start:].T  # rows start..stop against rows start..n
        if squares is not None:
            scores *= 2.0
            scores -= squares[start:stop, None]
            scores -= squares[None, start:]
        scores[np.tril_indices(stop - start, m=n - start)] = -np.inf  # each pair once, i < j
        hits = scores >= threshold
        # np.nonzero over the whole block costs more than the product: look only in rows
        # that have a hit (few: near-identical pairs are rare).
        hit_rows = np.flatnonzero(hits.any(axis=1))
        rows, cols = np.nonzero(hits[hit_rows])
        rows = hit_rows[rows]
        values = scores[rows, cols]
        keep = _closest_per_row(rows, values, neighbours)
        found_i.append(rows[keep] + start)
        found_j.append(cols[keep] + start)
        found_score.append(values[keep])
        del scores, hits  # before the next block's are allocated: one block in memory at a time
    i = np.concatenate(found_i) if found_i else np.zeros(0, np.int64)
    j = np.concatenate(found_j) if found_j else np.zeros(0, np.int64)
    score = np.concatenate(found_score).astype(np.float64) if found_score else np.zeros(0)
    order = np.lexsort((j, i))
    pairs = np.stack([i[order], j[order]], axis=1).astype(np.int64)
    score = score[order]
    return pairs, np.sqrt(np.maximum(-score, 0.0)) if euclidean else score


def _closest_per_row(rows: np.ndarray, values: np.ndarray, neighbours: int) -> np.ndarray:
    """Indices of the hits to keep: each row's `neighbours` highest values."""
    if len(rows) == 0 or np.bincount(rows).max() <= neighbours:
        return np.arange(len(rows))
    order = np.lexsort((-values, rows))  # by row, the closest first
    _, first, counts = np.unique(rows[order], return_index=True, return_counts=True)
    rank = np.arange(len(order)) - np.repeat(first, counts)
    return np.sort(order[rank < neighbours])
