"""Artifact versions, passed to rules as params.

Snakemake does not notice edits to imported modules, so a library change that alters
what a stage writes bumps that stage's constant here; the rule's params change and
Snakemake reruns exactly the jobs whose output the change affects.
"""

SCENARIOS = 1
GENERATION = 1
