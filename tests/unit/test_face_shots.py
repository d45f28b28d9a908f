"""Shot types and scene flags on images with known geometry, and with real dlib on them."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from charfolio.balance.analyze import BalanceRules, measure
from charfolio.balance.flags import (
    BORDER_CUT,
    LOW_CONFIDENCE,
    FlagRules,
    background,
    count_people,
    face_sharpness,
    is_complex,
    occlusion,
)
from charfolio.faces import create_face_detector
from charfolio.faces.shots import (
    CLOSE_UP,
    FULL_BODY,
    MEDIUM,
    SHOT_TYPES,
    UNKNOWN,
    WIDE,
    ShotRules,
    classify_shot,
    framing,
    shot_type,
)

from .balance_support import cover_side, figure

# name -> (width, height, face fraction, face centre, background, expected shot type)
SHOTS = {
    "close_up": (512, 512, 0.42, (0.5, 0.45), "plain", CLOSE_UP),
    "medium": (512, 768, 0.20, (0.5, 0.25), "coffee", MEDIUM),
    "full_body": (512, 768, 0.08, (0.45, 0.12), "plain", FULL_BODY),
    "full_size_body_cut": (512, 768, 0.08, (0.5, 0.6), "plain", MEDIUM),
    "wide": (1024, 1024, 0.045, (0.3, 0.5), "brick", WIDE),
}


@pytest.fixture(scope="module")
def detector():  # type: ignore[no-untyped-def]
    return create_face_detector({"backend": "dlib", "descriptors": False})


def test_thresholds_follow_head_proportions() -> None:
    rules = ShotRules()
    # frame heights of 2.5 / 5 / 12.5 heads, a head being 1.5 face boxes
    assert rules.min_face_fraction(CLOSE_UP) == pytest.approx(1 / 3.75)
    assert rules.min_face_fraction(MEDIUM) == pytest.approx(1 / 7.5)
    assert rules.min_face_fraction(FULL_BODY) == pytest.approx(1 / 18.75)
    assert rules.min_face_fraction(WIDE) == 0.0
    # a 7.5-head figure fills 60% of a frame at the full-body bound (the document's 0.6)
    assert 7.5 / rules.full_body_max_heads == pytest.approx(0.6)


@pytest.mark.parametrize(
    ("fraction", "centre_y", "expected"),
    [
        (0.60, 0.5, CLOSE_UP),
        (0.27, 0.4, CLOSE_UP),
        (0.26, 0.3, MEDIUM),
        (0.14, 0.2, MEDIUM),
        (0.13, 0.1, MEDIUM),  # 0.9 / (0.13 * 1.5) = 4.6 heads below the face: knees cut
        (0.10, 0.1, FULL_BODY),  # 6 heads below the face
        (0.06, 0.2, FULL_BODY),
        (0.06, 0.7, MEDIUM),  # the frame cuts the body 3.3 heads below the face
        (0.05, 0.9, WIDE),  # small is wide whatever the cut
    ],
)
def test_classify_by_size_and_room(fraction: float, centre_y: float, expected: str) -> None:
    height = 1000
    box = (
        500 - fraction * height / 2,
        centre_y * height - fraction * height / 2,
        500 + fraction * height / 2,
        centre_y * height + fraction * height / 2,
    )
    frame = framing(box, 1000, height)
    assert frame.face_height_fraction == pytest.approx(fraction)
    assert frame.room_below_heads == pytest.approx((1 - centre_y) / (1.5 * fraction))
    assert classify_shot(frame) == expected


def test_framing_rejects_an_empty_box() -> None:
    with pytest.raises(ValueError, match="cannot frame"):
        framing((10, 10, 20, 10), 100, 100)


def test_rules_validate_order() -> None:
    with pytest.raises(ValueError, match="close_up_max_heads < medium_max_heads"):
        ShotRules(medium_max_heads=2.0)
    with pytest.raises(ValueError, match=r"unknown balance\.shots keys"):
        ShotRules.from_config({"closeup_max_heads": 3})


@pytest.mark.parametrize("name", list(SHOTS))
def test_known_geometry_and_real_dlib_agree(name: str, detector) -> None:  # type: ignore[no-untyped-def]
    width, height, fraction, centre, bg, expected = SHOTS[name]
    rgb, boxes = figure(width, height, fraction, centre, bg)
    assert shot_type(boxes[0], width, height) == expected
    found = detector.detect(rgb)
    assert len(found) == 1, f"{name}: dlib found {len(found)} faces"
    assert shot_type(found[0].box, width, height) == expected
    row = measure(rgb, [found[0].box], found[0].confidence, BalanceRules())
    assert row["shot_type"] == expected
    assert not row["multi_character"] and not row["occlusion"]


def test_every_shot_type_is_covered() -> None:
    assert {s[-1] for s in SHOTS.values()} == set(SHOT_TYPES)


def test_multi_character_counts_faces_of_note(detector) -> None:  # type: ignore[no-untyped-def]
    rgb, _ = figure(768, 512, 0.2, (0.3, 0.3), "plain", second=(0.7, 0.3))
    found = sorted(detector.detect(rgb), key=lambda f: -f.area)
    assert len(found) == 2
    row = measure(rgb, [f.box for f in found], found[0].confidence, BalanceRules())
    assert row["multi_character"] and row["n_people"] == 2
    # a background face a fifth of the main one's size is not a second character
    main = (100.0, 100.0, 200.0, 200.0)
    assert count_people([main, (400.0, 100.0, 420.0, 120.0)]) == 1
    assert count_people([main, (400.0, 100.0, 440.0, 140.0)]) == 2
    assert count_people([]) == 0


def test_occlusion_by_the_border() -> None:
    assert occlusion((-30.0, 50.0, 70.0, 150.0), 0.95, 400.0, 300, 300) == BORDER_CUT
    assert occlusion((-3.0, 50.0, 97.0, 150.0), 0.95, 400.0, 300, 300) is None  # box jitter
    rgb, boxes = figure(512, 512, 0.42, (0.5, 0.45))
    shifted = np.ascontiguousarray(rgb[:, 200:])  # the face's left 30% out of frame
    box = (boxes[0][0] - 200, boxes[0][1], boxes[0][2] - 200, boxes[0][3])
    row = measure(shifted, [box], 0.9, BalanceRules())
    assert row["occlusion"] and row["occlusion_reason"] == BORDER_CUT


def test_occlusion_by_low_confidence_needs_a_big_sharp_face() -> None:
    rules = FlagRules()
    big = (100.0, 100.0, 300.0, 300.0)
    assert occlusion(big, 0.6, 400.0, 600, 600, rules) == LOW_CONFIDENCE
    assert occlusion(big, 0.9, 400.0, 600, 600, rules) is None  # confident
    assert occlusion(big, 0.6, 30.0, 600, 600, rules) is None  # blurred: blur explains it
    assert occlusion((100.0, 100.0, 150.0, 150.0), 0.6, 400.0, 600, 600, rules) is None  # small


def test_real_dlib_flags_a_quarter_hidden_face(detector) -> None:  # type: ignore[no-untyped-def]
    rgb, boxes = figure(512, 512, 0.42, (0.5, 0.45))
    clear = detector.detect(rgb)
    assert len(clear) == 1 and clear[0].confidence >= FlagRules().occlusion_confidence
    hidden = cover_side(rgb, boxes[0], 0.24)
    found = detector.detect(hidden)
    assert len(found) == 1
    row = measure(hidden, [found[0].box], found[0].confidence, BalanceRules())
    assert row["occlusion_reason"] == LOW_CONFIDENCE, row
    assert not measure(rgb, [clear[0].box], clear[0].confidence, BalanceRules())["occlusion"]


def test_face_sharpness_tells_blur_from_detail() -> None:
    rgb, boxes = figure(512, 512, 0.42, (0.5, 0.45))
    sharp = face_sharpness(rgb, boxes[0])
    soft = face_sharpness(cv2.GaussianBlur(rgb, (0, 0), 3), boxes[0])
    assert sharp is not None and soft is not None
    assert sharp >= FlagRules().occlusion_min_sharpness > soft
    assert face_sharpness(rgb, (600.0, 600.0, 700.0, 700.0)) is None  # off the frame


@pytest.mark.parametrize(("bg", "expected"), [("plain", False), ("coffee", True), ("brick", True)])
def test_complex_background_outside_the_subject(bg: str, expected: bool) -> None:
    rgb, boxes = figure(512, 768, 0.08, (0.45, 0.12), bg)
    row = measure(rgb, boxes, 0.95, BalanceRules())
    assert row["complex_background"] is expected
    assert 0.5 < row["background_fraction"] < 1.0


def test_background_measures_on_known_images() -> None:
    rules = FlagRules()
    flat = np.full((300, 400, 3), 128, np.uint8)
    measured = background(flat, [], rules)
    assert measured.edge_density == 0.0 and measured.entropy == 0.0
    assert not is_complex(measured, rules)
    # blurred into bokeh, a busy scene is a simple backdrop
    rgb, _ = figure(512, 512, 0.1, (0.5, 0.2), "coffee")
    assert is_complex(background(rgb, [], rules), rules)
    assert not is_complex(background(cv2.GaussianBlur(rgb, (0, 0), 5), [], rules), rules)
    # a close-up leaves no background: measures are null, the flag false
    close, boxes = figure(512, 512, 0.6, (0.5, 0.45), "coffee")
    row = measure(close, boxes, 0.95, BalanceRules())
    assert row["edge_density"] is None and row["complex_background"] is False


def test_no_face_is_unknown_with_background_measures() -> None:
    row = measure(np.full((64, 64, 3), 200, np.uint8), [], None, BalanceRules())
    assert row["shot_type"] == UNKNOWN and row["reason"] == "no_face"
    assert row["edge_density"] == 0.0 and not row["complex_background"]
