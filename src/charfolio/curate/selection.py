"""Selection: every image through the curation funnel, a ranking of the survivors, tiers.

Funnel order, and the one reject reason each image gets (the first check it fails):
  face        unreadable | no_face | multiple_faces | partial_face
  duplicate   duplicate (a lower-scored copy: same bytes, pHash, or face and embedding;
              charfolio.curate.uniqueness)
  thresholds  low_resolution | face_too_small | overexposed | underexposed | low_contrast |
              high_contrast | noisy | compression_artifacts | low_sharpness | low_face_confidence
  score       low_quality_score
  review      reviewer (a person's reject; charfolio.curate.reviews: a person's accept or
              star passes an image whatever the checks above said, unless it is unreadable)
Stage verdicts are kept for every stage that could be evaluated, so a threshold change can
be read off the table ("would it have passed?") without rerunning anything.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from charfolio.core import tables
from charfolio.core.layout import tier_folder
from charfolio.curate.decisions import REVIEWER_REASON, CheckedDecisions
from charfolio.curate.near_duplicates import NearDuplicateRule, VectorSource
from charfolio.curate.reviews import accepted_files, apply_decisions, starred_files, stars_first
from charfolio.curate.strategies import DEFAULT_STRATEGY, Candidate, rank
from charfolio.curate.thresholds import Thresholds
from charfolio.curate.tier_floors import check_tiers, default_tiers
from charfolio.curate.uniqueness import Duplicate, find_copies

FACE_REASONS = ("unreadable", "no_face", "multiple_faces", "partial_face")
# The order is the order of the checks: a defect that also lowers the measured sharpness
# (a flat, dark, noisy or blocky image) is named for what it is, not as blur.
THRESHOLD_REASONS = (
    "low_resolution",
    "face_too_small",
    "overexposed",
    "underexposed",
    "low_contrast",
    "high_contrast",
    "noisy",
    "compression_artifacts",
    "low_sharpness",
    "low_face_confidence",
)
REJECT_REASONS = (
    *FACE_REASONS,
    "duplicate",
    *THRESHOLD_REASONS,
    "low_quality_score",
    REVIEWER_REASON,
)
STAGES = {
    "face": FACE_REASONS,
    "duplicate": ("duplicate",),
    "thresholds": THRESHOLD_REASONS,
    "quality_score": ("low_quality_score",),
    "review": (REVIEWER_REASON,),
}


@dataclass(frozen=True)
class SelectionRow:
    """One image's selection outcome; the fields are the SELECTION table's columns."""

    file: str
    seed: int
    mode: str
    scenario: str | None
    prompt: str
    cluster: int | None
    quality_score: float | None
    sharpness: float | None
    contrast: float | None
    face_confidence: float | None
    face_verdict: str
    face_pass: bool
    unique_pass: bool | None
    thresholds_pass: bool | None
    score_pass: bool | None
    verdict: str  # passed | rejected
    reject_reason: str | None
    duplicate_of: str | None  # tables.DUPLICATE_EVIDENCE: the kept copy, and how it matched
    duplicate_kind: str | None
    duplicate_distance: int | None
    duplicate_face_distance: float | None
    duplicate_embedding_similarity: float | None
    rank: int | None
    tiers: tuple[str, ...] = ()
    # A reviewer's decision (tables.REVIEW_DECISION_COLUMNS) and the verdict it overruled: `verdict`/`reject_reason` above are the final ones.
    review_decision: str | None = None
    review_note: str | None = None
    reviewer: str | None = None
    reviewed_at: str | None = None
    review_status: str | None = None
    pipeline_verdict: str | None = None
    pipeline_reject_reason: str | None = None
    sha256: str | None = None  # of the image judged, as its images table recorded it
    nearest_cluster: int | None = None  # unclustered: the nearest centroid's cluster


@dataclass(frozen=True)
class SelectionResult:
    rows: tuple[SelectionRow, ...]  # one per image, sorted by file
    thresholds: Thresholds
    strategy: str
    per_cluster: int
    tiers: dict[int, float | None]  # requested size -> floor
    duplicate_distance: int | None  # max pHash Hamming distance; None: hashes not compared
    near_duplicates: NearDuplicateRule | None = None  # None: faces and embeddings not compared
    members: dict[int, tuple[str, ...]] = field(default_factory=dict)  # tier -> files by rank

    def ranked(self) -> list[SelectionRow]:
        return sorted((r for r in self.rows if r.rank is not None), key=lambda r: r.rank or 0)


def _require(files: Sequence[str], rows: Mapping[str, Any], table: str, rule: str) -> None:
    missing = [f for f in files if f not in rows]
    if missing:
        raise ValueError(
            f"{table} has no row for {missing[0]} (and {len(missing) - 1} more images); it is "
            f"older than the image tables: rerun the {rule} rule"
        )


def face_reason(face: Mapping[str, Any], quality: Mapping[str, Any]) -> str | None:
    verdict = face["face_verdict"]
    if verdict == "unreadable" or not quality.get("readable", True):
        return "unreadable"
    if verdict == "ok":
        return None
    if verdict not in FACE_REASONS:
        raise ValueError(
            f"unknown face_verdict {verdict!r} for {face['file']}; expected ok or one of {FACE_REASONS}"
        )
    return verdict


def _below(value: float | None, minimum: float | None) -> bool:
    return value is not None and minimum is not None and value < minimum


def _above(value: float | None, maximum: float | None) -> bool:
    return value is not None and maximum is not None and value > maximum


def threshold_reason(quality: Mapping[str, Any], t: Thresholds) -> str | None:
    """The first threshold the image fails, in THRESHOLD_REASONS' order, or None.

    A measure that is null (no face, or a table written before the measure existed) passes
    its gate; the frame's Laplacian variance gates sharpness only where no face is measured.
    """
    q = quality.get
    face_size = q("face_size")
    if face_size is not None and q("working_scale") is not None:
        face_size *= q("working_scale")  # as large as the face is at the working resolution
    confidence = q("face_confidence")
    face_sharpness = q("face_sharpness")
    checks = (
        ("low_resolution", _below(q("short_side"), t.min_short_side)),
        ("face_too_small", _below(face_size, t.min_face_size)),
        (
            "overexposed",
            _above(q("face_highlights"), t.max_face_highlights)
            or _above(q("highlights"), t.max_highlights),
        ),
        (
            "underexposed",
            _below(q("face_brightness"), t.min_face_brightness)
            or _above(q("face_shadows"), t.max_face_shadows)
            or _above(q("shadows"), t.max_shadows),
        ),
        ("low_contrast", _below(q("contrast"), t.min_contrast)),
        ("high_contrast", _above(q("contrast"), t.max_contrast)),
        ("noisy", _above(q("noise"), t.max_noise)),
        ("compression_artifacts", _above(q("blockiness"), t.max_blockiness)),
        (
            "low_sharpness",
            _below(face_sharpness, t.min_face_sharpness)
            if face_sharpness is not None
            else _below(q("sharpness"), t.min_sharpness),
        ),
        ("low_face_confidence", confidence is None or confidence < t.min_face_confidence),
    )
    return next((reason for reason, failed in checks if failed), None)


def build_tiers(
    ranking: Sequence[str],
    scores: Mapping[str, float],
    tiers: Mapping[int, float | None],
    exempt: frozenset[str] | set[str] = frozenset(),
) -> dict[int, tuple[str, ...]]:
    """Tier n = the next smaller tier plus the best-ranked others meeting tier n's floor.

    Floors never rise with size, so every member of a smaller tier qualifies for the larger
    one: tiers are nested, and each is as close to a prefix of the ranking as its floor allows.
    `exempt` images (a reviewer accepted them) meet every floor.
    """
    order = {f: i for i, f in enumerate(ranking)}
    members: list[str] = []
    taken: set[str] = set()
    out: dict[int, tuple[str, ...]] = {}
    for n, floor in check_tiers(tiers):
        for file in ranking:
            if len(members) >= n:
                break
            meets = floor is None or file in exempt or scores[file] >= floor
            if file not in taken and meets:
                members.append(file)
                taken.add(file)
        out[n] = tuple(sorted(members, key=order.__getitem__))
    return out


def _judge(
    image: Mapping[str, Any],
    face: Mapping[str, Any],
    q: Mapping[str, Any],
    cluster: Mapping[str, Any] | None,
    face_fail: str | None,
    duplicate: Duplicate | None,
    thresholds: Thresholds,
) -> dict[str, Any]:
    """One image's SELECTION row (rank and tiers are filled in later)."""
    readable = face_fail != "unreadable"
    t_reason = threshold_reason(q, thresholds) if readable else None
    score = q.get("quality_score") if readable else None
    score_pass = None if score is None else bool(score >= thresholds.min_quality_score)
    face_pass = face_fail is None
    unique_pass = (duplicate is None) if face_pass else None
    reasons = [
        face_fail,
        "duplicate" if unique_pass is False else None,
        t_reason,
        "low_quality_score" if score_pass is False else None,
    ]
    reason = next((r for r in reasons if r is not None), None)
    evidence = asdict(duplicate) if duplicate else dict.fromkeys(tables.DUPLICATE_EVIDENCE_COLUMNS)
    return {
        "file": image["file"],
        "sha256": image.get("sha256"),
        "seed": int(image["seed"]),
        "mode": image["mode"],
        "scenario": image.get("scenario"),
        "prompt": image["prompt"],
        "cluster": None if cluster is None else cluster["cluster"],
        "nearest_cluster": None,
        "quality_score": score,
        "sharpness": q.get("sharpness") if readable else None,
        "contrast": q.get("contrast") if readable else None,
        "face_confidence": q.get("face_confidence", face.get("face_confidence")),
        "face_verdict": face["face_verdict"],
        "face_pass": face_pass,
        "unique_pass": unique_pass,
        "thresholds_pass": None if not readable else t_reason is None,
        "score_pass": score_pass,
        "verdict": "rejected" if reason else "passed",
        "reject_reason": reason,
        **evidence,
        "rank": None,
        "tiers": (),
    }


