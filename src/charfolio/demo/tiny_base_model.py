"""training.backend `tiny`: LoRAs train and render on a tiny random-weight model, offline.

The `charfolio.base_models` entry point `tiny`. Its option is training.tiny.weights_seed:
the same seed builds the same UNet, IP-Adapter and ControlNet, into the model cache's
`tiny/` folder, so the real diffusers code paths run without any model file. The
configured IP-Adapter and ControlNet paths are ignored; a configured depth / pose detector
is still used, and a tiny one is built when none is set.

Imported by the Snakefile (to ask `builds_adapters`): torch-heavy modules load in methods.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from charfolio.demo.tiny_cache import tiny_root
from charfolio.lora.base_model import ModelCache

if TYPE_CHECKING:
    from charfolio.generation.control import ControlNetFiles
    from charfolio.generation.ip_adapter import IpAdapterFiles


class TinyBaseModel:
    name = "tiny"
    builds_adapters: ClassVar[bool] = True

    def __init__(self, options: Mapping[str, Any]) -> None:
        self.weights_seed = int(options.get("weights_seed", 0))

    def model_config(self, model_cfg: Mapping[str, Any], model_cache: ModelCache) -> dict[str, Any]:
        """The tiny model of generation.model's architecture, built once into the cache."""
        from charfolio.demo.tiny import ensure_tiny_model

        architecture = model_cfg.get("architecture", "sd15")
        folder = ensure_tiny_model(architecture, self.weights_seed, tiny_root(model_cache))
        return {"path": str(folder.resolve()), "architecture": architecture, "config_dir": None,
                "vae": None}  # fmt: skip

    def ip_adapter(
        self, section: Mapping[str, Any], architecture: str, model_cache: ModelCache
    ) -> IpAdapterFiles:
        """A tiny IP-Adapter for the tiny UNet; only story.ip_adapter.scale is used."""
        from charfolio.demo.tiny import (
            TINY_IP_ADAPTER_SUBFOLDER,
            TINY_IP_ADAPTER_WEIGHTS,
            ensure_tiny_ip_adapter,
        )
        from charfolio.generation.ip_adapter import IpAdapterFiles, ip_adapter_scale

        scale = ip_adapter_scale(section)
        folder = ensure_tiny_ip_adapter(architecture, self.weights_seed, tiny_root(model_cache))
        models = folder / TINY_IP_ADAPTER_SUBFOLDER
        return IpAdapterFiles(
            models / TINY_IP_ADAPTER_WEIGHTS, models / "image_encoder", scale, built_by_source=True
        )

    def controlnet(
        self, section: Mapping[str, Any], architecture: str, model_cache: ModelCache
    ) -> ControlNetFiles:
        """A tiny ControlNet for the tiny UNet, and a tiny detector unless one is configured."""
        from charfolio.demo.tiny import ensure_tiny_controlnet
        from charfolio.demo.tiny_detectors import ensure_tiny_depth_model, ensure_tiny_pose_model
        from charfolio.generation.control import (
            ControlNetFiles,
            control_settings,
            resolve_detector,
        )

        common = control_settings(section)
        kind, root = common["type"], tiny_root(model_cache)
        if kind == "canny" or section.get("detector_path"):
            detector = resolve_detector(kind, section.get("detector_path"), model_cache)
        elif kind == "depth":
            detector = ensure_tiny_depth_model(root)
        else:
            detector = ensure_tiny_pose_model(root)
        path = ensure_tiny_controlnet(architecture, self.weights_seed, root)
        return ControlNetFiles(path=path, detector=detector, built_by_source=True, **common)

    def recorded_seeds(self) -> dict[str, Any]:
        return {"tiny_weights_seed": self.weights_seed}
