"""A small character results tree for the review page's tests, built in tmp_path.

results/hero/ holds real PNG/JPEG crops of scikit-image's astronaut, a catalog.parquet with
the CATALOG schema, faces.parquet (for shot types), a balance report with a full_body gap, a
storyboard and a checkpoint run. Planted beside them: a file outside results, a catalogued
symlink pointing at it, and a storyboard folder that is a symlink to a folder outside.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from PIL import Image
from skimage import data

from charfolio.core import tables
from charfolio.core.layout import Results, board_name

CHARACTER = "hero"
SIDE = 256
# Main face boxes in a 256x256 frame: 110 px tall is a close-up, 51 a medium shot, 20 px
# high in the frame (room below for the body) a full-body shot.
CLOSE_UP = [80.0, 40.0, 176.0, 150.0]
MEDIUM = [100.0, 40.0, 150.0, 91.0]
FULL_BODY = [120.0, 40.0, 140.0, 60.0]

# file, verdict, reject_reason, quality, rank, cluster, seed, tiers, face box, readable
IMAGES: list[tuple[Any, ...]] = [
    ("images/seed_1/a.png", "passed", None, 0.9, 1, 0, 1, ["tier_2"], CLOSE_UP, True),
    ("images/seed_1/b.png", "passed", None, 0.8, 2, 1, 1, ["tier_2"], MEDIUM, True),
    ("images/seed_1/c.jpg", "passed", None, 0.7, 3, 0, 1, [], FULL_BODY, True),
    ("images/seed_2/d.jpg", "rejected", "low_sharpness", 0.3, None, 1, 2, [], FULL_BODY, True),
    ("images/seed_2/e.png", "rejected", "no_face", 0.1, None, None, 2, [], None, True),
    ("images/seed_2/f.jpg", "rejected", "unreadable", None, None, None, 2, [], FULL_BODY, False),
]
EVIL = "images/seed_1/evil.png"  # catalogued, but a symlink to a file outside results
FRAME = "story/first_day/frame_01.png"
CHECKPOINT = "checkpoints/default/tier_2/images/img_00.png"
LEAK = "story/leak/frame_01.png"  # listed by a storyboard whose folder links outside


@dataclass(frozen=True)
class Tree:
    tmp: Path
    results: Path  # results/
    root: Path  # results/hero/
    review_dir: Path
    outside: Path  # a secret image outside results
    sha256: dict[str, str]  # catalogued file -> the sha256 the catalog records

    @property
    def decisions(self) -> Path:
        return self.review_dir / f"{CHARACTER}.csv"

    @property
    def ratings(self) -> Path:
        return self.review_dir / f"{CHARACTER}_ratings.csv"


def default(field: pa.Field) -> Any:
    if field.nullable:
        return None
    if pa.types.is_list(field.type):
        return []
    if pa.types.is_boolean(field.type):
        return False
    if pa.types.is_string(field.type):
        return ""
    return 0


def catalog_row(**values: Any) -> dict[str, Any]:
    row = {f.name: default(f) for f in tables.CATALOG}
    row.update(values)
    return row


def write_catalog(path: Path, rows: list[dict[str, Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(rows, schema=tables.CATALOG), path)


def astronaut_crop(path: Path, k: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    crop = data.astronaut()[k * 30 : k * 30 + SIDE, k * 20 : k * 20 + SIDE]
    Image.fromarray(crop).save(path)


def sha256(path: Path) -> str:
    import hashlib

    return hashlib.sha256(path.read_bytes()).hexdigest()


def make_tree(tmp: Path) -> Tree:
    results = tmp / "results"
    layout = Results(str(results)).character(CHARACTER)
    root = Path(layout.root)
    rows, faces, digests = [], [], {}
    for k, (file, verdict, reason, quality, rank, cluster, seed, tiers, box, readable) in enumerate(
        IMAGES
    ):
        astronaut_crop(root / file, k)
        digests[file] = sha256(root / file)
        rows.append(catalog_row(
            character=CHARACTER, file=file, path=f"{CHARACTER}/{file}", seed=seed,
            prompt=f"photo of hero number {k}", negative_prompt="blurry",
            settings_json=json.dumps({"steps": 30, "sampler": "euler"}), sha256=digests[file],
            face_verdict="ok" if box else "no_face", readable=readable, quality_score=quality,
            cluster=cluster, verdict=verdict, reject_reason=reason, rank=rank, tiers=tiers,
            exists=True,
        ))  # fmt: skip
        faces.append({"file": file, "face_verdict": "ok" if box else "no_face",
                      "n_faces": 1 if box else 0, "boxes": [box] if box else [],
                      "width": SIDE, "height": SIDE})  # fmt: skip
    outside = tmp / "outside" / "secret.png"
    astronaut_crop(outside, 7)
    (root / EVIL).symlink_to(outside)
    digests[EVIL] = sha256(outside)
    rows.append(catalog_row(character=CHARACTER, file=EVIL, path=f"{CHARACTER}/{EVIL}",
                            sha256=digests[EVIL], face_verdict="ok", readable=True,
                            verdict="passed", seed=1, exists=True))  # fmt: skip
    write_catalog(Path(layout.catalog), rows)
    pq.write_table(pa.Table.from_pylist(faces, schema=tables.FACES), layout.faces)
    balance = Path(layout.balance_report(2))
    balance.parent.mkdir(parents=True)
    balance.write_text(json.dumps({"shot_types": {
        "full_body": {"status": "under", "images": 1, "count": 0},
        "close_up": {"status": "over", "images": 1, "count": 1},
    }}))  # fmt: skip
    board = Path(layout.board(board_name("first_day")))
    astronaut_crop(root / FRAME, 8)
    (board / "storyboard.json").write_text(json.dumps(
        {"frames": [{"frame": 1, "file": "frame_01.png", "description": "she wakes up"}]}
    ))  # fmt: skip
    astronaut_crop(root / CHECKPOINT, 9)
    leak = tmp / "outside" / "board"
    astronaut_crop(leak / "frame_01.png", 10)
    (leak / "storyboard.json").write_text(
        json.dumps({"frames": [{"frame": 1, "file": "frame_01.png"}]})
    )
    os.symlink(leak, root / "story" / "leak")
    return Tree(tmp, results, root, tmp / "reviews", outside, digests)