def select(
    images: Sequence[Mapping[str, Any]],
    faces: Sequence[Mapping[str, Any]],
    quality: Sequence[Mapping[str, Any]],
    clusters: Sequence[Mapping[str, Any]],
    duplicates: Sequence[Mapping[str, Any]] | None,
    thresholds: Thresholds,
    strategy: str = DEFAULT_STRATEGY,
    per_cluster: int = 3,
    tiers: Mapping[int, float | None] | None = None,
    duplicate_distance: int | None = None,
    near_duplicates: NearDuplicateRule | None = None,
    vectors: VectorSource | None = None,
    decisions: CheckedDecisions | None = None,
    nearest: Mapping[str, int] | None = None,
) -> SelectionResult:
    """Run the funnel, apply a reviewer's `decisions`, rank the passing pool with
    `strategy`, and fill the tiers.

    Rows are table rows as dicts (IMAGES, FACES, QUALITY, CLUSTERS, DUPLICATES). Only
    face-ok images are compared for duplicates, so a copy never loses to a twin that failed
    face validation; of each group the best-scored copy stays. Hashes are compared unless
    `duplicates` or `duplicate_distance` is None; faces and embeddings (`vectors`) when
    `near_duplicates` is given with a threshold on. `tiers` defaults to the schema's.
    `nearest` gives unclustered images their nearest cluster (charfolio.curate.nearest_cluster).
    """
    tiers = dict(check_tiers(default_tiers() if tiers is None else tiers))
    files = sorted(row["file"] for row in images)
    image_by = tables.rows_by_file(images, "the images table", "generate")
    face_by = tables.rows_by_file(faces, "faces.parquet", "faces")
    quality_by = tables.rows_by_file(quality, "quality.parquet", "quality")
    cluster_by = tables.rows_by_file(clusters, "the clusters table", "cluster")
    _require(files, face_by, "faces.parquet", "faces")
    _require(files, quality_by, "quality.parquet", "quality")

    face_reasons = {f: face_reason(face_by[f], quality_by[f]) for f in files}
    face_ok = [f for f in files if face_reasons[f] is None]
    hashes = tables.rows_by_file(duplicates or [], "duplicates.parquet", "duplicates")
    dupes = find_copies(
        face_ok,
        hashes,
        {f: float(quality_by[f]["quality_score"]) for f in face_ok},
        duplicate_distance if duplicates is not None else None,
        near_duplicates,
        vectors,
    )

    rows = {
        f: _judge(
            image_by[f],
            face_by[f],
            quality_by[f],
            cluster_by.get(f),
            face_reasons[f],
            dupes.get(f),
            thresholds,
        )
        for f in files
    }

    for f, row in rows.items():
        if row["cluster"] is None and nearest:
            row["nearest_cluster"] = nearest.get(f)
    apply_decisions(rows, decisions)
    members = rank_and_fill(rows, strategy, per_cluster, tiers)
    return SelectionResult(
        rows=tuple(SelectionRow(**rows[f]) for f in files),
        thresholds=thresholds,
        strategy=strategy,
        per_cluster=per_cluster,
        tiers=tiers,
        duplicate_distance=duplicate_distance,
        near_duplicates=near_duplicates,
        members=members,
    )


