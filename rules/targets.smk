# The targets `rule all`, `curate_characters` and `train_characters` ask for (Snakefile),
# built from the config with the input functions of common.smk. Nothing else belongs here.


def lora_targets(name):
    paths = results.character(name)
    return [paths.lora_summary(preset, n) for preset, n in lora_runs()]


def refine_targets(name):
    """The refined training tiers of a generated character (folder characters: on request)."""
    if config["balance"]["refine"]["rounds"] < 1 or character(name).image_folder:
        return []
    paths = results.character(name)
    return [paths.tier(n, "refined") for n in config["training"]["tiers"]]


def story_targets(name):
    """Each configured story's storyboard with its evaluation, and the ablation table."""
    paths, stories = results.character(name), config["story"]["stories"]
    if not stories:
        return []
    boards = [paths.evaluation(board_name(story)) for story in stories]
    return [*boards, paths.ablation_page]


# A killed job's outputs are deleted at its start, and Snakemake does not remake a missing
# file whose readers' outputs exist (snakemake#1978): the rerun would leave it missing and its
# readers stale. So the targets below name an output of every job on the way to them: the
# rerun remakes it, and then its readers, whose inputs are now newer.
def curation_intermediates(name):
    paths, each = results.character(name), SimpleNamespace(character=name)
    targets = [] if character(name).image_folder else [paths.scenarios]
    targets += image_tables(name)
    targets += [paths.faces, paths.quality, paths.duplicates]
    targets += [*embedding_files(each).values(), *cluster_files(each).values()]
    return [*targets, paths.selection]


def training_intermediates(name):
    """The training tiers (tier_variant) and every refinement round's files."""
    paths = results.character(name)
    trained = [
        SimpleNamespace(character=name, n=n) for n in config["training"]["tiers"]
    ]
    targets = [training_tier(tier) for tier in trained]
    for tier in trained if refine_targets(name) else []:
        rounds = refine_rounds(tier)
        targets += [*rounds["curated"], *rounds["reports"]]
        for r in range(1, len(rounds["curated"]) + 1):
            targets += [paths.round_plan(tier.n, r), paths.round_table(tier.n, r)]
    return targets


def evaluation_intermediates(name):
    """The checkpoint renders' scores, and each story's frames, storyboards and evaluations."""
    paths, each = results.character(name), SimpleNamespace(character=name)
    targets = [paths.checkpoint_suite, *checkpoint_runs(each)["scores"]]
    for story in config["story"]["stories"]:
        targets += [paths.frames(story), paths.storyboard(board_name(story))]
    if config["story"]["stories"]:
        boards = ablation_boards(each)
        targets += [*boards["storyboards"], *boards["evaluations"]]
    return targets


def curation_targets(name):
    """What curating a character makes: its tiers, catalog, report, the training tiers'
    balance, and (a folder's images have no prompt) its captions."""
    paths = results.character(name)
    targets = [paths.tier(n) for n in tier_sizes()]
    targets += [paths.catalog, paths.report]
    # balance matters for what is trained on: the training tiers (any tier on request)
    targets += [paths.balance_report(n) for n in config["training"]["tiers"]]
    if character(name).image_folder:
        targets.append(paths.captions)
    return [*targets, *curation_intermediates(name)]


def curate_targets():
    """`charfolio curate`'s default: curation only, never training (see train_targets)."""
    targets = [t for name in config["characters"] for t in curation_targets(name)]
    return [*targets, results.duckdb]


def train_targets():
    """`charfolio curate --train`: the LoRAs of training.presets x training.tiers."""
    return [
        t
        for name in config["characters"]
        for t in (*training_intermediates(name), *lora_targets(name))
    ]


def all_targets():
    targets = []
    for name in config["characters"]:
        paths = results.character(name)
        targets += training_intermediates(name) + evaluation_intermediates(name)
        if not character(name).image_folder:
            targets.append(paths.scenarios)
        targets += image_tables(name)
        targets += curation_targets(name)
        targets += lora_targets(name)
        targets += story_targets(name)
        targets.append(paths.checkpoint_report)
        targets += refine_targets(name)
    targets.append(results.duckdb)
    return targets
