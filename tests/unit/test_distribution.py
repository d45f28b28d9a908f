import pytest

from charfolio.generation.distribution import (
    ScenarioRef,
    calculate_distribution,
    group_seeds,
    plan_shard,
    seed_group_count,
)


def test_methodology_worked_example():
    # Methodology Phase 2.3: 50 originals, 600 modified, batch 5, 60 scenarios.
    dist = calculate_distribution(50, 600, batch_size=5, num_scenarios=60)
    assert dist.num_seed_groups == 10
    assert dist.original_per_seed == 5
    assert dist.images_per_scenario_per_seed == 2
    assert dist.modified_per_seed == 120
    assert seed_group_count(50, 5) == 10


def test_gentle_freckled_totals_with_multi_batch():
    # 5 originals + 120 scenario + 25 multi-batch per seed -> the case study's 1,500 images.
    dist = calculate_distribution(50, 600, 5, 60, multi_batch_per_seed=25)
    assert dist.images_per_seed == 150
    assert dist.total_images == 1500
    assert group_seeds(966983, dist) == list(range(966983, 966993))


def test_more_modified_images_raise_images_per_scenario():
    # 1,500 modified over 10 groups x 60 scenarios = 2.5 -> 3 (ceil reaches the request)
    dist = calculate_distribution(50, 1500, 5, 60)
    assert dist.images_per_scenario_per_seed == 3
    assert dist.modified_per_seed * dist.num_seed_groups >= 1500


def test_partial_last_batch_still_gets_a_group():
    assert calculate_distribution(51, 600, 5, 60).num_seed_groups == 11


@pytest.mark.parametrize("args", [(0, 10, 5, 3), (10, 10, 0, 3), (10, -1, 5, 3)])
def test_invalid_counts_are_errors(args):
    with pytest.raises(ValueError):
        calculate_distribution(*args)


def _scenarios(n):
    return [
        ScenarioRef(i, f", scenario number {i} in a place, soft light", "other") for i in range(n)
    ]


def test_plan_shard_counts_names_and_unique_noise():
    dist = calculate_distribution(50, 600, 5, 60, multi_batch_per_seed=25)
    specs = plan_shard("gentle_freckled", "base", 966983, 966984, dist, _scenarios(60), [", smile"])
    assert len(specs) == 150
    assert [s.mode for s in specs].count("original") == 5
    assert [s.mode for s in specs].count("scenario") == 120
    assert [s.mode for s in specs].count("multi_batch") == 25
    names = [s.file_name for s in specs]
    assert len(set(names)) == len(names)
    assert names[0] == "char_gentle_freckled_seed_966984_original_01.png"
    assert "char_gentle_freckled_seed_966984_scenario_60_02.png" in names
    # The j-th image of every scenario shares the j-th original's noise (seed consistency).
    originals = {s.variant: s.generator_seed for s in specs if s.mode == "original"}
    for s in specs:
        if s.mode == "scenario":
            assert s.generator_seed == originals[s.variant]
    # Multi-batch images get noise of their own.
    multi = [s.generator_seed for s in specs if s.mode == "multi_batch"]
    assert not set(multi) & set(originals.values())
    assert all(s.prompt.startswith("base") for s in specs)


def test_generator_seeds_never_collide_across_groups():
    dist = calculate_distribution(50, 600, 5, 60, multi_batch_per_seed=25)
    seen: dict[int, str] = {}
    for seed in group_seeds(966983, dist):
        for spec in plan_shard("c", "base", 966983, seed, dist, _scenarios(60), [", a"]):
            if spec.mode != "scenario":  # scenario images reuse their group's original noise
                assert spec.generator_seed not in seen, (spec, seen.get(spec.generator_seed))
                seen[spec.generator_seed] = spec.file_name
    # Variant 0 of group 0 is the base seed itself, as in the methodology.
    assert seen[966983] == "char_c_seed_966983_original_01.png"


def test_plan_shard_rejects_foreign_seed_and_short_scenarios():
    dist = calculate_distribution(10, 20, 5, 4)
    with pytest.raises(ValueError, match="not one of c's seed groups"):
        plan_shard("c", "b", 100, 150, dist, _scenarios(4), [])
    with pytest.raises(ValueError, match="needs 4 scenarios"):
        plan_shard("c", "b", 100, 100, dist, _scenarios(3), [])
