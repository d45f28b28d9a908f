"""Nearest-neighbour pairs: the same as brute force, each row's nearest kept, and at 50,000
vectors the planted copies found while memory holds one block of scores."""

from __future__ import annotations

import time
import tracemalloc

import numpy as np
import pytest

from charfolio.curate.neighbours import close_pairs


@pytest.mark.parametrize("metric", ["similarity", "distance"])
def test_close_pairs_match_brute_force(metric: str) -> None:
    rng = np.random.default_rng(1)
    x = rng.normal(size=(400, 6)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    if metric == "similarity":
        pairs, values = close_pairs(x, min_similarity=0.85, block_elements=999, neighbours=400)
        full = x.astype(np.float64) @ x.T.astype(np.float64)
        close = full >= 0.85
    else:
        pairs, values = close_pairs(x, max_distance=0.5, block_elements=999, neighbours=400)
        full = np.linalg.norm(x[:, None].astype(np.float64) - x[None], axis=2)
        close = full <= 0.5
    i, j = np.nonzero(np.triu(close, k=1))
    assert len(i) > 50
    np.testing.assert_array_equal(pairs, np.stack([i, j], axis=1))
    np.testing.assert_allclose(values, full[i, j], atol=1e-5)


def test_close_pairs_keep_each_rows_nearest_and_still_join_a_swarm() -> None:
    base = np.array([1.0, 0.0, 0.0], np.float32)
    swarm = np.stack([base + np.float32(0.001 * k) * np.array([0, 1, 0], np.float32)
                      for k in range(10)])  # fmt: skip
    pairs, _ = close_pairs(swarm, max_distance=1.0, neighbours=2)
    assert len(pairs) == 8 * 2 + 1  # rows 0-7 keep 2 later rows, row 8 has 1 left
    assert all(j - i <= 2 for i, j in pairs.tolist())  # the nearest, not just any
    joined = {0}
    for i, j in pairs.tolist():
        if i in joined:
            joined.add(j)
    assert joined == set(range(10))
    with pytest.raises(ValueError, match="exactly one"):
        close_pairs(swarm, min_similarity=0.9, max_distance=0.1)


def test_nearest_neighbours_at_scale_find_planted_copies_in_flat_memory() -> None:
    n, dim = 50_000, 64
    rng = np.random.default_rng(7)
    x = rng.normal(size=(n, dim)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    originals = rng.choice(n, size=6, replace=False)
    copies = rng.choice(np.setdiff1d(np.arange(n), originals), size=6, replace=False)
    nudged = x[originals] + rng.normal(scale=0.02, size=(6, dim)).astype(np.float32)
    x[copies] = nudged / np.linalg.norm(nudged, axis=1, keepdims=True)  # cosine about 0.99
    tracemalloc.start()
    start = time.perf_counter()
    pairs, similarities = close_pairs(x, min_similarity=0.9)
    seconds = time.perf_counter() - start
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    planted = {tuple(sorted(p)) for p in zip(originals.tolist(), copies.tolist(), strict=True)}
    assert {tuple(p) for p in pairs.tolist()} == planted  # random 64-d vectors are never close
    assert similarities.min() > 0.95
    # One block of scores (64 MB by default), never the 10 GB N x N matrix.
    assert peak < 120e6, peak
    assert seconds < 120, seconds
