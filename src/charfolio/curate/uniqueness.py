"""The duplicate stage: hash pairs and near-identical pairs in one set of groups.

Copies are found by three criteria (duplicates.DUPLICATE_KINDS): the same bytes and pHash
within `max_distance` bits (charfolio.quality.duplicates), and near-identical face and embedding
(charfolio.curate.near_duplicates). Pairs of either kind join the same groups transitively; each
group keeps its best-scored image and every other member is a duplicate of it, with the
evidence recorded (tables.DUPLICATE_EVIDENCE): the kind that matched this copy to the kept
one (or, for a copy that joined through another copy, its own strongest match), and its
pHash, face and embedding measures to the kept copy.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from charfolio.curate.near_duplicates import (
    KIND,
    ImageVectors,
    NearDuplicateRule,
    VectorSource,
    near_identical_pairs,
)
from charfolio.quality.duplicates import DuplicateGroups, hash_pairs, phash_distance


@dataclass(frozen=True)
class Duplicate:
    """The fields are tables.DUPLICATE_EVIDENCE's columns."""

    duplicate_of: str
    duplicate_kind: str
    duplicate_distance: int | None
    duplicate_face_distance: float | None
    duplicate_embedding_similarity: float | None


def find_copies(
    files: Sequence[str],
    hashes: Mapping[str, Mapping[str, Any]],
    scores: Mapping[str, float],
    max_distance: int | None,
    rule: NearDuplicateRule | None = None,
    vectors: VectorSource | None = None,
) -> dict[str, Duplicate]:
    """Every copy among `files` -> its evidence; the best-scored image of each group is kept.

    `hashes` holds DUPLICATES rows by file (a file without one is not compared by hash);
    `max_distance` None turns the hash criteria off, `rule` None (or both its thresholds
    None) the near-identity one. `vectors` is needed when the rule is on.
    """
    rows = [hashes.get(f) or {"file": f} for f in files]
    groups = DuplicateGroups(len(files))
    if max_distance is not None:
        for i, j, kind in hash_pairs(rows, max_distance):
            groups.add(i, j, kind)
    near: ImageVectors | None = None
    if rule is not None and rule.enabled:
        if vectors is None:
            raise ValueError("the near-duplicate rule needs the face descriptors and embeddings")
        near = vectors.take(files)
        for i, j in near_identical_pairs(near, rule).tolist():
            groups.add(i, j, KIND)

    out: dict[str, Duplicate] = {}
    for i, k in groups.kept(files, scores).items():
        bits = phash_distance(rows[i], rows[k])
        face = near.face_distance(i, k) if near is not None else None
        similarity = near.embedding_similarity(i, k) if near is not None else None
        kind = _direct_kind(rows[i], rows[k], bits, face, similarity, max_distance, rule)
        # A copy that matches the kept image by no criterion joined through another copy.
        out[files[i]] = Duplicate(files[k], kind or str(groups.kind[i]), bits, face, similarity)
    return out


def _direct_kind(
    a: Mapping[str, Any],
    b: Mapping[str, Any],
    bits: int | None,
    face: float | None,
    similarity: float | None,
    max_distance: int | None,
    rule: NearDuplicateRule | None,
) -> str | None:
    """The strongest criterion by which copy `a` matches the kept image `b` itself."""
    if max_distance is not None:
        if a.get("sha256") is not None and a.get("sha256") == b.get("sha256"):
            return "sha256"
        if bits is not None and bits <= max_distance:
            return "phash"
    if rule is not None and rule.matches(face, similarity):
        return KIND
    return None
