"""Captioners: a protocol and a registry keyed by `captions.backend` in config.

- template: fills a template from what the pipeline knows ({token}, {class_word},
  {shot_type} as words, {prompt}, {scenario}); no model.
- transformers: a local vision-language captioning model folder (BLIP, GIT, ...) through
  transformers' pipeline ("image-to-text", or "image-text-to-text" in transformers 5);
  only .safetensors weights are loaded.
- llama_cpp: a local multimodal GGUF and its mmproj (CLIP projector) through llama-cpp's
  chat handlers (LLaVA 1.5/1.6, Moondream, ...), asked for the clothing, pose and setting.

Model captioners describe the image; the caption is then `template` with that text as
{description} (default "{token} {class_word}, {shot_type}, {description}"), so the token and
class word lead every caption. Run `captions.lint.lint_caption` on the result: models name
hair colour and age readily, and those words compete with the token.

The `captions` config section, as the backends read it (absent or null keys take these
defaults):

    backend: template
    template: "{token} {class_word}, {shot_type}"   # model backends: DEFAULT_MODEL_TEMPLATE
    transformers: {model_path: null, prompt: "", max_new_tokens: 40, device: -1}
    llama_cpp: {model_path: null, mmproj_path: null, chat_handler: llava15, n_ctx: 4096,
                max_tokens: 60, seed: 0, instruction: INSTRUCTION}
"""

from __future__ import annotations

import base64
import importlib
import io
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from PIL import Image

from charfolio.core.config import ModelFileError, resolve_model_file
from charfolio.curate.tiers import fill_caption_template
from charfolio.faces.shots import SHOT_PHRASES

TEMPLATE_FIELDS = ("token", "class_word", "shot_type", "prompt", "scenario")
DEFAULT_TEMPLATE = "{token} {class_word}, {shot_type}"
DEFAULT_MODEL_TEMPLATE = "{token} {class_word}, {shot_type}, {description}"
# Asks for what should vary in a LoRA's data, and not for the traits the token must carry.
INSTRUCTION = (
    "Describe this photo in one short phrase: the clothing, the pose or action and the "
    "setting. Do not describe the face, hair, eyes, skin, age or ethnicity."
)
# llama-cpp chat handler names (llama_cpp.llama_chat_format) by config name.
CHAT_HANDLERS = {
    "llava15": "Llava15ChatHandler",
    "llava16": "Llava16ChatHandler",
    "moondream": "MoondreamChatHandler",
    "nanollava": "NanoLlavaChatHandler",
    "minicpmv26": "MiniCPMv26ChatHandler",
    "qwen25vl": "Qwen25VLChatHandler",
}


@dataclass(frozen=True)
class CaptionContext:
    """What the pipeline knows of an image besides its pixels."""

    token: str
    class_word: str
    shot_type: str | None = None  # a shots.SHOT_TYPES name; None when unknown
    prompt: str = ""
    scenario: str | None = None


class Captioner(Protocol):
    name: str

    def caption(self, image: np.ndarray, context: CaptionContext) -> str:
        """The caption of an HxWx3 uint8 RGB image."""
        ...


def render(template: str, context: CaptionContext, description: str | None = None) -> str:
    """Fill a template; empty fields leave no dangling commas or doubled spaces."""
    values = {
        "token": context.token,
        "class_word": context.class_word,
        "shot_type": SHOT_PHRASES.get(context.shot_type or "", ""),
        "prompt": context.prompt,
        "scenario": (context.scenario or "").strip(" ,"),
    }
    if description is not None:
        values["description"] = description
    return fill_caption_template(template, values)


def clean_description(text: str, prompt: str = "") -> str:
    """A model's output as a caption phrase: the echoed prompt, final period and case removed."""
    text = text.strip()
    if prompt and text.lower().startswith(prompt.strip().lower()):
        text = text[len(prompt.strip()) :]
    text = re.sub(r"\s+", " ", text).strip(" .,\n")
    return text[:1].lower() + text[1:]


CaptionerFactory = Callable[[Mapping[str, Any], str | None], Captioner]
_REGISTRY: dict[str, CaptionerFactory] = {}


def register_captioner(name: str) -> Callable[[CaptionerFactory], CaptionerFactory]:
    def wrap(factory: CaptionerFactory) -> CaptionerFactory:
        _REGISTRY[name] = factory
        return factory

    return wrap


def create_captioner(captions: Mapping[str, Any], model_cache: str | None = None) -> Captioner:
    """Build (and load the model of) the captioner named by `captions['backend']`."""
    name = captions.get("backend", "template")
    if name not in _REGISTRY:
        raise ValueError(f"unknown captions backend {name!r}; use one of {sorted(_REGISTRY)}")
    return _REGISTRY[name](captions, model_cache)


