"""The image-backend protocol and its registry (keyed by `generation.backend` in config).

Other packages add backends through `charfolio.image_backends` entry points (the demo's
tiny and reference-variation backends are declared so in charfolio's pyproject).

A backend is created once per job (the model loads once) and renders batches of
requests; every request carries its own generator seed so each image is reproducible
alone from its catalog row.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from PIL import Image

from charfolio.core.plugins import REINSTALL_HINT, load_plugin, plugin_names


@dataclass(frozen=True)
class RenderRequest:
    prompt: str
    negative_prompt: str
    generator_seed: int
    width: int
    height: int
    category: str | None = None  # scenario category; used by the reference-variation backend


class ImageBackend(Protocol):
    name: str
    model_id: str
    architecture: str  # sd15 | sdxl | reference
    dtype: str

    def render(self, requests: Sequence[RenderRequest]) -> list[Image.Image]:
        """Render a batch; the i-th image depends only on the i-th request."""
        ...

    def settings(self) -> dict[str, Any]:
        """Backend settings that, with a request, regenerate the image (stored per row)."""
        ...

    def prompt_warnings(self, prompts: Sequence[str]) -> list[str]:
        """Problems the model would hide, such as text cut off by the text encoder's limit."""
        ...


BackendFactory = Callable[[Mapping[str, Any], str | None], ImageBackend]
PLUGIN_GROUP = "charfolio.image_backends"  # entry points of other packages' backends
_REGISTRY: dict[str, BackendFactory] = {}
# Backends live in modules with heavy imports (torch, diffusers): import on first use.
_MODULES = {"diffusers": "charfolio.generation.diffusers_backend"}


def register_image_backend(name: str) -> Callable[[BackendFactory], BackendFactory]:
    def wrap(factory: BackendFactory) -> BackendFactory:
        _REGISTRY[name] = factory
        return factory

    return wrap


def create_image_backend(
    generation: Mapping[str, Any], model_cache: str | None = None
) -> ImageBackend:
    """Build the backend named by `generation['backend']` from the validated config section."""
    name = generation["backend"]
    if name not in _REGISTRY and name in _MODULES:
        importlib.import_module(_MODULES[name])
    if name not in _REGISTRY:
        plugin = load_plugin(PLUGIN_GROUP, name)
        if plugin is not None:
            _REGISTRY[name] = plugin
    if name not in _REGISTRY:
        raise ValueError(
            f"unknown generation backend {name!r}; use one of {image_backend_names()} "
            f"({REINSTALL_HINT})"
        )
    return _REGISTRY[name](generation, model_cache)


def image_backend_names() -> list[str]:
    """Every generation.backend a config may name: built in, registered, or a plugin's."""
    return sorted({*_MODULES, *_REGISTRY, *plugin_names(PLUGIN_GROUP)})
