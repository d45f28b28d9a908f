"""ControlNet from local .safetensors weights, wrapped around an already loaded pipeline.

story.controlnet.path is a diffusers ControlNet folder (config.json + .safetensors) or a
single .safetensors file. A single file is read with the layout of the base model's UNet
(`ControlNetModel.from_unet`'s config), in diffusers or original (ldm) key names, so no
config is fetched from the Hub; a ControlNet with another layout needs its folder.

`StableDiffusion(XL)ControlNetPipeline.from_pipe` shares the loaded components (UNet with
its LoRAs and IP-Adapter, text encoders, VAE, scheduler, image encoder), so one model in
memory serves renders with and without control.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import safetensors
import torch
from accelerate import init_empty_weights
from diffusers import (
    ControlNetModel,
    DiffusionPipeline,
    StableDiffusionControlNetPipeline,
    StableDiffusionXLControlNetPipeline,
)
from PIL import Image

from charfolio.core.config import ModelFileError, check_safe_model_format, resolve_model_file
from charfolio.core.paths import optional_portable_path, portable_path
from charfolio.generation.control_maps import CannyMapper, DepthMapper
from charfolio.generation.pose import PoseMapper

CONTROL_TYPES = ("canny", "depth", "pose")
CONTROL_PIPELINE_CLASSES: dict[str, type[DiffusionPipeline]] = {
    "sd15": StableDiffusionControlNetPipeline,
    "sdxl": StableDiffusionXLControlNetPipeline,
}
# The condition encoder's first layer, in diffusers, ldm and ldm-inside-a-checkpoint keys.
CONTROLNET_MARKER_KEYS = {
    "controlnet_cond_embedding.conv_in.weight",
    "input_hint_block.0.weight",
    "control_model.input_hint_block.0.weight",
}
FETCH_HINT = "`charfolio models --config <your config>` fetches the config's model files"

ControlMapper = Callable[[Image.Image], Image.Image]


@dataclass(frozen=True)
class ControlNetFiles:
    type: str  # canny | depth | pose
    path: Path  # ControlNet folder or .safetensors
    detector: Path | None  # depth: transformers folder; pose: .onnx; canny: None
    conditioning_scale: float
    canny_low: int = 100
    canny_high: int = 200
    built_by_source: bool = False  # made by the base-model source, not read from config paths

    def record(self) -> dict[str, Any]:
        return {
            "type": self.type,
            "path": portable_path(self.path),
            "detector": optional_portable_path(self.detector),
            "conditioning_scale": self.conditioning_scale,
            **({"canny_low": self.canny_low, "canny_high": self.canny_high}
               if self.type == "canny" else {}),
            "tiny": self.built_by_source,  # the record's key predates base-model sources
        }  # fmt: skip


def control_settings(section: Mapping[str, Any]) -> dict[str, Any]:
    """type, conditioning_scale and canny thresholds of story.controlnet, checked."""
    kind = section.get("type", "canny")
    if kind not in CONTROL_TYPES:
        raise ValueError(f"story.controlnet.type {kind!r} is not one of {', '.join(CONTROL_TYPES)}")
    low, high = int(section.get("canny_low", 100)), int(section.get("canny_high", 200))
    if kind == "canny" and low > high:
        raise ValueError(
            f"story.controlnet.canny_low ({low}) is above canny_high ({high}); swap them"
        )
    return {
        "type": kind,
        "conditioning_scale": float(section.get("conditioning_scale", 0.8)),
        "canny_low": low,
        "canny_high": high,
    }


def resolve_controlnet(
    section: Mapping[str, Any], model_cache: str | os.PathLike[str] | None
) -> ControlNetFiles:
    """The files story.controlnet names, checked to exist and to be safetensors / ONNX."""
    common = control_settings(section)
    detector = resolve_detector(common["type"], section.get("detector_path"), model_cache)
    if not section.get("path"):
        raise ModelFileError(
            "story.controlnet.path is not set; point it at a local ControlNet folder or "
            f".safetensors (absolute or relative to model_cache); {FETCH_HINT}"
        )
    path = resolve_model_file(section["path"], model_cache, "ControlNet (story.controlnet.path)")
    if path.is_file() and path.suffix.lower() != ".safetensors":
        raise ModelFileError(
            f"{path}: story.controlnet.path must be a .safetensors file or a folder"
        )
    if path.is_dir() and not (path / "config.json").is_file():
        raise ModelFileError(
            f"{path}: not a diffusers ControlNet folder (no config.json); {FETCH_HINT}"
        )
    return ControlNetFiles(path=path, detector=detector, **common)


def resolve_detector(
    kind: str,
    detector_path: str | None,
    model_cache: str | os.PathLike[str] | None,
) -> Path | None:
    """The model that makes `kind`'s control map (story.controlnet.detector_path); canny: none."""
    if kind == "canny":
        return None  # OpenCV, no model
    what = "depth model folder" if kind == "depth" else "pose .onnx model"
    if not detector_path:
        raise ModelFileError(
            f"story.controlnet.type is {kind} but story.controlnet.detector_path is not set; "
            f"point it at a local {what}; {FETCH_HINT}"
        )
    found = resolve_model_file(
        detector_path, model_cache, f"{kind} detector (story.controlnet.detector_path)"
    )
    if kind == "pose" and found.suffix.lower() != ".onnx":
        raise ModelFileError(
            f"{found}: the pose detector must be an .onnx file (an RTMPose SimCC export)"
        )
    if kind == "depth" and not found.is_dir():
        raise ModelFileError(
            f"{found}: the depth detector must be a transformers depth-estimation folder "
            f"(config.json + .safetensors, e.g. depth-anything/Depth-Anything-V2-Small-hf)"
        )
    return found


