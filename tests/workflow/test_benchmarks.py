"""Every rule that decodes images or loads a model has `benchmark:`, under benchmarks/."""

from __future__ import annotations

from .conftest import config_path
from .rule_table import rule_table

# Rules that only read and write tables, JSON or links: no image decode, no model.
LIGHT = {
    "cluster_images": "k-means on the embeddings array",
    "select_images": "thresholds and ranking over the measurement tables",
    "build_tier": "links and caption text files from the selection",
    "build_catalog": "joins the tables",
    "build_duckdb": "views over the catalogs",
    "start_refinement": "round 0 from the tier's balance table",
    "plan_refinement": "the next round's modifiers from the last round's report",
    "build_refined_tier": "links and captions from the rounds' tables",
    "make_checkpoint_suite": "the prompt suite from the config",
    "tabulate_ablation": "a table and page from the boards' evaluations",
}


def test_heavy_rules_have_a_benchmark(workdir):
    rules = [rule for rule in rule_table(workdir, config_path("demo.yaml")) if rule["script"]]
    missing = {r["name"] for r in rules if not r["benchmark"]} - LIGHT.keys()
    assert not missing, f"add benchmark: to {sorted(missing)}, or list them in LIGHT with why"
    for rule in rules:
        if rule["benchmark"]:
            assert rule["name"] not in LIGHT, f"{rule['name']} has a benchmark: drop it from LIGHT"
            path = rule["benchmark"]
            assert path.startswith("results/{character") and "/benchmarks/" in path, path
            assert path.endswith(".tsv"), path
