"""Artifact versions, passed to rules as params.

Snakemake does not notice edits to imported modules, so a library change that alters
what a stage writes bumps that stage's constant here; the rule's params change and
Snakemake reruns exactly the jobs whose output the change affects.
"""

SCENARIOS = 1
GENERATION = 1
FACES = 1
QUALITY = 1
DUPLICATES = 1
EMBEDDINGS = 2  # 2: open_clip tags load offline with their QuickGELU/preprocessing
CLUSTERS = 1
SELECTION = 1
TIERS = 1
CATALOG = 1
REPORT = 1
LORA = 1
BALANCE = 1
AUGMENT = 1
