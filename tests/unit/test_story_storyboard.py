"""Storyboard rendering with a fake renderer and a scripted scorer: retries, modes, files."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from charfolio.story import StoryboardSettings, StoryError, render_storyboard
from charfolio.story.contact_sheet import SheetFrame, columns_for, contact_sheet
from charfolio.story.frames import Frame, StoryFrames, write_frames
from charfolio.story.storyboard import attempt_seed, render_frame

SETTINGS = StoryboardSettings(
    character="demo",
    token="nova",
    class_word="woman",
    negative_prompt="blurry",
    mode="simple",
    seed=7000,
    threshold=0.70,
    max_retries=2,
    loras=({"name": "demo/p/tier_10", "weight": 1.0},),
)


def quiet(_: str) -> None:
    pass


class FakeRenderer:
    """Images whose pixels encode the seed; records every call."""

    def __init__(self, ip_adapter: bool = False, controlnet: bool = False) -> None:
        self.has_ip_adapter, self.has_controlnet = ip_adapter, controlnet
        self.calls: list[dict] = []

    def render(self, prompt, seed, *, reference=None, control=None):
        self.calls.append(
            {"prompt": prompt, "seed": seed, "reference": reference, "control": control}
        )
        value = seed % 251
        return Image.new("RGB", (32, 24), (value, 255 - value, (seed // 251) % 256))

    def control_map(self, image):
        return Image.new("L", image.size, 200).convert("RGB")

    def settings_record(self):
        return {"backend": "fake", "steps": 1}


class ScriptedScorer:
    """Returns the given scores in call order (one image per call in a storyboard)."""

    def __init__(self, *scores: float, default: float = 0.9) -> None:
        self.scores, self.default = list(scores), default
        self.texts: list[str] = []

    def score(self, images, texts):
        assert len(images) == 1 and images[0].dtype == np.uint8 and images[0].ndim == 3
        self.texts += list(texts)
        return np.array([self.scores.pop(0) if self.scores else self.default])


def story(n: int = 6) -> StoryFrames:
    frames = tuple(Frame(i, f"scene number {i}") for i in range(1, n + 1))
    return StoryFrames("station", "text", frames, "deterministic", "deterministic")


def frames_file(tmp_path: Path, n: int = 6) -> Path:
    path = tmp_path / "frames.json"
    write_frames(path, story(n))
    return path


def test_below_threshold_retries_and_keeps_the_best_attempt():
    renderer, scorer = FakeRenderer(), ScriptedScorer(0.4, 0.65, 0.5)
    image, attempts, kept = render_frame(renderer, scorer, 3, "scene", SETTINGS)
    assert [a.score for a in attempts] == [0.4, 0.65, 0.5]
    assert [a.seed for a in attempts] == [7300, 7301, 7302]
    assert kept.attempt == 2 and kept.seed == 7301
    assert np.array_equal(np.asarray(image), np.asarray(renderer.render("x", 7301)))
    assert [c["prompt"] for c in renderer.calls[:3]] == ["nova woman, scene"] * 3
    assert scorer.texts == ["scene"] * 3  # scored against the description, not the token


def test_a_passing_first_attempt_is_not_retried():
    renderer = FakeRenderer()
    _, attempts, kept = render_frame(renderer, ScriptedScorer(0.71), 1, "scene", SETTINGS)
    assert len(attempts) == 1 and kept.attempt == 1 and len(renderer.calls) == 1


def test_ties_keep_the_earlier_attempt_and_no_retries_means_one_attempt():
    _, attempts, kept = render_frame(
        FakeRenderer(), ScriptedScorer(0.5, 0.5, 0.5), 1, "scene", SETTINGS
    )
    assert kept.attempt == 1 and len(attempts) == 3
    once = StoryboardSettings(**{**SETTINGS.__dict__, "max_retries": 0})
    _, attempts, _ = render_frame(FakeRenderer(), ScriptedScorer(0.1), 1, "scene", once)
    assert len(attempts) == 1


def test_seeds_are_distinct_across_frames_and_attempts():
    seeds = {attempt_seed(7000, f, a) for f in range(1, 11) for a in range(11)}
    assert len(seeds) == 110


def test_storyboard_files_and_metadata(tmp_path):
    out = tmp_path / "story" / "station"
    scorer = ScriptedScorer(0.9, 0.4, 0.65, 0.5, default=0.8)  # frame 2 retries twice
    summary = render_storyboard(frames_file(tmp_path), out, FakeRenderer(), scorer, SETTINGS, quiet)
    names = sorted(p.name for p in out.iterdir())
    assert names == sorted(
        [f"frame_{i:02d}.{ext}" for i in range(1, 7) for ext in ("png", "json")]
        + ["contact_sheet.png", "storyboard.json"]
    )
    meta = json.loads((out / "frame_02.json").read_text())
    assert (
        meta["description"] == "scene number 2" and meta["prompt"] == "nova woman, scene number 2"
    )
    assert meta["negative_prompt"] == "blurry" and meta["mode"] == "simple"
    assert meta["attempts"] == [
        {"attempt": 1, "seed": 7200, "score": 0.4},
        {"attempt": 2, "seed": 7201, "score": 0.65},
        {"attempt": 3, "seed": 7202, "score": 0.5},
    ]
    assert meta["kept_attempt"] == 2 and meta["seed"] == 7201 and meta["score"] == 0.65
    assert meta["passed"] is False and meta["threshold"] == 0.70
    assert meta["reference"] is None and meta["control"] is None
    assert meta["renderer"] == {"backend": "fake", "steps": 1}
    assert meta["loras"] == [{"name": "demo/p/tier_10", "weight": 1.0}]
    assert meta["sha256"] == hashlib.sha256((out / "frame_02.png").read_bytes()).hexdigest()

    on_disk = json.loads((out / "storyboard.json").read_text())
    assert on_disk == json.loads(json.dumps(summary))
    assert summary["n_frames"] == 6 and summary["passed"] == 5 and summary["attempts"] == 8
    assert [f["score"] for f in summary["frames"]] == [0.9, 0.65, 0.8, 0.8, 0.8, 0.8]
    assert summary["splitter"]["backend"] == "deterministic"
    sheet = Image.open(out / "contact_sheet.png")
    assert (
        sheet.size
        == contact_sheet([SheetFrame(Image.new("RGB", (32, 24)), 1, None, None)] * 6).size
    )


def test_reference_guided_uses_the_kept_frame_1_and_its_control_map(tmp_path):
    renderer = FakeRenderer(ip_adapter=True, controlnet=True)
    settings = StoryboardSettings(**{**SETTINGS.__dict__, "mode": "reference_guided"})
    scorer = ScriptedScorer(0.3, 0.6, 0.2, default=0.9)  # frame 1 keeps attempt 2
    out = tmp_path / "board"
    render_storyboard(frames_file(tmp_path), out, renderer, scorer, settings, quiet)
    frame_1 = [c for c in renderer.calls if c["seed"] // 100 == 71]
    assert all(c["reference"] is None and c["control"] is None for c in frame_1)
    later = [c for c in renderer.calls if c["seed"] // 100 > 71]
    assert len(later) == 5
    kept_1 = np.asarray(Image.open(out / "frame_01.png"))
    assert np.array_equal(kept_1, np.asarray(renderer.render("x", 7101)))
    for call in later:
        assert np.array_equal(np.asarray(call["reference"]), kept_1)
        assert call["control"] is not None
    meta = json.loads((out / "frame_03.json").read_text())
    assert meta["reference"] == "frame_01.png" and meta["control"] == "control_map.png"
    assert json.loads((out / "frame_01.json").read_text())["reference"] is None
    assert (out / "control_map.png").is_file()


def test_reference_guided_without_controlnet_uses_no_control(tmp_path):
    renderer = FakeRenderer(ip_adapter=True)
    settings = StoryboardSettings(**{**SETTINGS.__dict__, "mode": "reference_guided"})
    render_storyboard(
        frames_file(tmp_path), tmp_path / "b", renderer, ScriptedScorer(), settings, quiet
    )
    assert all(c["control"] is None for c in renderer.calls)
    assert sum(c["reference"] is not None for c in renderer.calls) == 5
    assert not (tmp_path / "b" / "control_map.png").exists()


def test_reference_guided_without_ip_adapter_names_the_key(tmp_path):
    settings = StoryboardSettings(**{**SETTINGS.__dict__, "mode": "reference_guided"})
    with pytest.raises(StoryError, match=r"set story\.ip_adapter"):
        render_storyboard(frames_file(tmp_path), tmp_path / "b", FakeRenderer(), ScriptedScorer(),
                          settings, quiet)  # fmt: skip


def test_unknown_mode_is_refused():
    with pytest.raises(StoryError, match="story mode 'fancy' is not one of baseline"):
        StoryboardSettings(**{**SETTINGS.__dict__, "mode": "fancy"})


def test_a_failed_render_leaves_the_previous_board_and_no_staging(tmp_path):
    out = tmp_path / "board"
    render_storyboard(
        frames_file(tmp_path, 8), out, FakeRenderer(), ScriptedScorer(), SETTINGS, quiet
    )
    before = {p.name: p.read_bytes() for p in out.iterdir()}

    class Crashing(FakeRenderer):
        def render(self, prompt, seed, **kwargs):
            if seed >= 7400:
                raise RuntimeError("CUDA out of memory")
            return super().render(prompt, seed, **kwargs)

    with pytest.raises(RuntimeError):
        render_storyboard(
            frames_file(tmp_path, 6), out, Crashing(), ScriptedScorer(), SETTINGS, quiet
        )
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before  # nothing half-written
    # a job killed while writing leaves its staging folder: the next run clears it
    (out / ".storyboard-killed").mkdir()
    render_storyboard(frames_file(tmp_path), out, FakeRenderer(), ScriptedScorer(), SETTINGS, quiet)
    assert not list(out.glob(".storyboard-*")) and (out / "storyboard.json").is_file()


def test_a_shorter_board_replaces_every_old_frame(tmp_path):
    out = tmp_path / "board"
    render_storyboard(
        frames_file(tmp_path, 8), out, FakeRenderer(), ScriptedScorer(), SETTINGS, quiet
    )
    render_storyboard(
        frames_file(tmp_path, 6), out, FakeRenderer(), ScriptedScorer(), SETTINGS, quiet
    )
    assert sorted(p.name for p in out.glob("frame_*.png"))[-1] == "frame_06.png"


@pytest.mark.parametrize(("n", "cols"), [(1, 1), (5, 5), (6, 3), (7, 4), (8, 4), (10, 5)])
def test_contact_sheet_grid(n, cols):
    assert columns_for(n) == cols


def test_contact_sheet_shows_frames_in_order_with_labels():
    colours = [(255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 0), (0, 255, 255), (255, 0, 255)]
    frames = [
        SheetFrame(Image.new("RGB", (64, 64), c), i + 1, 0.5 + i / 10, i % 2 == 0)
        for i, c in enumerate(colours)
    ]
    sheet = np.asarray(contact_sheet(frames, tile=64))
    # 3 columns x 2 rows of 64 px tiles, 8 px gaps, 26 px labels
    assert sheet.shape == (8 + 2 * (64 + 26 + 8), 8 + 3 * (64 + 8), 3)
    for k, colour in enumerate(colours):
        x, y = 8 + (k % 3) * 72 + 32, 8 + (k // 3) * 98 + 32
        assert tuple(sheet[y, x]) == colour
        label = sheet[y + 32 + 4 : y + 32 + 24, x - 32 : x + 32]
        assert (label != 255).any()  # the label is drawn under each frame
    with pytest.raises(ValueError, match="at least one frame"):
        contact_sheet([])
