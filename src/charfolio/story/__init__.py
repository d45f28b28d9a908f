"""Storyboards (specs 004): a story becomes 6-10 frames rendered with the character's LoRA.

split.py         story text -> frames.json (deterministic.py, or llama_split.py on a GGUF)
storyboard.py    frames -> frame_NN.png + frame_NN.json, contact_sheet.png, storyboard.json,
                 in simple, reference_guided (IP-Adapter on frame 1) or baseline mode
run.py           the renderer and CLIP scorer of one storyboard job, from the config
evaluate.py      storyboard -> evaluation.json: face consistency, CLIP adherence, diversity
ablation.py      evaluations of every mode -> ablation.parquet + ablation.html
settings.py      the story config's checks and lookups (DAG time)
"""

from charfolio.core.lazy import lazy_exports
from charfolio.story.frames import Frame, StoryError, StoryFrames, read_frames
from charfolio.story.settings import check_story_config, story_entry

# Imported on first use: rendering and evaluation pull in torch, diffusers and the face
# models, and the Snakefile imports story.settings at every start of every job.
_LAZY = {
    "tabulate_ablation": "charfolio.story.ablation",
    "evaluate_storyboard": "charfolio.story.board_scores",
    "make_frames": "charfolio.story.split",
    "split_story": "charfolio.story.split",
    "STORY_MODES": "charfolio.story.storyboard",
    "FrameRenderer": "charfolio.story.storyboard",
    "FrameScorer": "charfolio.story.storyboard",
    "StoryboardSettings": "charfolio.story.storyboard",
    "render_storyboard": "charfolio.story.storyboard",
}

__getattr__ = lazy_exports(__name__, _LAZY)


__all__ = [
    "STORY_MODES",
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
