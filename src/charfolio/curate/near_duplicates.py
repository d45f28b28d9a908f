"""Near-duplicates that pHash misses: the same face in the same picture, by their vectors.

Two images are near-identical when their main-face descriptors are within `face_distance`
(Euclidean, on the vectors as the face backend gives them) AND their image embeddings have
a cosine similarity of at least `embedding_similarity`: the same pose in the same light,
regenerated or lightly edited. A small crop or a colour shift moves pHash by 6-20 bits (its
threshold is 6) but these vectors barely. Either threshold set to None is not checked; both
None turn the rule off. Only images with every checked vector can match.

The face criterion tells people apart, the embedding tells pictures apart: one character's
images all share a face, so it is the embedding that keeps two different photos of the same
person apart, and the face that keeps two people in the same setting apart.

Defaults, measured on real photos (tests/unit/test_near_duplicates.py: the astronaut, Grace
Hopper and four people cut from insightface's group photo) with the offline backends, dlib's
128-d descriptor (< 0.6 is dlib's "same person") and the colour_layout embedding:

  pair                                          face distance   embedding similarity
  the photo and its 4% crop, 8% corner crop,
    JPEG q70, a colour or a level shift, or
    crop + shift + JPEG at once                 0.00-0.11       0.91-1.00
  the photo and its mirror image                0.17-0.25       0.39-0.74
  two people of the group photo (same light)    0.75-0.88       0.52-0.66
  two people in different photos                0.70-0.93       0.04-0.49
  the demo's renders of one photo               0.05-0.51       up to 0.99 when framed alike

Every crop moves pHash by 8-20 bits (its threshold is 6), so pHash misses them all.
`face_distance` 0.3 lies above every edit, mirror images included, and below half of the
closest two people; `embedding_similarity` 0.9 lies below every edit and far above two
people. What is not caught: a mirror image with colour_layout, which sees layout (an embedder
that is nearly mirror-invariant, as CLIP is meant to be, may catch it); a blurred copy (blur
moves dlib's descriptor by 0.45 or more; the sharpness gate rejects it); a larger reframing.
The similarity scale is the embedder's: 0.9 is measured on colour_layout only (no CLIP
weights ship offline), so recalibrate it for open_clip; InsightFace's unit ArcFace
descriptors likewise need a face_distance of their own.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pyarrow.compute as pc
import pyarrow.parquet as pq

from charfolio.curate.neighbours import DEFAULT_NEIGHBOURS, close_pairs
from charfolio.embed.base import l2_normalise
from charfolio.embed.stream import load_embeddings

DEFAULT_FACE_DISTANCE = 0.3
DEFAULT_EMBEDDING_SIMILARITY = 0.9
KIND = "face_embedding"  # the duplicate kind this rule records

PathLike = str | os.PathLike[str]


@dataclass(frozen=True)
class NearDuplicateRule:
    face_distance: float | None = DEFAULT_FACE_DISTANCE  # max L2 of main-face descriptors
    embedding_similarity: float | None = DEFAULT_EMBEDDING_SIMILARITY  # min embedding cosine

    @property
    def enabled(self) -> bool:
        return self.face_distance is not None or self.embedding_similarity is not None

    @classmethod
    def from_config(cls, section: Mapping[str, Any] | None) -> NearDuplicateRule:
        """From curation.near_duplicates (absent keys take the defaults, null turns one off)."""
        section = dict(section or {})
        unknown = set(section) - {"face_distance", "embedding_similarity"}
        if unknown:
            raise ValueError(
                f"unknown curation.near_duplicates keys {sorted(unknown)}; use face_distance "
                f"and embedding_similarity"
            )
        return cls(**section)

    def matches(self, face_distance: float | None, embedding_similarity: float | None) -> bool:
        """Whether two images with these measures (None: not measured) are near-identical."""
        face = self.face_distance is None or (
            face_distance is not None and face_distance <= self.face_distance
        )
        embedding = self.embedding_similarity is None or (
            embedding_similarity is not None and embedding_similarity >= self.embedding_similarity
        )
        return self.enabled and face and embedding


def rule_params(rule: NearDuplicateRule | None) -> dict[str, float | None] | None:
    """The rule as plain JSON values (the selection's recorded parameters)."""
    return None if rule is None else asdict(rule)


def rule_from_params(params: Mapping[str, float | None] | None) -> NearDuplicateRule | None:
    return None if params is None else NearDuplicateRule(**params)


@dataclass(frozen=True, eq=False)  # eq would compare arrays elementwise
class ImageVectors:
    """Main-face descriptors and unit image embeddings, row i for files[i]; NaN rows: none."""

    files: tuple[str, ...]
    descriptors: np.ndarray  # (n, d) float32
    embeddings: np.ndarray  # (n, e) float32

    def face_distance(self, i: int, j: int) -> float | None:
        pair = _both(self.descriptors, i, j)
        return None if pair is None else float(np.linalg.norm(pair[0] - pair[1]))

    def embedding_similarity(self, i: int, j: int) -> float | None:
        pair = _both(self.embeddings, i, j)
        return None if pair is None else float(pair[0] @ pair[1])


def _both(matrix: np.ndarray, i: int, j: int) -> tuple[np.ndarray, np.ndarray] | None:
    """Rows i and j in float64, or None when either holds no vector."""
    if not _present(matrix[[i, j]]).all():
        return None
    return matrix[i].astype(np.float64), matrix[j].astype(np.float64)


def _present(matrix: np.ndarray) -> np.ndarray:
    """Rows that hold a vector (a table without descriptors has zero columns)."""
    return np.isfinite(matrix).all(axis=1) & (matrix.shape[1] > 0)


@dataclass(frozen=True, eq=False)
class VectorSource:
    """The stored vectors, read for the images asked for (the embeddings through a memory map)."""

    descriptors: Mapping[str, np.ndarray]  # file -> main-face descriptor
    embeddings: np.ndarray  # (N, e), as the embed stage wrote it: a zero row is unreadable
    rows: Mapping[str, int]  # file -> row of `embeddings`
    source: str  # the embeddings index, named when an image is missing from it

    def take(self, files: Sequence[str]) -> ImageVectors:
        """The vectors of `files`, in that order; a file without an embedding row is an error."""
        missing = [f for f in files if f not in self.rows]
        if missing:
            raise ValueError(
                f"{self.source} has no row for {missing[0]} (and {len(missing) - 1} more images); "
                f"it is older than the image tables: rerun the embed_images rule"
            )
        rows = np.array([self.rows[f] for f in files], dtype=np.int64)
        # Stated width: reshape(0, -1) cannot infer it when no image is asked for.
        width = self.embeddings.shape[1] if self.embeddings.ndim == 2 else 0
        embeddings = l2_normalise(self.embeddings[rows].reshape(len(files), width))
        embeddings[~np.any(embeddings != 0, axis=1)] = np.nan
        dim = len(next(iter(self.descriptors.values()))) if self.descriptors else 0
        descriptors = np.full((len(files), dim), np.nan, dtype=np.float32)
        for i, file in enumerate(files):
            if file in self.descriptors:
                descriptors[i] = self.descriptors[file]
        return ImageVectors(tuple(files), descriptors, embeddings)


def read_descriptors(faces: PathLike) -> dict[str, np.ndarray]:
    """file -> main-face descriptor, for the FACES rows that have one."""
    table = pq.read_table(faces, columns=["file", "descriptor"])
    has = table.filter(pc.is_valid(table["descriptor"]))
    if has.num_rows == 0:
        return {}
    lengths = pc.list_value_length(has["descriptor"]).to_numpy()
    if (lengths != lengths[0]).any():
        raise ValueError(
            f"{faces} mixes descriptors of {sorted(set(lengths.tolist()))} dimensions; "
            f"delete it and rerun the faces rule"
        )
    flat = pc.list_flatten(has["descriptor"]).to_numpy(zero_copy_only=False)
    matrix = flat.astype(np.float32).reshape(has.num_rows, int(lengths[0]))
    return dict(zip(has["file"].to_pylist(), matrix, strict=True))


def load_vectors(
    faces: PathLike, embeddings_npy: PathLike, embeddings_index: PathLike
) -> VectorSource:
    """faces.parquet's descriptors and an embeddings file with its row index."""
    embeddings, index = load_embeddings(embeddings_npy, embeddings_index)
    rows = {str(r["file"]): int(r["row"]) for r in index}
    return VectorSource(read_descriptors(faces), embeddings, rows, str(embeddings_index))


def near_identical_pairs(
    vectors: ImageVectors, rule: NearDuplicateRule, neighbours: int = DEFAULT_NEIGHBOURS
) -> np.ndarray:
    """(m, 2) row pairs, i < j, that the rule finds near-identical.

    Candidates are each image's nearest neighbours by embedding (by face when the embedding
    is not checked): one character's faces all lie close together, so the embedding is the
    space where an image's near neighbours are few and its copies stand out. The other
    criterion is then checked on the candidates.
    """
    if not rule.enabled:
        return np.zeros((0, 2), dtype=np.int64)
    checked = [
        matrix
        for matrix, threshold in (
            (vectors.descriptors, rule.face_distance),
            (vectors.embeddings, rule.embedding_similarity),
        )
        if threshold is not None
    ]
    usable = np.flatnonzero(np.logical_and.reduce([_present(m) for m in checked]))

    def rows(matrix: np.ndarray) -> np.ndarray:  # no copy of N vectors when all are usable
        return matrix if len(usable) == len(matrix) else matrix[usable]

    if rule.embedding_similarity is not None:
        found, _ = close_pairs(
            rows(vectors.embeddings),
            min_similarity=rule.embedding_similarity,
            neighbours=neighbours,
        )
    else:
        found, _ = close_pairs(
            rows(vectors.descriptors), max_distance=rule.face_distance, neighbours=neighbours
        )
    pairs = usable[found] if len(found) else np.zeros((0, 2), dtype=np.int64)
    if rule.embedding_similarity is not None and rule.face_distance is not None and len(pairs):
        a = vectors.descriptors[pairs[:, 0]].astype(np.float64)
        b = vectors.descriptors[pairs[:, 1]].astype(np.float64)
        pairs = pairs[np.linalg.norm(a - b, axis=1) <= rule.face_distance]
    return pairs
