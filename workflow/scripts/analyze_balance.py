"""Adapter: rule analyze_balance -> charfolio.balance.analyze_balance."""

from charfolio.balance import analyze_balance
from charfolio.core.joblog import job_log
from charfolio.core.layout import tier_manifest

# Worker processes are spawned and re-import this script: only the parent runs the job.
if __name__ == "__main__":
    with job_log(snakemake.log[0]) as log:
        analyze_balance(
            snakemake.input.faces,
            images_root=snakemake.params.root,
            files=tier_manifest(snakemake.input.tier),
            out_table=snakemake.output.table,
            out_report=snakemake.output.report,
            targets=snakemake.params.targets,
            rules=snakemake.params.rules,
            workers=snakemake.threads,
            log=log,
        )
