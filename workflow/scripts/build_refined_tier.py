"""Adapter: rule build_refined_tier -> charfolio.refine.refined_tier.write_refined_tier."""

from charfolio.core.joblog import job_log
from charfolio.refine.refined_tier import write_refined_tier

with job_log(snakemake.log[0]) as log:
    caption = snakemake.params.caption
    write_refined_tier(
        snakemake.input.tier,
        pool_path=snakemake.input.pool,
        curated_paths=snakemake.input.curated,
        round_reports=snakemake.input.reports,
        images_root=snakemake.params.root,
        out_dir=snakemake.output.tier,
        out_report=snakemake.output.report,
        caption_template=caption["caption_template"],
        token=caption["token"],
        class_word=caption["class_word"],
        link_mode=snakemake.params.link_mode,
        val_fraction=snakemake.params.val_fraction,
        log=log,
    )