class TemplateCaptioner:
    name = "template"

    def __init__(self, template: str = DEFAULT_TEMPLATE) -> None:
        render(template, CaptionContext("t", "c"))  # unknown fields fail now, not per image
        self.template = template

    def caption(self, image: np.ndarray, context: CaptionContext) -> str:
        return render(self.template, context)


@register_captioner("template")
def _template(captions: Mapping[str, Any], model_cache: str | None) -> TemplateCaptioner:
    return TemplateCaptioner(captions.get("template") or DEFAULT_TEMPLATE)


def _check_model_template(template: str) -> str:
    render(template, CaptionContext("t", "c"), description="d")
    if "{description}" not in template:
        raise ValueError(
            f"caption template {template!r} for a captioning model has no {{description}}; "
            f"add it where the model's words go"
        )
    return template


def model_folder(model_path: str | None, model_cache: str | None) -> Path:
    """A transformers model folder with a config and .safetensors weights, or a clear error."""
    if not model_path:
        raise ModelFileError(
            "captions.transformers.model_path is not set; point it at a local captioning model "
            "folder (for example BLIP saved with save_pretrained), or use captions.backend: "
            "template"
        )
    path = resolve_model_file(model_path, model_cache, "captioning model folder")
    if not path.is_dir() or not (path / "config.json").is_file():
        raise ModelFileError(
            f"{path} is not a transformers model folder (no config.json); point "
            f"captions.transformers.model_path at the folder save_pretrained() wrote"
        )
    if not any(path.glob("*.safetensors")):
        raise ModelFileError(
            f"{path} has no .safetensors weights; pickle weights (.bin) are never loaded. "
            f"Re-save the model with save_pretrained(safe_serialization=True)"
        )
    return path


class TransformersCaptioner:
    """A local captioning model through transformers' pipeline; greedy, so deterministic."""

    name = "transformers"

    def __init__(
        self,
        model_path: str | None,
        model_cache: str | None = None,
        prompt: str = "",
        max_new_tokens: int = 40,
        device: int | str = -1,
        template: str = DEFAULT_MODEL_TEMPLATE,
    ) -> None:
        self.template = _check_model_template(template)
        self.path = model_folder(model_path, model_cache)
        try:
            transformers = importlib.import_module("transformers")
        except ImportError as error:
            raise ImportError(
                "captions.backend transformers needs transformers and torch: "
                "`pip install charfolio[torch]`"
            ) from error
        supported = transformers.pipelines.get_supported_tasks()
        # transformers 5 folded "image-to-text" into "image-text-to-text".
        self.task = "image-to-text" if "image-to-text" in supported else "image-text-to-text"
        try:
            self._pipe = transformers.pipeline(
                self.task,
                model=str(self.path),
                device=device,
                model_kwargs={"use_safetensors": True},
            )
        except (OSError, ValueError, KeyError) as error:
            raise ModelFileError(
                f"{self.path}: transformers could not load a captioning model from it "
                f"({type(error).__name__}: {error}); check that it is a complete "
                f"save_pretrained() folder of an image-to-text model (BLIP, GIT, ...)"
            ) from error
        self.prompt = prompt
        self.max_new_tokens = max_new_tokens

    def describe(self, image: np.ndarray) -> str:
        picture = Image.fromarray(image)
        if self.task == "image-to-text":
            kwargs: dict[str, Any] = {"prompt": self.prompt} if self.prompt else {}
            out = self._pipe(picture, max_new_tokens=self.max_new_tokens, **kwargs)
        else:
            out = self._pipe(images=picture, text=self.prompt, max_new_tokens=self.max_new_tokens)
        return clean_description(str(out[0]["generated_text"]), self.prompt)

    def caption(self, image: np.ndarray, context: CaptionContext) -> str:
        return render(self.template, context, self.describe(image))


@register_captioner("transformers")
def _transformers(captions: Mapping[str, Any], model_cache: str | None) -> TransformersCaptioner:
    options = captions.get("transformers") or {}
    return TransformersCaptioner(
        options.get("model_path"),
        model_cache,
        prompt=str(options.get("prompt", "")),
        max_new_tokens=int(options.get("max_new_tokens", 40)),
        device=options.get("device", -1),
        template=captions.get("template") or DEFAULT_MODEL_TEMPLATE,
    )


