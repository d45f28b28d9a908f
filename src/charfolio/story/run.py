"""The storyboard jobs: the models a job needs, from the config, then the work.

run_storyboard: the renderer for a mode and the CLIP scorer, then render_storyboard.
run_evaluation: the face detector and the CLIP scorer, then evaluate_storyboard.

The renderer is the model the character's LoRA was trained on (charfolio.lora.
render), with the LoRA of render.lora plus render.extra_loras (from render.loras_file,
through charfolio.lora.registry.LoraRegistry) in simple and reference_guided modes, and no LoRA in
baseline mode. reference_guided adds the IP-Adapter (and the ControlNet when configured).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from charfolio.core.paths import portable_path
from charfolio.embed.text_image import create_text_image_scorer
from charfolio.faces import create_face_detector
from charfolio.generation.pipelines import LoraSpec
from charfolio.lora.base_model import create_base_model
from charfolio.lora.registry import LoraRegistry
from charfolio.lora.render import RenderSettings, open_renderer
from charfolio.story.board_scores import evaluate_storyboard
from charfolio.story.storyboard import StoryboardSettings, render_storyboard


def storyboard_loras(
    lora_file: str | os.PathLike[str],
    results_dir: str | os.PathLike[str],
    character: str,
    token: str,
    render: Mapping[str, Any],
    architecture: str,
    model_cache: str | None,
) -> tuple[list[LoraSpec], list[dict[str, Any]], list[str]]:
    """(specs, [{name, weight, path}] for the record, extra trigger words for the prompt).

    `lora_file` is one of the LoRAs trained for the character under `results_dir`; they are
    all registered ("{character}/{preset}/tier_{n}"), and it is composed with
    render.extra_loras.
    """
    extras = [(e["name"], e.get("weight")) for e in render.get("extra_loras", [])]
    registry = (
        LoraRegistry.from_yaml(render["loras_file"], model_cache)
        if extras
        else LoraRegistry(model_cache=model_cache)
    )
    trained = registry.add_trained(results_dir, character, token)
    own = next((e.name for e in trained if _same_file(e.path, lora_file)), None)
    if own is None:
        raise FileNotFoundError(
            f"{lora_file} is not a LoRA trained for {character} under {results_dir}; rerun the "
            f"train_lora rule for it"
        )
    selections = [(own, float(render["lora"]["weight"])), *extras]
    specs = registry.specs(selections, architecture)
    record = [
        {"name": name, "weight": spec.weight, "path": portable_path(spec.path)}
        for (name, _), spec in zip(selections, specs, strict=True)
    ]
    extra_words = [w for w in registry.trigger_words(n for n, _ in extras) if w != token]
    return specs, record, extra_words


def _same_file(a: Path, b: str | os.PathLike[str]) -> bool:
    return Path(b).is_file() and a.samefile(b)


def run_storyboard(
    frames_file: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    *,
    settings: Mapping[str, Any],
    character: Mapping[str, Any],
    prompt_adherence: Mapping[str, Any],
    backend: str,
    backend_options: Mapping[str, Any] | None,
    model_cache: str | None,
    lora_file: str | os.PathLike[str] | None = None,
    results_dir: str | os.PathLike[str],
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Render one storyboard.

    `settings` is settings.storyboard_params(config, mode); `character` is {name, token,
    class_word, negative_prompt}; `backend` / `backend_options` are training.backend and its
    section (training.<backend>): the source of the model the LoRA was trained on;
    `lora_file` is the character's trained LoRA (baseline mode renders without one), one of
    those trained under `results_dir` (the results folder).
    """
    mode, render, generation = settings["mode"], settings["render"], settings["generation"]
    base_model = create_base_model(backend, backend_options)
    specs: list[LoraSpec] = []
    record: list[dict[str, Any]] = []
    extra_words: list[str] = []
    if mode != "baseline":
        if lora_file is None:
            raise ValueError(f"{mode} mode renders with the character's LoRA; none was given")
        resolved = base_model.model_config(generation["model"], model_cache)
        specs, record, extra_words = storyboard_loras(
            lora_file,
            results_dir,
            character["name"],
            character["token"],
            render,
            resolved.get("architecture", "sd15"),
            model_cache,
        )
    render_settings = RenderSettings.from_config(render, generation, character["negative_prompt"])
    board = StoryboardSettings(
        character=character["name"],
        token=character["token"],
        class_word=character["class_word"],
        negative_prompt=render_settings.negative_prompt,
        mode=mode,
        seed=int(settings["seed"]),
        threshold=float(settings["threshold"]),
        max_retries=int(settings["max_retries"]),
        loras=tuple(record),
        extra_words=tuple(extra_words),
    )
    renderer = open_renderer(
        model_cfg=generation["model"],
        base_model=base_model,
        model_cache=model_cache,
        settings=render_settings,
        loras=specs,
        fuse_loras=bool(render.get("fuse_loras", False)),
        ip_adapter=settings["ip_adapter"],
        controlnet=settings["controlnet"],
    )
    log(f"renderer: {renderer.settings_record()['model']}, LoRAs {[r['name'] for r in record]}")
    scorer = create_text_image_scorer(prompt_adherence, model_cache)
    return render_storyboard(frames_file, out_dir, renderer, scorer, board, log)


def run_evaluation(
    storyboard: str | os.PathLike[str],
    out: str | os.PathLike[str],
    *,
    faces: Mapping[str, Any],
    prompt_adherence: Mapping[str, Any],
    model_cache: str | None,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Evaluate one storyboard with the configured face backend and CLIP model."""
    return evaluate_storyboard(
        storyboard,
        out,
        detector=create_face_detector(faces, model_cache),
        scorer=create_text_image_scorer(prompt_adherence, model_cache),
        log=log,
    )
