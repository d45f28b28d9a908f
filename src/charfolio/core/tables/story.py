"""The schema of the storyboard ablation table."""

from __future__ import annotations

import pyarrow as pa

# The storyboard ablation (charfolio.story.ablation): one row per story and mode, from the
# storyboard's evaluation.json and storyboard.json. Face scores are None without faces.
ABLATION = pa.schema(
    [
        pa.field("character", pa.string(), nullable=False),
        pa.field("story", pa.string(), nullable=False),
        pa.field("mode", pa.string(), nullable=False),  # baseline | simple | reference_guided
        pa.field("n_frames", pa.int32(), nullable=False),
        pa.field("frames_with_face", pa.int32(), nullable=False),
        pa.field("face_first_vs_rest_mean", pa.float64(), nullable=True),  # cosine, frame 1
        pa.field("face_first_vs_rest_min", pa.float64(), nullable=True),
        pa.field("face_pairwise_mean", pa.float64(), nullable=True),  # cosine, all pairs
        pa.field("face_pairwise_min", pa.float64(), nullable=True),
        pa.field("face_backend", pa.string(), nullable=False),  # scores compare within one
        pa.field("prompt_adherence_mean", pa.float64(), nullable=False),  # CLIP on [0, 1]
        pa.field("prompt_adherence_min", pa.float64(), nullable=False),
        pa.field("frames_passed", pa.int32(), nullable=False),  # at or above the threshold
        pa.field("threshold", pa.float64(), nullable=False),
        pa.field("diversity", pa.float64(), nullable=True),  # mean pairwise CLIP distance
        pa.field("attempts", pa.int32(), nullable=False),  # renders, retries included
        pa.field("seconds_per_frame", pa.float64(), nullable=False),
        pa.field("loras", pa.string(), nullable=False),  # "name:weight, ..." or "" (baseline)
        pa.field("storyboard", pa.string(), nullable=False),  # folder, relative to results/{c}/
        # people's 1-5 ratings of the frames (core.ratings): mean of the current ones (None:
        # unrated), how many, how many of an earlier render were left out
        pa.field("rating_mean", pa.float64(), nullable=True),
        pa.field("rating_count", pa.int32(), nullable=False),
        pa.field("rating_stale", pa.int32(), nullable=False),
    ],
    metadata={"charfolio.table": "ablation"},
)
