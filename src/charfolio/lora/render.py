"""Render with trained LoRAs on the model they were trained on, for storyboards and reports.

A `LoraRenderer` loads the base model once (plus an optional IP-Adapter and ControlNet)
and renders many frames; `set_loras` swaps the LoRA set on the loaded model, so the
checkpoint report walks through every checkpoint without reloading the base.

Each call seeds its own CPU `torch.Generator`: the same prompt, seed and inputs give the
same pixels on any device ordering of calls (GPU kernels differ from CPU ones).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import diffusers
import peft
import torch
import transformers
from diffusers import DiffusionPipeline
from PIL import Image

from charfolio.core.paths import portable_path
from charfolio.generation.control import (
    ControlMapper,
    ControlNetFiles,
    attach_controlnet,
    create_control_mapper,
)
from charfolio.generation.ip_adapter import (
    IpAdapterFiles,
    attach_ip_adapter,
)
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
from charfolio.generation.samplers import INHERITED_RENDER_KEYS
from charfolio.lora.base_model import BaseModelSource

INHERITED_KEYS = INHERITED_RENDER_KEYS  # nulls in render take generation's value


class RenderError(ValueError):
    """A render call the renderer cannot honour; the message says what to configure."""


@dataclass(frozen=True)
class RenderSettings:
    steps: int
    guidance_scale: float
    width: int
    height: int
    sampler: str
    sigmas: str
    negative_prompt: str
    dtype: str
    device: str

    @classmethod
    def from_config(
        cls,
        render: Mapping[str, Any],
        generation: Mapping[str, Any],
        negative_prompt: str = "",
    ) -> RenderSettings:
        """config['render'] with nulls taken from config['generation'].

        The generation section has no negative prompt (it is the character's, in its
        character file): a null render.negative_prompt takes `negative_prompt`, so callers
        pass the character's.
        """
        values = {key: _inherit(render, generation, key) for key in INHERITED_KEYS}
        chosen = render.get("negative_prompt")
        return cls(
            steps=int(values["steps"]),
            guidance_scale=float(values["guidance_scale"]),
            width=int(values["width"]),
            height=int(values["height"]),
            sampler=str(values["sampler"]),
            sigmas=str(values["sigmas"]),
            negative_prompt=negative_prompt if chosen is None else str(chosen),
            dtype=str(render.get("dtype", "auto")),
            device=str(render.get("device", "auto")),
        )


def _inherit(render: Mapping[str, Any], generation: Mapping[str, Any], key: str) -> Any:
    if render.get(key) is not None:
        return render[key]
    if generation.get(key) is None:
        raise RenderError(
            f"render.{key} is null and generation.{key} is not set; set one of them "
            f"(a validated config fills generation's defaults)"
        )
    return generation[key]


class LoraRenderer:
    """A base model (+ LoRAs, + optional IP-Adapter / ControlNet) loaded once; renders many frames."""

    def __init__(
        self,
        pipe: DiffusionPipeline,
        settings: RenderSettings,
        *,
        architecture: str,
        model_path: Path,
        backend: str,
        scheduler_overrides: Mapping[str, Any],
        ip_adapter: IpAdapterFiles | None = None,
        controlnet: ControlNetFiles | None = None,
        control_pipe: DiffusionPipeline | None = None,
        control_mapper: ControlMapper | None = None,
    ) -> None:
        if (controlnet is None) != (control_pipe is None) or (controlnet is None) != (
            control_mapper is None
        ):
            raise ValueError("controlnet, control_pipe and control_mapper go together")
        self.pipe = pipe
        self.settings = settings
        self.architecture = architecture
        self.model_path = model_path
        self.backend = backend
        self.scheduler_overrides = dict(scheduler_overrides)
        self.ip_adapter = ip_adapter
        self.controlnet = controlnet
        self._control_pipe = control_pipe
        self._control_mapper = control_mapper
        self.loras: tuple[LoraSpec, ...] = ()
        self.fused = False

    @property
    def has_ip_adapter(self) -> bool:
        return self.ip_adapter is not None

    @property
    def has_controlnet(self) -> bool:
        return self.controlnet is not None

    def set_loras(self, loras: Sequence[LoraSpec], fuse: bool = False) -> None:
        """Replace the active LoRAs (unloading/unfusing the previous ones).

        Unfused, the previous adapters are removed entirely, so switching back gives the
        same pixels. Fused LoRAs are merged into the weights and subtracted again on the
        next swap, which restores the base weights up to float rounding.
        """
        names = [lora.adapter_name for lora in loras]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise RenderError(f"adapter name {repeated[0]!r} is given twice; names must differ")
        self.clear_loras()
        apply_loras(self.pipe, loras)
        if fuse and loras:
            # Adapters stay loaded (merged) so that the next swap can unfuse them.
            self.pipe.fuse_lora(adapter_names=names, lora_scale=1.0)
        self.loras = tuple(loras)
        self.fused = fuse and bool(loras)

    def clear_loras(self) -> None:
        """Back to the base weights: no LoRA loaded."""
        if self.fused:
            self.pipe.unfuse_lora()
        if self.loras:
            self.pipe.unload_lora_weights()
        self.loras, self.fused = (), False

    def render(
        self,
        prompt: str,
        seed: int,
        *,
        reference: Image.Image | None = None,
        control: Image.Image | None = None,
    ) -> Image.Image:
        """One image; same inputs -> same pixels.

        Without a reference an IP-Adapter renderer renders at IP-Adapter scale 0 (no image
        conditioning, e.g. frame 1); without a control image the ControlNet is not used.
        """
        if reference is not None and self.ip_adapter is None:
            raise RenderError(
                "a reference image needs an IP-Adapter; configure story.ip_adapter "
                "(reference_guided mode) or render without reference"
            )
        if control is not None and self._control_pipe is None:
            raise RenderError(
                "a control image needs a ControlNet; configure story.controlnet or render "
                "without control"
            )
        s = self.settings
        kwargs: dict[str, Any] = {
            "prompt": prompt,
            "negative_prompt": s.negative_prompt or None,
            "width": s.width,
            "height": s.height,
            "num_inference_steps": s.steps,
            "guidance_scale": s.guidance_scale,
            # CPU generator: the initial noise is the same on every device.
            "generator": torch.Generator("cpu").manual_seed(int(seed)),
            "output_type": "pil",
        }
        pipe = self.pipe
        if self.ip_adapter is not None:
            self.pipe.set_ip_adapter_scale(self.ip_adapter.scale if reference is not None else 0.0)
            # diffusers needs image embeddings once an IP-Adapter is loaded; at scale 0 a
            # blank image adds exactly nothing.
            kwargs["ip_adapter_image"] = (
                reference.convert("RGB")
                if reference is not None
                else Image.new("RGB", (s.width, s.height))
            )
        if control is not None and self._control_pipe is not None:
            assert self.controlnet is not None
            pipe = self._control_pipe
            kwargs["image"] = control.convert("RGB")
            kwargs["controlnet_conditioning_scale"] = self.controlnet.conditioning_scale
        return pipe(**kwargs).images[0]

    def control_map(self, image: Image.Image) -> Image.Image:
        """The ControlNet condition (canny / depth / pose map) extracted from an image."""
        if self._control_mapper is None:
            raise RenderError(
                "control maps need a ControlNet; configure story.controlnet (type canny, "
                "depth or pose)"
            )
        return self._control_mapper(image.convert("RGB"))

    def settings_record(self) -> dict[str, Any]:
        """What, besides prompt, seed and input images, decides the pixels."""
        pipe = self.pipe
        return {
            "backend": self.backend,
            "model": {"path": portable_path(self.model_path), "architecture": self.architecture},
            "loras": [
                {
                    "path": portable_path(lora.path),
                    "weight": lora.weight,
                    "adapter": lora.adapter_name,
                }
                for lora in self.loras
            ],
            "fused": self.fused,
            **asdict(self.settings),
            "dtype": dtype_name(pipe.unet.dtype),
            "device": pipe.device.type,
            "scheduler": {
                "class": type(pipe.scheduler).__name__,
                "overrides": self.scheduler_overrides,
            },
            "ip_adapter": None if self.ip_adapter is None else self.ip_adapter.record(),
            "controlnet": None if self.controlnet is None else self.controlnet.record(),
            "noise": "one CPU torch.Generator per image, seeded with its seed",
            "versions": {
                "torch": torch.__version__,
                "diffusers": diffusers.__version__,
                "transformers": transformers.__version__,
                "peft": peft.__version__,
            },
        }


def open_renderer(
    *,
    model_cfg: Mapping[str, Any],
    base_model: BaseModelSource,
    model_cache: str | None,
    settings: RenderSettings,
    loras: Sequence[LoraSpec] = (),
    fuse_loras: bool = False,
    ip_adapter: Mapping[str, Any] | None = None,
    controlnet: Mapping[str, Any] | None = None,
) -> LoraRenderer:
    """The model a LoRA was trained on: generation.model `model_cfg` as `base_model` (the
    source training.backend names, charfolio.lora.base_model) resolves it.

    `ip_adapter` / `controlnet` are config['story']['ip_adapter'] / ['controlnet'] (null:
    none); the same source resolves their files, so they fit the model it loads.
    """
    resolved = base_model.model_config(model_cfg, model_cache)
    architecture = resolved.get("architecture", "sd15")
    # Resolve every file before the (slow) model load, so a missing one fails at once.
    ip_files = (
        None if ip_adapter is None else base_model.ip_adapter(ip_adapter, architecture, model_cache)
    )
    control_files = (
        None if controlnet is None else base_model.controlnet(controlnet, architecture, model_cache)
    )
    device = resolve_device(settings.device)
    dtype = resolve_dtype(settings.dtype, device)
    mapper = None if control_files is None else create_control_mapper(control_files, device)
    pipe = load_pipeline(resolved, model_cache, dtype, device)
    overrides = configure_scheduler(pipe, settings.sampler, settings.sigmas)
    if ip_files is not None:
        attach_ip_adapter(pipe, ip_files)
    control_pipe = None
    if control_files is not None:
        control_pipe = attach_controlnet(pipe, control_files, architecture)
    renderer = LoraRenderer(
        pipe,
        settings,
        architecture=architecture,
        model_path=resolve_model_path(resolved, model_cache),
        backend=base_model.name,
        scheduler_overrides=overrides,
        ip_adapter=ip_files,
        controlnet=control_files,
        control_pipe=control_pipe,
        control_mapper=mapper,
    )
    renderer.set_loras(loras, fuse=fuse_loras)
    return renderer