_NO_CLUSTER = -1


def _ranking_cluster(row: Mapping[str, Any]) -> int:
    """The cluster an image competes in: its own, else its nearest (a reviewer accepted it)."""
    for key in ("cluster", "nearest_cluster"):
        if row.get(key) is not None:
            return int(row[key])
    return _NO_CLUSTER


def rank_and_fill(
    rows: Mapping[str, dict[str, Any]],
    strategy: str,
    per_cluster: int,
    tiers: Mapping[int, float | None],
) -> dict[int, tuple[str, ...]]:
    """Rank the passing rows and fill the tiers; sets every row's `rank` and `tiers`.

    `rows` hold final verdicts (decisions applied). Starred images lead their clusters;
    accepted ones meet every tier floor. Returns tier size -> its files by rank.
    """
    passing = [r for r in rows.values() if r["verdict"] == "passed"]
    group = {r["file"]: _ranking_cluster(r) for r in passing}
    scores = {r["file"]: r["quality_score"] or 0.0 for r in passing}  # null only if unreadable
    starred = starred_files(rows)
    ranking: list[str] = []
    # Images without any cluster (no embedding) come after every clustered one: a group of
    # their own would take a place in every round ahead of each cluster's next best.
    for part in ([r for r in passing if group[r["file"]] != _NO_CLUSTER],
                 [r for r in passing if group[r["file"]] == _NO_CLUSTER]):  # fmt: skip
        candidates = [
            Candidate(r["file"], r["seed"], group[r["file"]], scores[r["file"]]) for r in part
        ]
        ranking += stars_first(rank(candidates, strategy, per_cluster), group, starred)
    for row in rows.values():
        row["rank"], row["tiers"] = None, ()
    for i, f in enumerate(ranking, start=1):
        rows[f]["rank"] = i
    members = build_tiers(ranking, scores, tiers, accepted_files(rows))
    for n, tier_files in members.items():
        for f in tier_files:
            rows[f]["tiers"] = (*rows[f]["tiers"], tier_folder(n))
    return members
