"""The production image backend: a diffusers SD1.5 / SDXL pipeline, loaded once per job.

Each image gets its own CPU `torch.Generator` seeded with its request's generator seed,
so its noise depends only on that seed: the same image comes out in any batch and on any
device, up to float rounding (batched CPU kernels differ from batch 1 by at most one 8-bit
level in a few pixels; GPU kernels differ from CPU ones).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import diffusers
import peft
import torch
import transformers
from PIL import Image

from charfolio.core.config import resolve_model_file
from charfolio.core.paths import optional_portable_path, portable_path
from charfolio.generation.backends import RenderRequest, register_image_backend
from charfolio.generation.pipelines import (
    LoraSpec,
    apply_loras,
    configure_scheduler,
    dtype_name,
    load_pipeline,
    resolve_device,
    resolve_dtype,
    resolve_model_path,
)

DETAIL_ADAPTER = "detail"


def _resolve_optional(path: str | None, model_cache: str | None, what: str) -> Path | None:
    return resolve_model_file(path, model_cache, what) if path else None


@register_image_backend("diffusers")
class DiffusersBackend:
    """Renders batches of requests with one pipeline built from the `generation` config section."""

    def __init__(
        self,
        generation: Mapping[str, Any],
        model_cache: str | None = None,
        *,
        name: str = "diffusers",
    ) -> None:
        model = generation["model"]
        self.name = name
        self.architecture: str = model["architecture"]
        self.model_path = resolve_model_path(model, model_cache)
        self.model_id = self.model_path.name
        # Resolved paths, for the settings stored with every image (load_pipeline resolves too).
        self.config_dir = _resolve_optional(
            model.get("config_dir"), model_cache, "generation.model.config_dir"
        )
        self.vae_path = _resolve_optional(
            model.get("vae"), model_cache, "VAE (generation.model.vae)"
        )
        self.device = resolve_device(generation["device"])
        torch_dtype = resolve_dtype(generation["dtype"], self.device)
        self.dtype = dtype_name(torch_dtype)
        self.steps = int(generation["steps"])
        self.guidance_scale = float(generation["guidance_scale"])
        self.pipe = load_pipeline(model, model_cache, torch_dtype, self.device)
        self.scheduler_overrides = configure_scheduler(
            self.pipe, generation["sampler"], generation["sigmas"]
        )
        self.lora: LoraSpec | None = None
        detail = generation.get("detail_lora") or {}
        if detail.get("path"):
            lora_path = resolve_model_file(
                detail["path"], model_cache, "detail LoRA (generation.detail_lora.path)"
            )
            self.lora = LoraSpec(lora_path, float(detail["weight"]), DETAIL_ADAPTER)
            apply_loras(self.pipe, [self.lora])

    def render(self, requests: Sequence[RenderRequest]) -> list[Image.Image]:
        """One pipeline call for the whole batch; image i depends only on request i."""
        if not requests:
            return []
        width, height = requests[0].width, requests[0].height
        if any((r.width, r.height) != (width, height) for r in requests):
            raise ValueError("all requests in one batch must have the same width and height")
        # CPU generators: the initial noise is identical on every device and in every batch.
        generators = [torch.Generator("cpu").manual_seed(r.generator_seed) for r in requests]
        output = self.pipe(
            prompt=[r.prompt for r in requests],
            negative_prompt=[r.negative_prompt for r in requests],
            width=width,
            height=height,
            num_inference_steps=self.steps,
            guidance_scale=self.guidance_scale,
            generator=generators,
            output_type="pil",
        )
        return list(output.images)

    def prompt_warnings(self, prompts: Sequence[str]) -> list[str]:
        # CLIP encodes at most model_max_length tokens (77) and diffusers drops the rest with
        # only a logger warning; scenarios come last in a prompt, so they are what gets lost.
        tokenizer = self.pipe.tokenizer
        limit = tokenizer.model_max_length
        warnings = []
        for prompt in dict.fromkeys(prompts):
            n = len(tokenizer(prompt, truncation=False).input_ids)
            if n > limit:
                warnings.append(f"{n} tokens > {limit}, the end is ignored: {prompt!r}")
        return warnings

    def settings(self) -> dict[str, Any]:
        """What, besides a request, decides the pixels: stored with every image."""
        return {
            "backend": self.name,
            "model": {
                "path": portable_path(self.model_path),
                "architecture": self.architecture,
                "config_dir": optional_portable_path(self.config_dir),
                "vae": optional_portable_path(self.vae_path),
            },
            "scheduler": {
                "class": type(self.pipe.scheduler).__name__,
                "overrides": self.scheduler_overrides,
            },
            "lora": None
            if self.lora is None
            else {
                "path": portable_path(self.lora.path),
                "weight": self.lora.weight,
                "adapter": self.lora.adapter_name,
            },
            "steps": self.steps,
            "guidance_scale": self.guidance_scale,
            "dtype": self.dtype,
            "device": self.device.type,
            "noise": "one CPU torch.Generator per image, seeded with its generator_seed",
            "versions": {
                "torch": torch.__version__,
                "diffusers": diffusers.__version__,
                "transformers": transformers.__version__,
                "peft": peft.__version__,
            },
        }
