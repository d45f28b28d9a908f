"""Artifact versions, passed to rules as params.

Snakemake does not notice edits to imported modules, so a library change that alters
what a stage writes bumps that stage's constant here; the rule's params change and
Snakemake reruns exactly the jobs whose output the change affects.
"""

SCENARIOS = 1
GENERATION = 1
INGEST = 2  # 2: every file but sidecars a row; unreadable entries are rows with their problem
FACES = 1
QUALITY = 2  # 2: measured at the working resolution, the face on its own, defect measures
DUPLICATES = 1
EMBEDDINGS = 2  # 2: open_clip tags load offline with their QuickGELU/preprocessing
CLUSTERS = 1
SELECTION = 2  # 2: defect gates, recalibrated presets, near-duplicates by face and embedding
TIERS = 1
CATALOG = 1
REPORT = 1
LORA = 1
BALANCE = 1
AUGMENT = 1
REFINE = 1  # targeted refinement rounds and the refined tier
CAPTIONS = 1  # captions of ingested images
CHECKPOINT_SUITE = 1  # the checkpoint report's prompt suite
CHECKPOINT_SCORES = 1  # renders and scores of a LoRA's checkpoints
CHECKPOINT_REPORT = 1  # checkpoint_report.html / .json / checkpoint_scores.parquet
STORY_FRAMES = 1  # story -> frames.json
STORYBOARD = 2  # storyboard frames, metadata, contact sheet (2: a seeded tiny ControlNet)
STORY_EVALUATION = 1  # a storyboard's evaluation.json
ABLATION = 2  # ablation.parquet / ablation.html (2: no render times in the page)
RENDER = 1  # LoraRenderer pixels (LoRAs, IP-Adapter, ControlNet, tiny adapters, control maps)
