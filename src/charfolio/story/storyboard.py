"""Render a story's frames into a storyboard, each frame checked by CLIP and retried.

Modes (specs 004, "Image Generation - 2 Modes", plus the ablation's baseline):

- `simple`: every frame from its prompt with the character's LoRA.
- `reference_guided`: frame 1 as in simple mode (it establishes identity); frames 2+ get the
  kept frame 1 as IP-Adapter reference and, with a ControlNet, frame 1's control map.
- `baseline`: the renderer has no LoRA at all; the same prompts and seeds otherwise.

Each frame is scored with CLIP text-image agreement on [0, 1] against its description; below
`threshold` it is rendered again with the next derived seed, up to `max_retries` times, and
the best-scoring attempt is kept (ties: the earlier). Seeds are `seed + 100 * frame +
attempt` (attempt 0 first), the same in every mode, so modes compare like with like.

Output, in the storyboard folder: frame_01.png ..., frame_01.json ... (everything about a
frame), control_map.png when a ControlNet was used, contact_sheet.png, and storyboard.json
(the summary, written last). Files are made in a hidden staging folder and moved in only
when every frame is done, so a killed job never leaves a storyboard.json over half a board.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from PIL import Image

from charfolio.core.atomic import job_staging_dir, write_text_atomic
from charfolio.core.digest import sha256_file
from charfolio.core.layout import CONTACT_SHEET, STORYBOARD
from charfolio.story.contact_sheet import SheetFrame, contact_sheet
from charfolio.story.frames import StoryError, StoryFrames, frame_prompt, read_frames

STORY_MODES = ("baseline", "simple", "reference_guided")
SEED_STRIDE = 100  # frame f, attempt a -> seed + 100 f + a; max_retries is at most 10
CONTROL_MAP = "control_map.png"
STAGING_PREFIX = ".storyboard-"


class FrameRenderer(Protocol):
    """What a storyboard needs of a renderer (charfolio.lora.render.LoraRenderer)."""

    has_ip_adapter: bool
    has_controlnet: bool

    def render(
        self,
        prompt: str,
        seed: int,
        *,
        reference: Image.Image | None = None,
        control: Image.Image | None = None,
    ) -> Image.Image: ...

    def control_map(self, image: Image.Image) -> Image.Image: ...

    def settings_record(self) -> dict[str, Any]: ...


class FrameScorer(Protocol):
    """CLIP text-image agreement on [0, 1] (charfolio.embed.text_image.TextImageScorer)."""

    def score(self, images: Sequence[np.ndarray], texts: Sequence[str]) -> np.ndarray: ...


@dataclass(frozen=True)
class StoryboardSettings:
    character: str
    token: str
    class_word: str
    negative_prompt: str
    mode: str = "simple"
    seed: int = 7000
    threshold: float = 0.70
    max_retries: int = 2
    loras: tuple[Mapping[str, Any], ...] = field(default=())  # [{name, weight}], for the record
    extra_words: tuple[str, ...] = ()  # trigger words of render.extra_loras

    def prompt(self, description: str) -> str:
        return frame_prompt(self.token, self.class_word, description, self.extra_words)

    def __post_init__(self) -> None:
        if self.mode not in STORY_MODES:
            raise StoryError(f"story mode {self.mode!r} is not one of {', '.join(STORY_MODES)}")
        if not 0 <= self.max_retries < SEED_STRIDE - 1:
            raise StoryError(
                f"story.max_retries must be 0-{SEED_STRIDE - 2}, not {self.max_retries}"
            )


def attempt_seed(seed: int, frame: int, attempt: int) -> int:
    """The generator seed of `frame` (1-based), `attempt` (0 = first try)."""
    return seed + SEED_STRIDE * frame + attempt


@dataclass(frozen=True)
class Attempt:
    attempt: int  # 1-based
    seed: int
    score: float


@dataclass(frozen=True)
class RenderedFrame:
    index: int
    description: str
    prompt: str
    image: Image.Image
    attempts: tuple[Attempt, ...]
    kept: Attempt
    passed: bool
    reference: str | None  # the file used as IP-Adapter reference
    control: str | None  # the control map's file


def _rgb(image: Image.Image) -> np.ndarray:
    return np.asarray(image.convert("RGB"), dtype=np.uint8)


def render_frame(
    renderer: FrameRenderer,
    scorer: FrameScorer,
    index: int,
    description: str,
    settings: StoryboardSettings,
    reference: Image.Image | None = None,
    control: Image.Image | None = None,
) -> tuple[Image.Image, tuple[Attempt, ...], Attempt]:
    """(kept image, every attempt, the kept attempt): retries below threshold, keeps the best."""
    prompt = settings.prompt(description)
    attempts: list[Attempt] = []
    best: tuple[Image.Image, Attempt] | None = None
    for attempt in range(settings.max_retries + 1):
        seed = attempt_seed(settings.seed, index, attempt)
        image = renderer.render(prompt, seed, reference=reference, control=control)
        score = float(scorer.score([_rgb(image)], [description])[0])
        attempts.append(Attempt(attempt + 1, seed, score))
        if best is None or score > best[1].score:
            best = (image, attempts[-1])
        if score >= settings.threshold:
            break
    assert best is not None  # max_retries >= 0: at least one attempt ran
    return best[0], tuple(attempts), best[1]


def render_frames(
    frames: StoryFrames,
    renderer: FrameRenderer,
    scorer: FrameScorer,
    settings: StoryboardSettings,
    log: Callable[[str], None] = print,
) -> tuple[list[RenderedFrame], Image.Image | None]:
    """Every frame of the story in `settings.mode`; and the control map when one was used."""
    guided = settings.mode == "reference_guided"
    if guided and not renderer.has_ip_adapter:
        raise StoryError(
            "reference_guided mode needs an IP-Adapter but the renderer has none; set "
            "story.ip_adapter in the config, or use story.mode: simple"
        )
    rendered: list[RenderedFrame] = []
    reference = control = None
    for frame in frames.frames:
        started = time.perf_counter()
        use_reference = guided and frame.index > 1
        image, attempts, kept = render_frame(
            renderer,
            scorer,
            frame.index,
            frame.description,
            settings,
            reference=reference if use_reference else None,
            control=control if use_reference else None,
        )
        passed = kept.score >= settings.threshold
        rendered.append(
            RenderedFrame(
                index=frame.index,
                description=frame.description,
                prompt=settings.prompt(frame.description),
                image=image,
                attempts=attempts,
                kept=kept,
                passed=passed,
                reference=frame_file(1, "png") if use_reference else None,
                control=CONTROL_MAP if use_reference and control is not None else None,
            )
        )
        log(
            f"frame {frame.index}/{len(frames.frames)}: {len(attempts)} attempt(s), kept "
            f"attempt {kept.attempt} (seed {kept.seed}, CLIP {kept.score:.3f}, "
            f"{'passed' if passed else 'below'} {settings.threshold:.2f}), "
            f"{time.perf_counter() - started:.1f} s"
        )
        if guided and frame.index == 1:
            reference = image  # the kept frame 1 anchors every later frame
            control = renderer.control_map(image) if renderer.has_controlnet else None
    return rendered, control


def frame_file(index: int, suffix: str) -> str:
    return f"frame_{index:02d}.{suffix}"


def _json(record: Mapping[str, Any]) -> str:
    return json.dumps(record, indent=2, ensure_ascii=False) + "\n"


def _frame_record(
    frame: RenderedFrame,
    settings: StoryboardSettings,
    renderer_record: Mapping[str, Any],
    sha256: str,
) -> dict[str, Any]:
    return {
        "frame": frame.index,
        "file": frame_file(frame.index, "png"),
        "sha256": sha256,
        "description": frame.description,
        "prompt": frame.prompt,
        "negative_prompt": settings.negative_prompt,
        "scored_text": frame.description,
        "seed": frame.kept.seed,
        "score": frame.kept.score,
        "threshold": settings.threshold,
        "passed": frame.passed,
        "kept_attempt": frame.kept.attempt,
        "attempts": [
            {"attempt": a.attempt, "seed": a.seed, "score": a.score} for a in frame.attempts
        ],
        "mode": settings.mode,
        "reference": frame.reference,
        "control": frame.control,
        "loras": [dict(lora) for lora in settings.loras],
        "renderer": dict(renderer_record),
    }


def _publish(staging: Path, out_dir: Path) -> None:
    """Replace the previous board's files in `out_dir` with the staged ones."""
    for old in [*out_dir.glob("frame_*.png"), *out_dir.glob("frame_*.json")]:
        old.unlink()
    (out_dir / CONTROL_MAP).unlink(missing_ok=True)
    for new in sorted(staging.iterdir()):
        os.replace(new, out_dir / new.name)


