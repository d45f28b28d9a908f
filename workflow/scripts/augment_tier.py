"""Adapter: rule augment_tier -> charfolio.balance.augment_tier."""

from charfolio.balance import augment_tier
from charfolio.core.joblog import job_log

with job_log(snakemake.log[0]) as log:
    augment_tier(
        snakemake.input.tier,
        balance_table=snakemake.input.balance,
        images_root=snakemake.params.root,
        out_dir=snakemake.output[0],
        faces_path=snakemake.input.faces,
        targets=snakemake.params.targets,
        rules=snakemake.params.rules,
        link_mode=snakemake.params.link_mode,
        token=snakemake.params.caption["token"],
        class_word=snakemake.params.caption["class_word"],
        log=log,
        **snakemake.params.augment,
    )
