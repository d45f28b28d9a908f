"""Storyboards (specs 004): a story becomes 6-10 frames rendered with the character's LoRA.

split.py         story text -> frames.json (deterministic.py, or llama_split.py on a GGUF)
storyboard.py    frames -> frame_NN.png + frame_NN.json, contact_sheet.png, storyboard.json,
                 in simple, reference_guided (IP-Adapter on frame 1) or baseline mode
run.py           the renderer and CLIP scorer of one storyboard job, from the config
evaluate.py      storyboard -> evaluation.json: face consistency, CLIP adherence, diversity
ablation.py      evaluations of every mode -> ablation.parquet + ablation.html
settings.py      the story config's checks and lookups (DAG time)
"""

from charfolio.story.ablation import tabulate_ablation
from charfolio.story.evaluate import evaluate_storyboard
from charfolio.story.frames import Frame, StoryError, StoryFrames, read_frames
from charfolio.story.settings import check_story_config, story_entry
from charfolio.story.split import make_frames, split_story
from charfolio.story.storyboard import (
    MODES,
    FrameRenderer,
    FrameScorer,
    StoryboardSettings,
    render_storyboard,
)

__all__ = [
    "MODES",
    "Frame",
    "FrameRenderer",
    "FrameScorer",
    "StoryError",
    "StoryFrames",
    "StoryboardSettings",
    "check_story_config",
    "evaluate_storyboard",
    "make_frames",
    "read_frames",
    "render_storyboard",
    "split_story",
    "story_entry",
    "tabulate_ablation",
]