def gguf_file(path: str | None, model_cache: str | None, what: str, key: str) -> Path:
    """A .gguf file that starts with the GGUF magic, or an error naming it and the fix."""
    if not path:
        raise ModelFileError(f"captions.llama_cpp.{key} is not set; point it at the {what} .gguf")
    found = resolve_model_file(path, model_cache, f"{what} (captions.llama_cpp.{key})")
    if not found.is_file() or found.suffix.lower() != ".gguf":
        raise ModelFileError(
            f"{found}: the {what} must be a .gguf file; fix captions.llama_cpp.{key}"
        )
    with open(found, "rb") as fh:
        magic = fh.read(4)
    if magic != b"GGUF":
        raise ModelFileError(
            f"{found} is not a GGUF file (it starts with {magic!r}, not b'GGUF'); re-download "
            f"or re-convert the {what}"
        )
    return found


def _png_data_uri(image: np.ndarray) -> str:
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


class LlamaCppCaptioner:
    """A local multimodal GGUF (+ mmproj) through llama-cpp's chat handlers; temperature 0."""

    name = "llama_cpp"

    def __init__(
        self,
        model_path: str | None,
        mmproj_path: str | None,
        model_cache: str | None = None,
        chat_handler: str = "llava15",
        n_ctx: int = 4096,
        max_tokens: int = 60,
        seed: int = 0,
        instruction: str = INSTRUCTION,
        template: str = DEFAULT_MODEL_TEMPLATE,
    ) -> None:
        self.template = _check_model_template(template)
        if chat_handler not in CHAT_HANDLERS:
            raise ValueError(
                f"unknown captions.llama_cpp.chat_handler {chat_handler!r}; "
                f"use one of {sorted(CHAT_HANDLERS)}"
            )
        self.model_path = gguf_file(model_path, model_cache, "multimodal model", "model_path")
        self.mmproj_path = gguf_file(mmproj_path, model_cache, "mmproj projector", "mmproj_path")
        try:
            llama_cpp = importlib.import_module("llama_cpp")
            formats = importlib.import_module("llama_cpp.llama_chat_format")
        except ImportError as error:
            raise ImportError(
                "captions.backend llama_cpp needs llama-cpp-python: `pip install charfolio[llm]`"
            ) from error
        handler_class = getattr(formats, CHAT_HANDLERS[chat_handler], None)
        if handler_class is None:
            raise ValueError(
                f"this llama-cpp-python has no {CHAT_HANDLERS[chat_handler]}; upgrade it or "
                f"choose another captions.llama_cpp.chat_handler"
            )
        handler = handler_class(clip_model_path=str(self.mmproj_path), verbose=False)
        try:
            self._llm = llama_cpp.Llama(
                model_path=str(self.model_path),
                chat_handler=handler,
                n_ctx=n_ctx,
                seed=seed,
                verbose=False,
            )
        except ValueError as error:
            raise ModelFileError(
                f"{self.model_path}: llama.cpp could not load it ({error}); check the file is a "
                f"complete GGUF model"
            ) from error
        # Handlers load the projector lazily on the first image; load it now so a wrong
        # mmproj fails here, naming the file, and not on the first image of a long job.
        init = getattr(handler, "_init_mtmd_context", None)
        if init is not None:
            try:
                init(self._llm)
            except ValueError as error:
                raise ModelFileError(
                    f"{self.mmproj_path}: llama.cpp could not load it as the vision projector "
                    f"of {self.model_path.name} ({error}); use the mmproj file released with "
                    f"that model"
                ) from error
        self.max_tokens = max_tokens
        self.seed = seed
        self.instruction = instruction

    def describe(self, image: np.ndarray) -> str:
        messages = [
            {
                "role": "user",
                "content": [
                    {"type": "image_url", "image_url": {"url": _png_data_uri(image)}},
                    {"type": "text", "text": self.instruction},
                ],
            }
        ]
        out = self._llm.create_chat_completion(
            messages=messages, max_tokens=self.max_tokens, temperature=0.0, seed=self.seed
        )
        return clean_description(str(out["choices"][0]["message"]["content"] or ""))

    def caption(self, image: np.ndarray, context: CaptionContext) -> str:
        return render(self.template, context, self.describe(image))


@register_captioner("llama_cpp")
def _llama_cpp(captions: Mapping[str, Any], model_cache: str | None) -> LlamaCppCaptioner:
    options = captions.get("llama_cpp") or {}
    return LlamaCppCaptioner(
        options.get("model_path"),
        options.get("mmproj_path"),
        model_cache,
        chat_handler=str(options.get("chat_handler", "llava15")),
        n_ctx=int(options.get("n_ctx", 4096)),
        max_tokens=int(options.get("max_tokens", 60)),
        seed=int(options.get("seed", 0)),
        instruction=str(options.get("instruction") or INSTRUCTION),
        template=captions.get("template") or DEFAULT_MODEL_TEMPLATE,
    )
