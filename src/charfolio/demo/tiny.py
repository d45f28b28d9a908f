"""Tiny random-weight SD1.5 / SDXL pipelines for tests and benchmarks, built offline.

The components follow diffusers' own test suite (`get_dummy_components`): a two-block
UNet, a two-block VAE and two-layer CLIP text encoders of width 32. The tokenizer is
OpenAI CLIP's real 49,408-token BPE, rebuilt from the vocabulary open_clip ships, so
prompts tokenize exactly as they would for a production model.

The `tiny` backend saves the pipeline once into the model cache and then loads it through
`DiffusersBackend`, the same code path as a production checkpoint.
"""

from __future__ import annotations

import gzip
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import safetensors.torch
import torch
from diffusers import (
    AutoencoderKL,
    ControlNetModel,
    DiffusionPipeline,
    EulerDiscreteScheduler,
    PNDMScheduler,
    StableDiffusionPipeline,
    StableDiffusionXLPipeline,
    UNet2DConditionModel,
)
from diffusers.models.embeddings import ImageProjection
from diffusers.utils import convert_state_dict_to_diffusers
from open_clip.tokenizer import bytes_to_unicode, default_bpe
from peft import LoraConfig, get_peft_model_state_dict
from transformers import (
    CLIPTextConfig,
    CLIPTextModel,
    CLIPTextModelWithProjection,
    CLIPTokenizer,
    CLIPVisionConfig,
    CLIPVisionModelWithProjection,
)

from charfolio.core.atomic import make_staging_dir
from charfolio.demo.tiny_cache import tiny_root
from charfolio.generation.diffusers_backend import DiffusersBackend
from charfolio.generation.pipelines import PIPELINE_CLASSES

CLIP_VOCAB_SIZE = 49408
CLIP_MAX_LENGTH = 77
_BOS, _EOS = "<|startoftext|>", "<|endoftext|>"

_UNET_COMMON: dict[str, Any] = {
    "block_out_channels": (32, 64),
    "layers_per_block": 2,
    "sample_size": 32,
    "in_channels": 4,
    "out_channels": 4,
    "down_block_types": ("DownBlock2D", "CrossAttnDownBlock2D"),
    "up_block_types": ("CrossAttnUpBlock2D", "UpBlock2D"),
}
UNET_CONFIGS: dict[str, dict[str, Any]] = {
    "sd15": {**_UNET_COMMON, "cross_attention_dim": 32},
    "sdxl": {
        **_UNET_COMMON,
        "attention_head_dim": (2, 4),
        "use_linear_projection": True,
        "transformer_layers_per_block": (1, 2),
        # SDXL conditions on the pooled text embedding plus six size/crop numbers.
        "addition_embed_type": "text_time",
        "addition_time_embed_dim": 8,
        "projection_class_embeddings_input_dim": 6 * 8 + 32,  # time ids + text_encoder_2 projection
        "cross_attention_dim": 32 + 32,  # both text encoders' hidden states, concatenated
    },
}
VAE_CONFIG: dict[str, Any] = {
    "block_out_channels": (32, 64),
    "in_channels": 3,
    "out_channels": 3,
    "down_block_types": ("DownEncoderBlock2D", "DownEncoderBlock2D"),
    "up_block_types": ("UpDecoderBlock2D", "UpDecoderBlock2D"),
    "latent_channels": 4,
}
# The production models' noise schedules, so every sampler sees realistic betas.
_SCHEDULER_BETAS: dict[str, Any] = {
    "beta_start": 0.00085,
    "beta_end": 0.012,
    "beta_schedule": "scaled_linear",
}


