"""Ranking strategies: order the whole passing pool so that any prefix is a good selection.

Each strategy works in rounds; a round picks from every group, and the round's picks are
ordered best first before the next round begins. Ties are broken by file name, so the
ranking is a pure function of its inputs.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Candidate:
    file: str
    seed: int
    cluster: int  # -1 for a passing image that has no cluster row
    score: float


Ranker = Callable[[Sequence[Candidate], int], list[str]]


def _best_first(candidates: Sequence[Candidate]) -> list[Candidate]:
    return sorted(candidates, key=lambda c: (-c.score, c.file))


def _groups(
    candidates: Sequence[Candidate], key: Callable[[Candidate], Hashable]
) -> list[list[Candidate]]:
    groups: dict[Hashable, list[Candidate]] = {}
    for c in _best_first(candidates):
        groups.setdefault(key(c), []).append(c)
    return [groups[k] for k in sorted(groups)]


def quality_first(candidates: Sequence[Candidate], per_cluster: int) -> list[str]:
    """Each round: the next `per_cluster` best of every cluster, seeds may repeat."""
    clusters = _groups(candidates, lambda c: c.cluster)
    ranking: list[str] = []
    while any(clusters):
        picks = [c for group in clusters for c in group[:per_cluster]]
        clusters = [group[per_cluster:] for group in clusters]
        ranking.extend(c.file for c in _best_first(picks))
    return ranking


def _balanced_rounds(group: Sequence[Candidate], per_cluster: int) -> list[list[Candidate]]:
    """One cluster's picks per round under `balanced` (group sorted best first)."""
    # An unseen seed's best candidate is its first image in score order: split those off,
    # and the rounds follow from two queues without rescanning the cluster each round.
    seeds: set[int] = set()
    firsts, repeats = [], []
    for c in group:
        (repeats if c.seed in seeds else firsts).append(c)
        seeds.add(c.seed)
    rounds = [firsts[:per_cluster]]  # round 1: distinct seeds only, no filling
    f, r = per_cluster, 0
    while f < len(firsts) or r < len(repeats):
        picks = firsts[f : f + per_cluster]
        f += len(picks)
        fill = per_cluster - len(picks)  # only once every seed of the cluster has been seen
        picks += repeats[r : r + fill]
        r += fill
        rounds.append(picks)
    return rounds


def balanced(candidates: Sequence[Candidate], per_cluster: int) -> list[str]:
    """Round 1: per cluster the best `per_cluster` with distinct seeds (never a seed twice).

    Later rounds keep preferring seeds not yet picked in that cluster, best first, and only
    then fill a cluster's quota with repeated seeds.
    """
    per_group = [_balanced_rounds(g, per_cluster) for g in _groups(candidates, lambda c: c.cluster)]
    ranking: list[str] = []
    for i in range(max((len(rounds) for rounds in per_group), default=0)):
        picks = [c for rounds in per_group if i < len(rounds) for c in rounds[i]]
        ranking.extend(c.file for c in _best_first(picks))
    return ranking


def diversity_first(candidates: Sequence[Candidate], per_cluster: int) -> list[str]:
    """Each round: the best remaining image of every (seed group, cluster) pair."""
    del per_cluster  # one per pair and round, by definition
    pairs = _groups(candidates, lambda c: (c.seed, c.cluster))
    ranking: list[str] = []
    while any(pairs):
        picks = [group[0] for group in pairs if group]
        pairs = [group[1:] for group in pairs]
        ranking.extend(c.file for c in _best_first(picks))
    return ranking


STRATEGIES: dict[str, Ranker] = {
    "quality_first": quality_first,
    "balanced": balanced,
    "diversity_first": diversity_first,
}
DEFAULT_STRATEGY = "balanced"


def rank(candidates: Sequence[Candidate], strategy: str, per_cluster: int) -> list[str]:
    if strategy not in STRATEGIES:
        raise ValueError(
            f"unknown selection strategy {strategy!r}; use one of {sorted(STRATEGIES)}"
        )
    if per_cluster < 1:
        raise ValueError(f"per_cluster must be at least 1, got {per_cluster}")
    files = [c.file for c in candidates]
    if len(set(files)) != len(files):
        raise ValueError("candidate files must be unique")
    ranking = STRATEGIES[strategy](candidates, per_cluster)
    assert len(ranking) == len(candidates)  # every strategy ranks the whole pool
    return ranking
