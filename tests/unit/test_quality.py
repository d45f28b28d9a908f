"""Quality: the methodology's piecewise scores, raw metrics, and the per-image table."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image
from skimage import data

from charfolio.core import tables
from charfolio.quality import (
    CONTRAST_POINTS,
    DEFAULT_WEIGHTS,
    FACE_POINTS,
    SHARPNESS_POINTS,
    MainFace,
    check_weights,
    contrast_score,
    face_score,
    measure,
    quality_score,
    score_images,
    sharpness_score,
    write_quality,
)


@pytest.mark.parametrize(
    ("fn", "points"),
    [
        (sharpness_score, SHARPNESS_POINTS),
        (contrast_score, CONTRAST_POINTS),
        (face_score, FACE_POINTS),
    ],
)
def test_every_breakpoint(fn, points) -> None:
    for x, y in points:
        assert fn(x) == pytest.approx(y)


def test_methodology_values() -> None:
    assert sharpness_score(500) == sharpness_score(900) == 100
    assert sharpness_score(400) == pytest.approx(90)  # 300..500 -> 80..100
    assert sharpness_score(300) == 80 and sharpness_score(100) == 40 and sharpness_score(20) == 10
    assert contrast_score(90) == 100 and contrast_score(40) == 40 and contrast_score(10) < 10
    assert contrast_score(125) < contrast_score(110) < 100  # overexposed is penalised
    assert face_score(0.96) == face_score(1.0) == 100
    assert face_score(0.90) == pytest.approx(90) and face_score(0.85) == pytest.approx(80)
    assert face_score(None) == 0 and face_score(float("nan")) == 0 and face_score(0.0) == 0


def test_monotonicity() -> None:
    grid = np.linspace(0, 1000, 2001)
    assert np.all(np.diff([sharpness_score(v) for v in grid]) >= 0)
    rising = [contrast_score(v) for v in np.linspace(0, 80, 321)]
    falling = [contrast_score(v) for v in np.linspace(100, 140, 161)]
    assert np.all(np.diff(rising) > 0) and np.all(np.diff(falling) <= 0)
    assert all(contrast_score(v) == 100 for v in np.linspace(80, 100, 81))
    assert np.all(np.diff([face_score(v) for v in np.linspace(0, 1, 1001)]) >= 0)


def test_weighted_score_and_weights() -> None:
    assert quality_score(100, 100, 100) == pytest.approx(1.0)
    assert quality_score(80, 50, 0) == pytest.approx((0.5 * 80 + 0.3 * 50) / 100)
    assert quality_score(0, 100, 0, {"sharpness": 0, "contrast": 1, "face": 0}) == 1.0
    assert check_weights(DEFAULT_WEIGHTS) == {"sharpness": 0.5, "contrast": 0.3, "face": 0.2}
    with pytest.raises(ValueError, match="sum to 1"):
        check_weights({"sharpness": 0.5, "contrast": 0.5, "face": 0.5})
    with pytest.raises(ValueError, match="keys"):
        check_weights({"sharpness": 1.0})


def test_measure_matches_definitions() -> None:
    rgb = data.astronaut()
    grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    kernel = np.array([[0, -1, 0], [-1, 4, -1], [0, -1, 0]], np.float64)  # the methodology's
    edges = cv2.filter2D(grey.astype(np.float64), -1, kernel, borderType=cv2.BORDER_REFLECT_101)
    sharpness, contrast = measure(rgb)
    assert sharpness == pytest.approx(edges.var(), rel=1e-9)
    assert contrast == pytest.approx(grey.std(), rel=1e-9)


@pytest.fixture(scope="module")
def images(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("quality")
    sharp = data.astronaut()
    flat = (sharp.astype(np.float32) * 0.15 + 110).astype(np.uint8)  # same picture, grey std / 6.7
    Image.fromarray(sharp).save(root / "sharp.png")
    Image.fromarray(cv2.GaussianBlur(sharp, (0, 0), 3)).save(root / "blurred.png")
    Image.fromarray(flat).save(root / "flat.png")
    Image.fromarray(data.coffee()).save(root / "coffee.png")
    (root / "cut.png").write_bytes((root / "sharp.png").read_bytes()[:5000])
    return root


FILES = ["sharp.png", "blurred.png", "flat.png", "coffee.png", "cut.png"]
ASTRONAUT_FACE = (175.0, 76.0, 266.0, 167.0)  # dlib's box of the astronaut's face
FACES = {
    "sharp.png": MainFace(0.97, ASTRONAUT_FACE),
    "blurred.png": MainFace(0.9, ASTRONAUT_FACE),
    "flat.png": MainFace(None, None),
}


def test_scores_rank_sharp_and_contrasty_images(images: Path) -> None:
    rows = {r["file"]: r for r in score_images(FILES, images, FACES, workers=1, log=lambda _: None)}
    assert rows["sharp.png"]["sharpness"] > 3 * rows["blurred.png"]["sharpness"]
    # The score is the face's where there is a face, the frame's otherwise.
    assert rows["sharp.png"]["face_sharpness"] > 0.5 > 0.3 > rows["blurred.png"]["face_sharpness"]
    assert rows["sharp.png"]["sharpness_score"] == 100 > rows["blurred.png"]["sharpness_score"]
    assert rows["coffee.png"]["face_sharpness"] is None and rows["coffee.png"]["face_size"] is None
    assert rows["coffee.png"]["sharpness_score"] == sharpness_score(rows["coffee.png"]["sharpness"])
    assert rows["sharp.png"]["contrast"] > 5 * rows["flat.png"]["contrast"]
    assert rows["sharp.png"]["contrast_score"] > rows["flat.png"]["contrast_score"]
    assert rows["sharp.png"]["face_score"] == 100 and rows["coffee.png"]["face_score"] == 0
    assert rows["coffee.png"]["face_confidence"] is None
    for row in rows.values():
        if row["readable"]:
            assert 0.0 <= row["quality_score"] <= 1.0
            assert (row["width"], row["height"]) in {(512, 512), (600, 400)}


def test_unreadable_row(images: Path) -> None:
    (row,) = score_images(["cut.png"], images, {}, workers=1, log=lambda _: None)
    assert row["readable"] is False and row["reason"] == "unreadable"
    assert row["reason_detail"].startswith("truncated")
    assert row["quality_score"] is None and row["sharpness"] is None


def test_two_workers_give_the_same_rows(images: Path, tmp_path: Path) -> None:
    one = score_images(FILES, images, FACES, workers=1, log=lambda _: None)
    two = score_images(FILES, images, FACES, workers=2, log=lambda _: None)
    assert one == two
    write_quality(tmp_path / "quality.parquet", two)
    back = tables.read_table(tmp_path / "quality.parquet", tables.QUALITY).to_pylist()
    assert back == two


def test_measures_do_not_depend_on_opencv_threads() -> None:
    # A float reduction split over threads rounds differently: this photo gave 860.5973696559665
    # on one thread and ...668 on two with cv2.meanStdDev. The exact sums give one value.
    photo = cv2.resize(data.astronaut(), (769, 771))  # odd sizes: uneven thread stripes
    before = cv2.getNumThreads()
    try:
        cv2.setNumThreads(1)
        single = measure(photo)
        cv2.setNumThreads(4)
        several = measure(photo)
    finally:
        cv2.setNumThreads(before)
    assert single == several
    grey = cv2.cvtColor(photo, cv2.COLOR_RGB2GRAY)
    laplacian = cv2.Laplacian(grey, cv2.CV_64F)
    assert single[0] == pytest.approx(float(laplacian.var()), rel=1e-12)
    assert single[1] == pytest.approx(float(grey.std()), rel=1e-12)


def test_blockiness_finds_the_jpeg_grid_at_any_offset() -> None:
    import io

    from charfolio.quality.measures import blockiness

    photo = data.astronaut()
    grey = cv2.cvtColor(photo, cv2.COLOR_RGB2GRAY)
    buffer = io.BytesIO()
    Image.fromarray(photo).save(buffer, "JPEG", quality=8)
    blocky = cv2.cvtColor(np.asarray(Image.open(buffer).convert("RGB")), cv2.COLOR_RGB2GRAY)
    assert blockiness(grey) < 1.3 < 2.0 < blockiness(blocky)
    # A crop that moves the 8 px grid by 3 px finds it as well.
    assert blockiness(blocky[3:, 5:]) == pytest.approx(blockiness(blocky), rel=0.1)