def write_clip_tokenizer(directory: str | os.PathLike[str]) -> Path:
    """Write OpenAI CLIP's vocab.json and merges.txt, rebuilt from open_clip's BPE file."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    with gzip.open(default_bpe(), "rt", encoding="utf-8") as fh:
        lines = fh.read().split("\n")
    # The same slice as CLIP's SimpleTokenizer: 48,894 merges after the version line.
    merges = lines[1 : CLIP_VOCAB_SIZE - 512 - 2 + 1]
    alphabet = list(bytes_to_unicode().values())
    tokens = [
        *alphabet,
        *(a + "</w>" for a in alphabet),
        *(m.replace(" ", "") for m in merges),
        _BOS,
        _EOS,
    ]
    if len(tokens) != CLIP_VOCAB_SIZE:
        raise RuntimeError(
            f"{default_bpe()}: rebuilt {len(tokens)} CLIP tokens, expected {CLIP_VOCAB_SIZE}"
        )
    (directory / "vocab.json").write_text(
        json.dumps({t: i for i, t in enumerate(tokens)}), encoding="utf-8"
    )
    (directory / "merges.txt").write_text(
        "#version: 0.2\n" + "\n".join(merges) + "\n", encoding="utf-8"
    )
    config = {
        "tokenizer_class": "CLIPTokenizer",
        "model_max_length": CLIP_MAX_LENGTH,
        "bos_token": _BOS,
        "eos_token": _EOS,
        "unk_token": _EOS,
        "pad_token": _EOS,
    }
    (directory / "tokenizer_config.json").write_text(json.dumps(config, indent=2), encoding="utf-8")
    return directory


def load_clip_tokenizer() -> CLIPTokenizer:
    # from_pretrained on a folder: in transformers 5, CLIPTokenizer(vocab_file=...) ignores the files.
    with tempfile.TemporaryDirectory() as tmp:
        return CLIPTokenizer.from_pretrained(write_clip_tokenizer(tmp))


def _text_config() -> CLIPTextConfig:
    return CLIPTextConfig(
        vocab_size=CLIP_VOCAB_SIZE,
        max_position_embeddings=CLIP_MAX_LENGTH,
        hidden_size=32,
        intermediate_size=37,
        num_hidden_layers=2,
        num_attention_heads=4,
        projection_dim=32,
        hidden_act="gelu",
        bos_token_id=CLIP_VOCAB_SIZE - 2,
        eos_token_id=CLIP_VOCAB_SIZE - 1,
        pad_token_id=CLIP_VOCAB_SIZE - 1,
    )


def build_tiny_unet(architecture: str) -> UNet2DConditionModel:
    """A tiny UNet with random weights from the global torch RNG."""
    if architecture not in UNET_CONFIGS:
        raise ValueError(
            f"unknown architecture {architecture!r}; use one of {', '.join(UNET_CONFIGS)}"
        )
    return UNet2DConditionModel(**UNET_CONFIGS[architecture])


def build_tiny_pipeline(architecture: str, weights_seed: int) -> DiffusionPipeline:
    """A tiny random-weight pipeline; the same seed gives the same weights."""
    tokenizer = load_clip_tokenizer()
    # fork_rng: building the model must not move the caller's global RNG.
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(weights_seed)
        unet = build_tiny_unet(architecture)
        vae = AutoencoderKL(**VAE_CONFIG)
        text_encoder = CLIPTextModel(_text_config())
        if architecture == "sd15":
            return StableDiffusionPipeline(
                vae=vae,
                text_encoder=text_encoder,
                tokenizer=tokenizer,
                unet=unet,
                scheduler=PNDMScheduler(
                    **_SCHEDULER_BETAS, skip_prk_steps=True, set_alpha_to_one=False, steps_offset=1
                ),
                safety_checker=None,
                feature_extractor=None,
                requires_safety_checker=False,
            )
        return StableDiffusionXLPipeline(
            vae=vae,
            text_encoder=text_encoder,
            text_encoder_2=CLIPTextModelWithProjection(_text_config()),
            tokenizer=tokenizer,
            tokenizer_2=tokenizer,
            unet=unet,
            scheduler=EulerDiscreteScheduler(
                **_SCHEDULER_BETAS, steps_offset=1, timestep_spacing="leading"
            ),
            add_watermarker=False,
        )


def ensure_tiny_model(architecture: str, weights_seed: int, root: str | os.PathLike[str]) -> Path:
    """The diffusers folder `root/tiny-{architecture}-seed{weights_seed}`, saved once."""
    return build_folder_once(
        Path(root) / f"tiny-{architecture}-seed{weights_seed}",
        lambda tmp: build_tiny_pipeline(architecture, weights_seed).save_pretrained(
            tmp, safe_serialization=True
        ),
    )


def build_folder_once(folder: Path, build: Callable[[Path], object]) -> Path:
    """`folder`, made by `build(tmp)` the first time it is asked for.

    It is written into a temporary folder and renamed into place, so concurrent jobs and
    killed jobs never leave (or read) a half-written model.
    """
    if folder.is_dir():
        return folder
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = make_staging_dir(folder.parent, prefix=f".{folder.name}.")
    try:
        build(tmp)
        os.rename(tmp, folder)
    except OSError:
        if not folder.is_dir():  # another job renamed its copy into place first: use that one
            raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return folder


def write_tiny_lora(
    path: str | os.PathLike[str],
    architecture: str = "sd15",
    seed: int = 0,
    rank: int = 4,
    scale: float = 1.0,
) -> Path:
    """A LoRA .safetensors (diffusers keys) for the tiny UNet, with random non-zero weights.

    PEFT starts lora_B at zero (a no-op adapter); it is filled with noise of std `scale`
    here so that the LoRA visibly changes images.
    """
    path = Path(path)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        unet = build_tiny_unet(architecture)
        unet.add_adapter(
            LoraConfig(r=rank, lora_alpha=rank, target_modules=["to_q", "to_k", "to_v", "to_out.0"])
        )
        with torch.no_grad():
            for name, param in unet.named_parameters():
                if "lora_B" in name:
                    param.normal_(0.0, scale)
    layers = convert_state_dict_to_diffusers(get_peft_model_state_dict(unet))
    path.parent.mkdir(parents=True, exist_ok=True)
    PIPELINE_CLASSES[architecture].save_lora_weights(
        path.parent, unet_lora_layers=layers, weight_name=path.name, safe_serialization=True
    )
    return path


# The layout of h94/IP-Adapter, which diffusers' load_ip_adapter expects.
TINY_IP_ADAPTER_SUBFOLDER = "models"
TINY_IP_ADAPTER_WEIGHTS = "ip-adapter_tiny.safetensors"
IP_ADAPTER_TOKENS = 4  # the plain IP-Adapter's image tokens per reference image


def _vision_config() -> CLIPVisionConfig:
    return CLIPVisionConfig(
        hidden_size=32,
        intermediate_size=37,
        projection_dim=32,
        num_hidden_layers=2,
        num_attention_heads=4,
        image_size=32,
        patch_size=4,
    )


def tiny_ip_adapter_state_dict(unet: UNet2DConditionModel, image_embed_dim: int) -> dict[str, Any]:
    """An IP-Adapter for `unet` with random weights from the global torch RNG.

    As in IP-Adapter's checkpoints: `image_proj` maps the image encoder's projection to
    IP_ADAPTER_TOKENS cross-attention tokens; `ip_adapter` holds to_k_ip / to_v_ip for every
    cross-attention layer, numbered 1, 3, 5... in the UNet's attention-processor order.
    """
    cross_dim = unet.config.cross_attention_dim
    projection = ImageProjection(
        cross_attention_dim=cross_dim,
        image_embed_dim=image_embed_dim,
        num_image_text_embeds=IP_ADAPTER_TOKENS,
    )
    image_proj = {k.replace("image_embeds", "proj"): v for k, v in projection.state_dict().items()}
    ip_layers: dict[str, torch.Tensor] = {}
    key_id = 1
    for name in unet.attn_processors:
        if name.endswith("attn1.processor"):
            continue  # self-attention gets no image tokens
        hidden = _attention_hidden_size(unet, name)
        for kind in ("to_k_ip", "to_v_ip"):
            # Unit-variance weights (not nn.Linear's small init): references must visibly
            # change tiny renders for the tests to mean anything.
            ip_layers[f"{key_id}.{kind}.weight"] = torch.randn(hidden, cross_dim)
        key_id += 2
    return {"image_proj": image_proj, "ip_adapter": ip_layers}


def _attention_hidden_size(unet: UNet2DConditionModel, processor_name: str) -> int:
    channels = list(unet.config.block_out_channels)
    block = processor_name.split(".")[0]
    if block == "mid_block":
        return channels[-1]
    index = int(processor_name.split(".")[1])
    return list(reversed(channels))[index] if block == "up_blocks" else channels[index]


def ensure_tiny_ip_adapter(
    architecture: str, weights_seed: int, root: str | os.PathLike[str]
) -> Path:
    """`root/tiny-ip-adapter-{architecture}-seed{weights_seed}` in h94/IP-Adapter's layout.

    `models/ip-adapter_tiny.safetensors` ("image_proj." / "ip_adapter." keys) fits the tiny
    UNet of the same architecture; `models/image_encoder/` is a tiny CLIP vision model.
    """

    def build(tmp: Path) -> None:
        models = tmp / TINY_IP_ADAPTER_SUBFOLDER
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(weights_seed + 1)  # not the UNet's own weights
            encoder = CLIPVisionModelWithProjection(_vision_config())
            state = tiny_ip_adapter_state_dict(
                build_tiny_unet(architecture), encoder.config.projection_dim
            )
        encoder.save_pretrained(models / "image_encoder", safe_serialization=True)
        flat = {f"{part}.{k}": v.contiguous() for part, d in state.items() for k, v in d.items()}
        safetensors.torch.save_file(flat, models / TINY_IP_ADAPTER_WEIGHTS)

    return build_folder_once(
        Path(root) / f"tiny-ip-adapter-{architecture}-seed{weights_seed}", build
    )


def build_tiny_controlnet(architecture: str, weights_seed: int) -> ControlNetModel:
    """A ControlNet copied from the tiny UNet of `weights_seed`, its zero layers made random.

    ControlNet starts its output convolutions at zero (a no-op); their weights get noise
    here (biases stay zero, so the residuals follow the control image), as write_tiny_lora
    does for lora_B. The conditioning embedding downsamples by 2, the tiny VAE's factor.
    Its layers that are not copied from the UNet (the conditioning embedding) are drawn from
    the seed too, so every build of a seed is the same model.
    """
    unet = build_tiny_pipeline(architecture, weights_seed).unet
    with torch.random.fork_rng(devices=[]), torch.no_grad():
        torch.manual_seed(weights_seed + 2)
        controlnet = ControlNetModel.from_unet(unet, conditioning_embedding_out_channels=(16, 32))
        for param in controlnet.parameters():
            if param.dim() > 1 and not param.any():
                param.normal_(0.0, 1.0)
    return controlnet


# In the folder name: a cache built by version 1 (a random conditioning embedding) is not
# reused, so an old checkout's model cache renders what a fresh clone renders.
TINY_CONTROLNET_VERSION = 2


def ensure_tiny_controlnet(
    architecture: str, weights_seed: int, root: str | os.PathLike[str]
) -> Path:
    """The folder `root/tiny-controlnet-{architecture}-seed{weights_seed}-v{version}`."""
    return build_folder_once(
        Path(root)
        / f"tiny-controlnet-{architecture}-seed{weights_seed}-v{TINY_CONTROLNET_VERSION}",
        lambda tmp: build_tiny_controlnet(architecture, weights_seed).save_pretrained(
            tmp, safe_serialization=True
        ),
    )


def create_tiny_backend(generation: Mapping[str, Any], model_cache: str | None) -> DiffusersBackend:
    """A DiffusersBackend over a tiny model of `generation.model.architecture` in the cache.

    The `tiny` image backend (a `charfolio.image_backends` entry point); its weights seed is
    generation.tiny.weights_seed.
    """
    architecture = generation["model"]["architecture"]
    folder = ensure_tiny_model(
        architecture, generation["tiny"]["weights_seed"], tiny_root(model_cache)
    )
    model = {
        "path": str(folder.resolve()),
        "architecture": architecture,
        "config_dir": None,
        "vae": None,
    }
    return DiffusersBackend({**generation, "model": model}, model_cache, name="tiny")
