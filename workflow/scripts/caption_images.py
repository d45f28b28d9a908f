"""Adapter: rule caption_images -> charfolio.captions.captioning.caption_images."""

from charfolio.captions.captioning import caption_images
from charfolio.core.joblog import job_log

with job_log(snakemake.log[0]) as log:
    caption_images(
        snakemake.input.tables,
        faces_path=snakemake.input.faces,
        root=snakemake.params.root,
        out_table=snakemake.output[0],
        captions=snakemake.params.captions,
        token=snakemake.params.caption["token"],
        class_word=snakemake.params.caption["class_word"],
        shots=snakemake.params.shots,
        model_cache=snakemake.params.model_cache,
        max_pixels=snakemake.params.max_pixels,
        log=log,
    )
