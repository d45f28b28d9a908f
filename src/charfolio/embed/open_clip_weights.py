"""Where open_clip's weights come from: a local checkpoint path, or a pretrained tag's
.safetensors file in model_cache (put there by `charfolio models`), found without network.

The embedder loads through these, and `charfolio models` checks and fetches through them,
so both agree on which file a tag means.
"""

from __future__ import annotations

import os
from pathlib import Path

from charfolio.core.config import (
    PICKLE_HINT,
    PICKLE_SUFFIXES,
    SAFE_MODEL_SUFFIXES,
    ConfigError,
    ModelFileError,
)


def is_checkpoint_path(pretrained: str) -> bool:
    """Whether `pretrained` names a checkpoint file (by suffix or a folder part), not a tag."""
    suffix = Path(pretrained).suffix.lower()
    return (
        suffix in SAFE_MODEL_SUFFIXES + PICKLE_SUFFIXES or "/" in pretrained or "\\" in pretrained
    )


def open_clip_source(model: str, tag: str) -> tuple[str, str]:
    """(Hugging Face repo, .safetensors file) of an open_clip pretrained tag.

    Mirrors open_clip's own choice (its `hf_hub` entry, preferring the .safetensors twin of
    the pickle file name). An unknown tag is a ConfigError; a tag published only in a pickle
    format is a ModelFileError.
    """
    import open_clip

    cfg = open_clip.get_pretrained_cfg(model.replace("/", "-"), tag)
    if not cfg:
        known = ", ".join(open_clip.list_pretrained_tags_by_model(model)) or "none"
        raise ConfigError(
            f"embeddings.open_clip.pretrained: {tag!r} is not an open_clip pretrained tag of "
            f"{model} (known: {known}); use one of those, a local .safetensors path, or null"
        )
    repo, filename = os.path.split(cfg.get("hf_hub", ""))
    if filename in ("", "open_clip_pytorch_model.bin"):
        filename = "open_clip_model.safetensors"
    elif Path(filename).suffix in (".bin", ".pth"):
        filename = f"{Path(filename).stem}.safetensors"
    if not repo or not filename.endswith(".safetensors"):
        raise ModelFileError(
            f"open_clip {model} {tag!r} is only published in a pickle or numpy format "
            f"({cfg.get('url') or cfg.get('hf_hub')}); {PICKLE_HINT} via "
            f"embeddings.open_clip.pretrained"
        )
    return repo, filename


def cached_hub_file(repo: str, filename: str, model_cache: str | None) -> Path | None:
    """The file's snapshot path in a Hugging Face cache folder (None when absent); no network."""
    from huggingface_hub import try_to_load_from_cache

    found = try_to_load_from_cache(repo, filename, cache_dir=model_cache)  # reads disk only
    return Path(found) if isinstance(found, str) else None


def open_clip_weights(model: str, tag: str, model_cache: str | None) -> Path:
    """The tag's .safetensors weights in model_cache, found without any network access."""
    repo, filename = open_clip_source(model, tag)
    found = cached_hub_file(repo, filename, model_cache)
    if found is None:
        raise ModelFileError(
            f"open_clip weights for {model} {tag!r} ({repo}/{filename}) are not in model_cache "
            f"{model_cache}. Fetch the config's model files on a node with internet access "
            f"with `charfolio models --config <your config>`, or fix model_cache."
        )
    return found
