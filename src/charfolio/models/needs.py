"""The model files a config needs: one entry per file (or folder) its backends read.

Where files come from:
- `model_sources` in the config maps a name exactly as the config uses it (a file name
  relative to model_cache, "insightface/models/buffalo_l", an absolute path) to
  {url: http(s) or file URL, sha256: hex, unpack: zip}. Folders (a diffusers folder, an
  InsightFace pack) come as a zip.
- open_clip pretrained tags need no source: open_clip's own Hugging Face download puts the
  tag's .safetensors weights in model_cache, where `open_clip_weights` finds them offline.
- "package:NAME" GGUFs and dlib's models ship with pip packages: nothing to fetch.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any

from charfolio.embed.open_clip_weights import is_checkpoint_path
from charfolio.lora.base_model import builds_adapters


class Kind(Enum):
    GGUF = "a .gguf file"
    SAFETENSORS = "a .safetensors file"
    ONNX = "an .onnx file"
    CHECKPOINT = "a .safetensors file or a diffusers folder"
    FOLDER = "a folder"
    INSIGHTFACE_PACK = "an InsightFace pack folder"
    DLIB_MODELS = "a folder of dlib .dat models"
    OPEN_CLIP = "an open_clip pretrained tag"
    PACKAGE = "a pip package"


FOLDER_KINDS = frozenset({Kind.FOLDER, Kind.INSIGHTFACE_PACK, Kind.DLIB_MODELS})


@dataclass(frozen=True)
class Source:
    url: str
    sha256: str | None = None
    unpack: str | None = None


@dataclass(frozen=True)
class ModelEntry:
    """One model file (or folder) a config names."""

    key: str  # the config key that names it
    name: str  # its value there, and its key in model_sources
    kind: Kind
    model_cache: str | None
    source: Source | None = None
    in_cache: bool = True  # False: looked up by path only (faces.dlib.models_dir)
    open_clip_model: str | None = None


def config_entries(config: Mapping[str, Any]) -> list[ModelEntry]:
    """The model files the configured backends read (a validated config, defaults filled)."""
    cache = config.get("model_cache")
    sources = {
        name: Source(s["url"], s.get("sha256"), s.get("unpack"))
        for name, s in (config.get("model_sources") or {}).items()
    }
    entries: list[ModelEntry] = []

    def add(key: str, name: str | None, kind: Kind, **extra: Any) -> None:
        entries.append(ModelEntry(key, name or "", kind, cache, sources.get(name or ""), **extra))

    def add_open_clip(key: str, section: Mapping[str, Any]) -> None:
        pretrained = section.get("pretrained", "openai")
        if not pretrained:
            return  # random weights: nothing to fetch
        if is_checkpoint_path(pretrained):
            add(key, pretrained, Kind.SAFETENSORS)
        else:
            add(key, pretrained, Kind.OPEN_CLIP, open_clip_model=section.get("model", "ViT-B-32"))

    def add_story_models(story: Mapping[str, Any]) -> None:
        splitter = story["splitter"]
        if splitter["backend"] == "llama_cpp":
            path = splitter["llama_cpp"]["model_path"]
            is_package = bool(path) and path.startswith("package:")
            add("story.splitter.llama_cpp.model_path", path,
                Kind.PACKAGE if is_package else Kind.GGUF)  # fmt: skip
        if builds_adapters(config["training"]["backend"]):
            return  # the base-model source builds its IP-Adapter / ControlNet: nothing to fetch
        if story.get("ip_adapter"):
            ip = story["ip_adapter"]
            add("story.ip_adapter.path", ip["path"], Kind.FOLDER)
            if ip.get("image_encoder"):
                add("story.ip_adapter.image_encoder", ip["image_encoder"], Kind.FOLDER)
        if story.get("controlnet"):
            control = story["controlnet"]
            kind = Kind.SAFETENSORS if control["path"].endswith(".safetensors") else Kind.FOLDER
            add("story.controlnet.path", control["path"], kind)
            if control.get("detector_path"):
                # depth: a transformers folder; pose: an RTMPose-format ONNX file
                detector = Kind.ONNX if control["type"] == "pose" else Kind.FOLDER
                add("story.controlnet.detector_path", control["detector_path"], detector)

    scenarios = config["scenarios"]
    if scenarios["backend"] == "llama_cpp":
        path = scenarios["llama_cpp"]["model_path"]
        is_package = bool(path) and path.startswith("package:")
        add("scenarios.llama_cpp.model_path", path, Kind.PACKAGE if is_package else Kind.GGUF)
    generation = config["generation"]
    if generation["backend"] == "diffusers":
        model = generation["model"]
        add("generation.model.path", model["path"], Kind.CHECKPOINT)
        if model.get("config_dir"):
            add("generation.model.config_dir", model["config_dir"], Kind.FOLDER)
        if model.get("vae"):
            add("generation.model.vae", model["vae"], Kind.CHECKPOINT)
        if generation["detail_lora"].get("path"):
            add("generation.detail_lora.path", generation["detail_lora"]["path"], Kind.SAFETENSORS)
    faces = config["faces"]
    if faces["backend"] == "insightface":
        options = faces["insightface"]
        pack = f"{options['model_root'].rstrip('/')}/models/{options['name']}"
        add("faces.insightface", pack, Kind.INSIGHTFACE_PACK)
    elif faces["dlib"].get("models_dir"):
        add("faces.dlib.models_dir", faces["dlib"]["models_dir"], Kind.DLIB_MODELS, in_cache=False)
    else:
        add("faces.dlib", "package:face-recognition-models", Kind.PACKAGE)
    embeddings = config["embeddings"]
    if embeddings["backend"] == "open_clip":
        add_open_clip("embeddings.open_clip.pretrained", embeddings["open_clip"])
    captions = config.get("captions") or {}  # image_folder characters' captioner
    if captions.get("backend") == "transformers":
        add("captions.transformers.model_path", captions["transformers"]["model_path"], Kind.FOLDER)
    elif captions.get("backend") == "llama_cpp":
        for key in ("model_path", "mmproj_path"):
            add(f"captions.llama_cpp.{key}", captions["llama_cpp"][key], Kind.GGUF)
    # the checkpoint report and storyboards score images against their prompts
    add_open_clip("prompt_adherence.pretrained", config.get("prompt_adherence") or {})
    story = config.get("story") or {}
    if story.get("stories"):
        add_story_models(story)
    return entries


def unused_sources(config: Mapping[str, Any], entries: list[ModelEntry]) -> list[str]:
    used = {e.name for e in entries}
    return sorted(set(config.get("model_sources") or {}) - used)
