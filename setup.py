"""Ships the workflow inside the wheel, so `pip install charfolio` works outside a checkout.

The workflow's files stay where the repository keeps them (Snakefile, rules/, workflow/,
config/config.yaml); a build copies them into charfolio/bundled_workflow/, where
charfolio.core.workflow_files finds them when no checkout is around. Editable installs
copy nothing: they run the checkout's own files.
"""

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = Path(__file__).resolve().parent
# Everything the Snakefile reads relative to itself, and the base config of `charfolio curate`.
WORKFLOW_FILES = ["Snakefile", "rules", "workflow", "config/config.yaml"]
BUNDLED = Path("charfolio") / "bundled_workflow"  # core/workflow_files.py BUNDLED


class BuildWithWorkflow(build_py):
    def run(self) -> None:
        super().run()
        if getattr(self, "editable_mode", False):
            return
        target = Path(self.build_lib) / BUNDLED
        shutil.rmtree(target, ignore_errors=True)  # no file of an earlier build lingers
        for name in WORKFLOW_FILES:
            source, dest = HERE / name, target / name
            dest.parent.mkdir(parents=True, exist_ok=True)
            if source.is_dir():
                ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
                shutil.copytree(source, dest, ignore=ignore)
            else:
                shutil.copy2(source, dest)


setup(cmdclass={"build_py": BuildWithWorkflow})
