"""Render the prompt suite with every checkpoint of one trained LoRA, and score the images.

One job per LoRA ({preset}/tier_{n}): the base model loads once, the checkpoints are
swapped on it (`set_loras`), and every checkpoint renders every prompt at the prompt's
seed, so only the LoRA weights differ between the columns of the report. Writes

    {out_dir}/images/{checkpoint}/{prompt_id}.png    the renders
    {out_dir}/scores.parquet                          one CHECKPOINT_SCORES row per image
    {out_dir}/run.json                                render settings, references, models
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
import pyarrow as pa
from PIL import Image

from charfolio.core import layout, tables
from charfolio.core.atomic import job_staging_dir, replace_dir, write_text_atomic
from charfolio.core.layout import CHECKPOINT_IMAGES, CHECKPOINT_RECORD
from charfolio.core.paths import portable_path
from charfolio.core.progress import Progress
from charfolio.evaluate.checkpoints import LoraCheckpoint, list_checkpoints
from charfolio.evaluate.references import References, load_references
from charfolio.evaluate.scoring import CHECKPOINT_SCORES, ImageScorer, TextImageScoring
from charfolio.evaluate.suite import SuitePrompt, read_suite
from charfolio.faces.detector import FaceDetector, create_face_detector

if TYPE_CHECKING:  # diffusers loads only in the render job, not in the report job
    from charfolio.generation.pipelines import LoraSpec

PathLike = str | os.PathLike[str]
ADAPTER_NAME = "checkpoint"


class CheckpointRenderer(Protocol):
    """charfolio.lora.render.LoraRenderer, as used here."""

    def set_loras(self, loras: Sequence[LoraSpec], fuse: bool = False) -> None: ...

    def render(self, prompt: str, seed: int) -> Image.Image: ...

    def settings_record(self) -> dict[str, Any]: ...


def _png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def render_and_score(
    checkpoints: Sequence[LoraCheckpoint],
    suite: Sequence[SuitePrompt],
    renderer: CheckpointRenderer,
    scorer: ImageScorer,
    out_dir: PathLike,
    *,
    preset: str,
    tier: int,
    lora_weight: float = 1.0,
    log: Callable[[str], None] = print,
) -> pa.Table:
    """Render and score `suite` with each checkpoint; images first, then scores.parquet."""
    from charfolio.generation.pipelines import LoraSpec

    if not checkpoints:
        raise ValueError(f"{preset}/tier_{tier}: no checkpoint to evaluate")
    if not suite:
        raise ValueError("the prompt suite is empty")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    staging = job_staging_dir(out_dir, prefix=".images.")
    progress = Progress(len(checkpoints) * len(suite), f"render {preset}/tier_{tier}", log)
    rows: list[dict[str, Any]] = []
    try:
        for checkpoint in checkpoints:
            renderer.set_loras([LoraSpec(checkpoint.path, lora_weight, ADAPTER_NAME)], fuse=False)
            folder = staging / checkpoint.label
            folder.mkdir()
            arrays, files = [], []
            for prompt in suite:
                data = _png(renderer.render(prompt.prompt, prompt.seed).convert("RGB"))
                (folder / f"{prompt.prompt_id}.png").write_bytes(data)
                with Image.open(io.BytesIO(data)) as decoded:
                    arrays.append(np.asarray(decoded.convert("RGB")))
                files.append((f"images/{checkpoint.label}/{prompt.prompt_id}.png", data))
                progress.advance()
            scores = scorer.score(arrays, [p.description for p in suite])
            for prompt, (file, data), rgb, score in zip(suite, files, arrays, scores, strict=True):
                rows.append(
                    {
                        "lora": f"{preset}/tier_{tier}",
                        "preset": preset,
                        "tier": tier,
                        "checkpoint": checkpoint.label,
                        "epoch": checkpoint.epoch,
                        "final": checkpoint.final,
                        "checkpoint_file": portable_path(checkpoint.path),
                        "checkpoint_sha256": checkpoint.sha256,
                        "prompt_id": prompt.prompt_id,
                        "category": prompt.category,
                        "prompt": prompt.prompt,
                        "description": prompt.description,
                        "seed": prompt.seed,
                        "file": file,
                        "sha256": hashlib.sha256(data).hexdigest(),
                        "width": rgb.shape[1],
                        "height": rgb.shape[0],
                        **vars(score),
                    }
                )
            faces = sum(r["n_faces"] > 0 for r in rows[-len(suite) :])
            log(f"{checkpoint.label}: {faces}/{len(suite)} images with a face")
        replace_dir(staging, out_dir / CHECKPOINT_IMAGES)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return tables.write_table(out_dir / layout.CHECKPOINT_SCORES, rows, CHECKPOINT_SCORES)


def _references_record(references: References) -> dict[str, Any]:
    return {
        "n_images": references.n_images,
        "n_descriptors": 0 if references.descriptors is None else len(references.descriptors),
        "descriptor_model": references.model,
        "reason": references.reason,
    }


def evaluate_lora(
    summary: PathLike,
    suite: PathLike,
    faces: PathLike,
    tier_dir: PathLike,
    out_dir: PathLike,
    *,
    preset: str,
    tier: int,
    renderer: CheckpointRenderer,
    detector: FaceDetector,
    text_scorer: TextImageScoring,
    checkpoints: str = "all",
    lora_weight: float = 1.0,
    quality_weights: Mapping[str, float] | None = None,
    log: Callable[[str], None] = print,
) -> pa.Table:
    """The checkpoint job of one LoRA, on models the caller has loaded (see module docstring)."""
    found = list_checkpoints(summary, checkpoints)
    prompts = read_suite(suite)
    references = load_references(faces, tier_dir)
    scorer = ImageScorer(detector, text_scorer, references, quality_weights)
    log(
        f"{preset}/tier_{tier}: {len(found)} checkpoints ({', '.join(c.label for c in found)}) "
        f"x {len(prompts)} prompts; identity against {_references_record(references)}"
    )
    table = render_and_score(
        found, prompts, renderer, scorer, out_dir,
        preset=preset, tier=tier, lora_weight=lora_weight, log=log,
    )  # fmt: skip
    record = {
        "lora": f"{preset}/tier_{tier}",
        "summary": str(summary),
        "checkpoints": [
            {"label": c.label, "file": portable_path(c.path), "epoch": c.epoch, "final": c.final}
            for c in found
        ],
        "lora_weight": lora_weight,
        "render": {k: v for k, v in renderer.settings_record().items() if k != "loras"},
        "references": _references_record(references),
        "identity_unavailable": scorer.unavailable,
        "face_backend": detector.name,
        "descriptor_model": detector.descriptor_model,
        "adherence_model": text_scorer.model,
        "quality_weights": scorer.weights,
    }
    write_text_atomic(
        Path(out_dir) / CHECKPOINT_RECORD, json.dumps(record, indent=2, default=str) + "\n"
    )
    return table


def evaluate_lora_checkpoints(
    summary: PathLike,
    suite: PathLike,
    faces: PathLike,
    tier_dir: PathLike,
    out_dir: PathLike,
    *,
    preset: str,
    tier: int,
    render: Mapping[str, Any],
    generation: Mapping[str, Any],
    training_backend: str,
    backend_options: Mapping[str, Any] | None,
    faces_cfg: Mapping[str, Any],
    prompt_adherence: Mapping[str, Any],
    negative_prompt: str = "",
    quality_weights: Mapping[str, float] | None = None,
    checkpoints: str = "all",
    model_cache: str | None = None,
    log: Callable[[str], None] = print,
) -> pa.Table:
    """`evaluate_lora` with the models the config sections name, each loaded once.

    The renderer uses `render`'s settings (nulls take `generation`'s) on the model the LoRA
    was trained on (generation.model as training.backend's source resolves it, created from
    `backend_options`, its section training.<backend>);
    `render.lora.weight` is the checkpoints' weight and `negative_prompt` (the character's)
    is used when render.negative_prompt is null. render.extra_loras are not applied: the
    report compares the character LoRA's checkpoints alone.
    """
    from charfolio.embed.text_image import create_text_image_scorer
    from charfolio.lora.base_model import create_base_model
    from charfolio.lora.render import RenderSettings, open_renderer

    renderer = open_renderer(
        model_cfg=generation["model"],
        base_model=create_base_model(training_backend, backend_options),
        model_cache=model_cache,
        settings=RenderSettings.from_config(render, generation, negative_prompt),
        loras=[],
        fuse_loras=False,
    )
    return evaluate_lora(
        summary, suite, faces, tier_dir, out_dir,
        preset=preset,
        tier=tier,
        renderer=renderer,
        detector=create_face_detector(faces_cfg, model_cache),
        text_scorer=create_text_image_scorer(prompt_adherence, model_cache),
        checkpoints=checkpoints,
        lora_weight=float(render.get("lora", {}).get("weight", 1.0)),
        quality_weights=quality_weights,
        log=log,
    )  # fmt: skip