def create_control_mapper(files: ControlNetFiles, device: torch.device) -> ControlMapper:
    """The function that turns an image into this ControlNet's condition image."""
    if files.type == "canny":
        return CannyMapper(files.canny_low, files.canny_high)
    assert files.detector is not None
    if files.type == "depth":
        return DepthMapper(files.detector, device)
    return PoseMapper(files.detector)


def controlnet_config_from_unet(
    unet: torch.nn.Module, conditioning_channels: tuple[int, ...]
) -> dict[str, Any]:
    """The config of a ControlNet shaped like `unet` (what a single-file ControlNet is read with)."""
    with init_empty_weights():  # only the config is wanted: allocate nothing
        model = ControlNetModel.from_unet(
            unet,
            conditioning_embedding_out_channels=conditioning_channels,
            load_weights_from_unet=False,
        )
    return dict(model.config)


def _conditioning_channels(vae_scale_factor: int) -> tuple[int, ...]:
    """ControlNet's condition encoder must downsample by the VAE's factor (8 for SD)."""
    standard = (16, 32, 96, 256)
    steps = max(1, vae_scale_factor.bit_length())  # 8 -> 4 blocks, 2 -> 2 blocks
    return standard[:steps]


def load_controlnet(path: Path, pipe: DiffusionPipeline) -> ControlNetModel:
    """A ControlNet in the pipeline's dtype, from a folder or a single .safetensors."""
    dtype = pipe.unet.dtype
    if path.is_dir():
        try:
            return ControlNetModel.from_pretrained(
                path, dtype=dtype, local_files_only=True, use_safetensors=True
            )
        except OSError as error:  # typically diffusion_pytorch_model.bin (pickle) only
            raise ModelFileError(
                f"{path}: cannot load this ControlNet folder from .safetensors ({error}); "
                f"re-save it with save_pretrained(..., safe_serialization=True); {FETCH_HINT}"
            ) from error
    check_safe_model_format(path)
    with safetensors.safe_open(path, framework="pt") as fh:
        keys = set(fh.keys())
    if not keys & CONTROLNET_MARKER_KEYS:
        raise ModelFileError(
            f"{path}: not a ControlNet (none of {', '.join(sorted(CONTROLNET_MARKER_KEYS))}); "
            f"point story.controlnet.path at a ControlNet .safetensors or folder"
        )
    config = controlnet_config_from_unet(pipe.unet, _conditioning_channels(pipe.vae_scale_factor))
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "config.json").write_text(json.dumps(config, default=list), encoding="utf-8")
        try:
            return ControlNetModel.from_single_file(
                str(path), config=tmp, dtype=dtype, local_files_only=True
            )
        except (KeyError, RuntimeError, TypeError, ValueError) as error:
            raise ModelFileError(
                f"{path}: this single-file ControlNet does not have the base model's UNet layout "
                f"({error}); use its diffusers folder (config.json + .safetensors) instead"
            ) from error


def attach_controlnet(
    pipe: DiffusionPipeline, files: ControlNetFiles, architecture: str
) -> DiffusionPipeline:
    """A ControlNet pipeline over `pipe`'s own components (nothing is loaded twice)."""
    controlnet = load_controlnet(files.path, pipe).to(pipe.device)
    control_pipe = CONTROL_PIPELINE_CLASSES[architecture].from_pipe(pipe, controlnet=controlnet)
    control_pipe.set_progress_bar_config(disable=True)
    return control_pipe