def write_storyboard(
    out_dir: str | os.PathLike[str],
    frames: StoryFrames,
    rendered: Sequence[RenderedFrame],
    control: Image.Image | None,
    settings: StoryboardSettings,
    renderer_record: Mapping[str, Any],
    seconds: float,
) -> dict[str, Any]:
    """Write the frames, their metadata, the contact sheet, then storyboard.json; return it."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    staging = job_staging_dir(out_dir, prefix=STAGING_PREFIX)
    try:
        entries = []
        for frame in rendered:
            png = staging / frame_file(frame.index, "png")
            frame.image.convert("RGB").save(png)
            record = _frame_record(frame, settings, renderer_record, sha256_file(png))
            (staging / frame_file(frame.index, "json")).write_text(_json(record), "utf-8")
            entries.append(
                {
                    key: record[key]
                    for key in ("frame", "file", "sha256", "description", "seed", "score")
                }
                | {
                    "passed": frame.passed,
                    "kept_attempt": frame.kept.attempt,
                    "attempts": len(frame.attempts),
                    "metadata": frame_file(frame.index, "json"),
                }
            )
        if control is not None:
            control.save(staging / CONTROL_MAP)
        sheet = [SheetFrame(f.image, f.index, f.kept.score, f.passed) for f in rendered]
        contact_sheet(sheet).save(staging / CONTACT_SHEET)
        _publish(staging, out_dir)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    scores = [f.kept.score for f in rendered]
    summary = {
        "character": settings.character,
        "story": frames.story,
        "mode": settings.mode,
        "n_frames": len(rendered),
        "passed": sum(f.passed for f in rendered),
        "threshold": settings.threshold,
        "max_retries": settings.max_retries,
        "seed": settings.seed,
        "mean_score": float(np.mean(scores)),
        "min_score": float(np.min(scores)),
        "attempts": sum(len(f.attempts) for f in rendered),
        "negative_prompt": settings.negative_prompt,
        "loras": [dict(lora) for lora in settings.loras],
        "control_map": CONTROL_MAP if control is not None else None,
        "contact_sheet": CONTACT_SHEET,
        "splitter": {
            "backend": frames.backend,
            "requested_backend": frames.requested_backend,
            "model": frames.model,
            "fallback_reason": frames.fallback_reason,
        },
        "renderer": dict(renderer_record),
        "seconds": round(seconds, 2),
        "seconds_per_frame": round(seconds / len(rendered), 2),
        "frames": entries,
    }
    write_text_atomic(out_dir / STORYBOARD, _json(summary))  # last: it marks the board complete
    return summary


def render_storyboard(
    frames_file: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    renderer: FrameRenderer,
    scorer: FrameScorer,
    settings: StoryboardSettings,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Render the frames of `frames_file` into `out_dir`; returns the storyboard summary."""
    frames = read_frames(frames_file)
    log(
        f"storyboard {settings.character}/{frames.story}: {len(frames.frames)} frames, mode "
        f"{settings.mode}, threshold {settings.threshold:.2f}, up to {settings.max_retries} "
        f"retries per frame"
    )
    started = time.perf_counter()
    rendered, control = render_frames(frames, renderer, scorer, settings, log)
    summary = write_storyboard(
        out_dir,
        frames,
        rendered,
        control,
        settings,
        renderer.settings_record(),
        time.perf_counter() - started,
    )
    log(
        f"storyboard done: {summary['passed']}/{summary['n_frames']} frames passed, mean CLIP "
        f"{summary['mean_score']:.3f}, {summary['seconds']:.1f} s"
    )
    return summary
