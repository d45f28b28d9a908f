"""Adapter: rule build_tier -> charfolio.curate.tiers.write_tier."""

import json
from pathlib import Path

from charfolio.core.joblog import job_log
from charfolio.curate.tiers import write_tier

with job_log(snakemake.log[0]) as log:
    caption = snakemake.params.caption
    write_tier(
        snakemake.input.selection,
        images_root=snakemake.params.root,
        tier_n=int(snakemake.wildcards.n),
        out_dir=snakemake.output[0],
        caption_template=caption["caption_template"],
        token=caption["token"],
        class_word=caption["class_word"],
        link_mode=snakemake.params.link_mode,
        val_fraction=snakemake.params.val_fraction,
        report=json.loads(Path(snakemake.input.report).read_text()),
        captions=snakemake.input.get("captions"),  # ingested folders only
        log=log,
    )
