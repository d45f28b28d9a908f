"""Near-duplicates by face and embedding, on real photos and their mild edits.

Descriptors come from the dlib backend and embeddings from colour_layout (the offline
backends of the demo and tests); the defaults in charfolio.curate.near_duplicates were calibrated
on these measurements.
"""

from __future__ import annotations

import functools
import itertools
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from charfolio.core import tables
from charfolio.curate.near_duplicates import (
    ImageVectors,
    NearDuplicateRule,
    load_vectors,
    near_identical_pairs,
)
from charfolio.demo.variation_recipe import recipe_for
from charfolio.embed import create_embedder
from charfolio.generation.backends import RenderRequest, create_image_backend
from charfolio.quality.duplicates import DEFAULT_MAX_DISTANCE, DuplicateGroups, hamming, phash
from tests.unit.photo_support import (
    MILD_EDITS,
    MIRROR,
    clean_portraits,
    face_descriptor,
    main_face,
)

RULE = NearDuplicateRule()  # the defaults under test


@functools.cache
def _embedder():  # type: ignore[no-untyped-def]
    return create_embedder({"backend": "colour_layout"})


def _vectors(images: dict[str, np.ndarray]) -> ImageVectors:
    files = tuple(images)
    descriptors = np.stack([face_descriptor(images[f]) for f in files])
    embeddings = _embedder().embed([images[f] for f in files])
    return ImageVectors(files, descriptors, embeddings)


@functools.cache
def _photos_and_edits() -> dict[str, np.ndarray]:
    """Each clean portrait, its mild edits ("{photo}/{edit}") and its mirror ("{photo}/mirror")."""
    images = {}
    for name, rgb in clean_portraits().items():
        images[name] = rgb
        images |= {f"{name}/{edit}": change(rgb) for edit, change in MILD_EDITS.items()}
        images[f"{name}/mirror"] = MIRROR(rgb)
    return images


@pytest.fixture(scope="module")
def photos() -> tuple[dict[str, np.ndarray], ImageVectors]:
    images = _photos_and_edits()
    return images, _vectors(images)


def _measures(vectors: ImageVectors, a: str, b: str) -> tuple[float, float]:
    i, j = vectors.files.index(a), vectors.files.index(b)
    face, similarity = vectors.face_distance(i, j), vectors.embedding_similarity(i, j)
    assert face is not None and similarity is not None
    return face, similarity


def test_mild_edits_are_caught_where_phash_misses_every_crop(photos) -> None:
    images, vectors = photos
    for name in clean_portraits():
        for edit in MILD_EDITS:
            face, similarity = _measures(vectors, name, f"{name}/{edit}")
            assert face < 0.15 and similarity > 0.9, (name, edit, face, similarity)
            assert RULE.matches(face, similarity), (name, edit)
            bits = hamming(phash(images[name]), phash(images[f"{name}/{edit}"]))
            # Every crop moves pHash past its threshold (8-20 bits); colour and JPEG do not.
            assert (bits > DEFAULT_MAX_DISTANCE) == ("crop" in edit), (name, edit, bits)


def test_a_mirror_image_is_caught_only_where_the_embedding_agrees(photos) -> None:
    """dlib's descriptor barely moves (0.17-0.28), but colour_layout sees the layout flip."""
    _, vectors = photos
    for name in clean_portraits():
        face, similarity = _measures(vectors, name, f"{name}/mirror")
        assert face <= RULE.face_distance  # the face agrees ...
        assert similarity < 0.8  # ... the layout embedding does not: not caught
        assert not RULE.matches(face, similarity)
        assert NearDuplicateRule(embedding_similarity=None).matches(face, similarity)


def test_different_people_are_never_merged(photos) -> None:
    _, vectors = photos
    people = list(clean_portraits())
    for a, b in itertools.combinations(people, 2):
        face, similarity = _measures(vectors, a, b)
        assert face > 0.6, (a, b, face)  # dlib's own line between people
        assert not RULE.matches(face, similarity)
    # The four people of the group photo share its light and framing: the embedding alone
    # rates them alike (0.52-0.66), the face keeps them apart.
    group = [p for p in people if p.startswith("group_")]
    similarities = [_measures(vectors, a, b)[1] for a, b in itertools.combinations(group, 2)]
    assert min(similarities) > 0.5
    # Over the whole set, the groups found are exactly each photo with its mild edits.
    found = near_identical_pairs(vectors, RULE)
    groups = DuplicateGroups(len(vectors.files))
    for i, j in found.tolist():
        groups.add(i, j, "face_embedding")
    members: dict[int, set[str]] = {}
    for i, file in enumerate(vectors.files):
        members.setdefault(groups.find(i), set()).add(file)
    expected = [{name, *(f"{name}/{edit}" for edit in MILD_EDITS)} for name in people]
    expected += [{f"{name}/mirror"} for name in people]
    assert sorted(map(sorted, members.values())) == sorted(map(sorted, expected))


