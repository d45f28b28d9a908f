"""The model a LoRA trains on and renders with, chosen by training.backend.

A base-model source turns generation.model into the model config to load, and resolves the
IP-Adapter and ControlNet storyboards render with. `diffusers` reads them all from local
files (story.ip_adapter, story.controlnet). Other sources come from packages that declare a
`charfolio.base_models` entry point, such as the demo's `tiny`, which builds random-weight
models offline. A source is created from its backend's options: the config section named
like the backend (training.tiny for tiny), as an image backend reads generation.tiny.

Compute nodes are often offline, so a missing generation.model is a setup step
(`charfolio models`), not something a training job can fix; `require_base_model` says so
first, without importing torch. This module stays light: the Snakefile imports it.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from charfolio.core.config import ModelFileError, resolve_model_file
from charfolio.core.plugins import REINSTALL_HINT, load_plugin, plugin_names

if TYPE_CHECKING:
    from charfolio.generation.control import ControlNetFiles
    from charfolio.generation.ip_adapter import IpAdapterFiles

ModelCache = str | os.PathLike[str] | None
PLUGIN_GROUP = "charfolio.base_models"  # entry points of other packages' sources


class BaseModelSource(Protocol):
    name: str
    # True when the source builds its own IP-Adapter / ControlNet, so an unset
    # story.ip_adapter still renders reference_guided and nothing is fetched for them.
    builds_adapters: ClassVar[bool]

    def model_config(self, model_cfg: Mapping[str, Any], model_cache: ModelCache) -> dict[str, Any]:
        """The model config `load_pipeline` loads, from generation.model."""
        ...

    def ip_adapter(
        self, section: Mapping[str, Any], architecture: str, model_cache: ModelCache
    ) -> IpAdapterFiles:
        """The IP-Adapter files for story.ip_adapter `section`."""
        ...

    def controlnet(
        self, section: Mapping[str, Any], architecture: str, model_cache: ModelCache
    ) -> ControlNetFiles:
        """The ControlNet files for story.controlnet `section`."""
        ...

    def recorded_seeds(self) -> dict[str, Any]:
        """Seeds of the source's own weights, for training_config.json (none for files)."""
        ...


SourceFactory = Callable[[Mapping[str, Any]], BaseModelSource]


class DiffusersBaseModel:
    """generation.model, story.ip_adapter and story.controlnet, read from local files."""

    name = "diffusers"
    builds_adapters: ClassVar[bool] = False

    def __init__(self, options: Mapping[str, Any] | None = None) -> None:
        del options  # this source has no options of its own

    def model_config(self, model_cfg: Mapping[str, Any], model_cache: ModelCache) -> dict[str, Any]:
        return {"path": None, "config_dir": None, "vae": None, **model_cfg}

    def ip_adapter(
        self, section: Mapping[str, Any], architecture: str, model_cache: ModelCache
    ) -> IpAdapterFiles:
        from charfolio.generation.ip_adapter import resolve_ip_adapter

        return resolve_ip_adapter(section, model_cache)

    def controlnet(
        self, section: Mapping[str, Any], architecture: str, model_cache: ModelCache
    ) -> ControlNetFiles:
        from charfolio.generation.control import resolve_controlnet

        return resolve_controlnet(section, model_cache)

    def recorded_seeds(self) -> dict[str, Any]:
        return {}


_REGISTRY: dict[str, type[BaseModelSource] | SourceFactory] = {"diffusers": DiffusersBaseModel}


def base_model_factory(backend: str) -> type[BaseModelSource] | SourceFactory:
    """The class (or factory) of the source named `backend`, from the registry or a plugin."""
    if backend not in _REGISTRY:
        plugin = load_plugin(PLUGIN_GROUP, backend)
        if plugin is not None:
            _REGISTRY[backend] = plugin
    if backend not in _REGISTRY:
        raise ValueError(
            f"LoRA training needs a diffusion model: training.backend {backend!r} is not one of "
            f"{base_model_names()}; set training.backend to diffusers ({REINSTALL_HINT})"
        )
    return _REGISTRY[backend]


def base_model_names() -> list[str]:
    """Every training.backend a config may name: built in, registered, or a plugin's."""
    return sorted({*_REGISTRY, *plugin_names(PLUGIN_GROUP)})


def create_base_model(backend: str, options: Mapping[str, Any] | None = None) -> BaseModelSource:
    """The source named by training.backend, created from its options (training.<backend>)."""
    return base_model_factory(backend)(dict(options or {}))


def builds_adapters(backend: str) -> bool:
    """Whether training.backend `backend` builds its own IP-Adapter and ControlNet."""
    return bool(getattr(base_model_factory(backend), "builds_adapters", False))


def require_base_model(model_cfg: Mapping[str, Any], backend: str, model_cache: ModelCache) -> None:
    """Raise ModelFileError naming the key and `charfolio models` when a model file is missing.

    `model_cfg` is generation.model; only the diffusers source reads it from a file.
    """
    if backend != DiffusersBaseModel.name:
        return
    if not model_cfg.get("path"):
        raise ModelFileError(
            "generation.model.path is not set, and LoRA training (training.backend diffusers) "
            "trains on it; point it at a .safetensors checkpoint or a diffusers folder "
            "(relative paths are looked up in model_cache), then fetch it with `charfolio models`"
        )
    resolve_model_file(
        model_cfg["path"], model_cache, "Stable Diffusion model (generation.model.path)"
    )
    for key in ("config_dir", "vae"):
        if model_cfg.get(key):
            resolve_model_file(model_cfg[key], model_cache, f"generation.model.{key}")