def test_one_person_in_other_pictures_is_not_a_duplicate() -> None:
    """The demo's renders of one photo: the face always agrees (the same person, the same
    photo), so the embedding decides. Renders framed or mirrored differently are never merged;
    those merged share framing and mirror, and differ only in light and a strip of background."""
    backend = create_image_backend({"backend": "reference_variation"})
    framings = ["close-up portrait", "medium shot", "wide shot", "upper body"]
    requests = [
        RenderRequest(f"a woman, {framings[i % 4]}", "", 10 + i, 384, 384, "casual")
        for i in range(10)
    ]
    images, recipes = {}, {}
    for i, (request, image) in enumerate(zip(requests, backend.render(requests), strict=True)):
        rgb = np.asarray(image.convert("RGB"))
        if main_face(rgb) is not None:
            images[f"render_{i}"], recipes[f"render_{i}"] = rgb, recipe_for(request)
    vectors = _vectors(images)
    merged = {
        frozenset((vectors.files[i], vectors.files[j]))
        for i, j in near_identical_pairs(vectors, RULE).tolist()
    }
    composed_apart = 0
    for a, b in itertools.combinations(vectors.files, 2):
        face, similarity = _measures(vectors, a, b)
        assert face < 0.3, (a, b)  # the face criterion alone would merge every pair
        same_composition = (recipes[a].framing, recipes[a].flip) == (
            recipes[b].framing,
            recipes[b].flip,
        )
        if not same_composition:
            composed_apart += 1
            assert similarity < 0.8 and frozenset((a, b)) not in merged, (a, b)
    assert composed_apart >= 10
    assert len(merged) >= 1  # this seed range has a pair framed alike: that one is caught


def test_a_criterion_set_to_none_is_not_checked() -> None:
    files = ("a", "b", "c", "d")
    descriptors = np.array([[0.0, 0.0], [0.1, 0.0], [2.0, 0.0], [np.nan, np.nan]], np.float32)
    embeddings = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 0.0]], np.float32)
    vectors = ImageVectors(files, descriptors, embeddings)

    def pairs(rule: NearDuplicateRule) -> list[list[int]]:
        return near_identical_pairs(vectors, rule).tolist()

    assert pairs(NearDuplicateRule(0.3, 0.9)) == []  # a~b by face, a~c by embedding: neither
    assert pairs(NearDuplicateRule(0.3, None)) == [[0, 1]]
    # d has no descriptor: it matches by embedding alone, never where faces are compared.
    assert pairs(NearDuplicateRule(None, 0.9)) == [[0, 2], [0, 3], [2, 3]]
    assert pairs(NearDuplicateRule(None, None)) == []
    assert not NearDuplicateRule(None, None).enabled
    assert NearDuplicateRule.from_config({"face_distance": None}) == NearDuplicateRule(None, 0.9)
    with pytest.raises(ValueError, match=r"unknown curation\.near_duplicates keys"):
        NearDuplicateRule.from_config({"embedding_cosine": 0.9})


def test_vectors_from_the_stage_files(tmp_path: Path) -> None:
    faces = [
        {"file": "a.png", "face_verdict": "ok", "descriptor": [0.0, 1.0, 0.0]},
        {"file": "b.png", "face_verdict": "no_face", "descriptor": None},
        {"file": "c.png", "face_verdict": "ok", "descriptor": [0.0, 1.0, 0.5]},
    ]
    tables.write_table(tmp_path / "faces.parquet", faces, tables.FACES)
    # The embed stage's layout: c is unreadable (a zero row), d has a row but no face row.
    np.save(tmp_path / "e.npy", np.array([[3, 4], [0, 1], [0, 0], [1, 0]], np.float32))
    index = [
        {"row": i, "file": f, "ok": f != "c.png", "model": "m", "reason": None}
        for i, f in enumerate(["a.png", "b.png", "c.png", "d.png"])
    ]
    tables.write_table(tmp_path / "e.parquet", index, tables.EMBEDDING_INDEX)
    source = load_vectors(tmp_path / "faces.parquet", tmp_path / "e.npy", tmp_path / "e.parquet")
    vectors = source.take(["c.png", "a.png", "d.png"])
    assert vectors.files == ("c.png", "a.png", "d.png")
    np.testing.assert_allclose(vectors.embeddings[1], [0.6, 0.8])  # unit length
    assert np.isnan(vectors.embeddings[0]).all() and np.isnan(vectors.descriptors[2]).all()
    assert vectors.face_distance(0, 1) == pytest.approx(0.5)
    assert vectors.embedding_similarity(0, 1) is None and vectors.face_distance(1, 2) is None
    with pytest.raises(ValueError, match="rerun the embed_images rule"):
        source.take(["a.png", "new.png"])
    # A faces table written with descriptors off: the face criterion matches nothing.
    pq.write_table(
        pa.Table.from_pylist([dict(r, descriptor=None) for r in faces], schema=tables.FACES),
        tmp_path / "faces.parquet",
    )
    bare = load_vectors(tmp_path / "faces.parquet", tmp_path / "e.npy", tmp_path / "e.parquet")
    assert bare.take(["a.png", "d.png"]).descriptors.shape == (2, 0)
    assert len(near_identical_pairs(bare.take(["a.png", "d.png"]), RULE)) == 0
    # No image passed the face gate (a random-weight model draws no faces): nothing to compare.
    none = source.take([])
    assert none.files == () and none.embeddings.shape == (0, 2)
    assert len(near_identical_pairs(none, RULE)) == 0
