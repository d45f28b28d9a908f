"""The keys a training preset may set: each one's default, kind, allowed values and help.

`FIELDS` holds the top-level keys, `VALIDATION_FIELDS`, `DATA_MIX_FIELDS` and
`PHASE_FIELDS` those of the nested sections; `charfolio.lora.presets` checks presets
against them.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from charfolio.generation.samplers import LR_SCHEDULER_NAMES, SAMPLER_NAMES

_ATTN = [f"{attn}.{proj}" for attn in ("attn1", "attn2") for proj in ("to_q", "to_k", "to_v")]
_ATTN += ["attn1.to_out.0", "attn2.to_out.0"]
# Named sets of UNet module-name suffixes (PEFT matches a target against the end of a name).
TARGET_MODULE_SETS: dict[str, tuple[str, ...]] = {
    "ATTN": tuple(_ATTN),
    "ATTN_EXT_FF": (*_ATTN, "ff.net.0.proj", "ff.net.2"),
}
TEXT_ENCODER_TARGETS = ("q_proj", "k_proj", "v_proj", "out_proj")  # CLIP self-attention

LR_SCHEDULERS = LR_SCHEDULER_NAMES
OPTIMIZERS = ("adamw8bit", "adamw")
MIXED_PRECISION = ("auto", "no", "fp16", "bf16")
SAVE_DTYPES = ("float32", "float16", "bfloat16")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")  # used in file names


@dataclass(frozen=True)
class Field:
    """One preset key: its default, its kind and the check its value must pass."""

    default: Any
    kind: str  # int | number | bool | str | str_list | int_list | str_or_list | mapping | phases
    help: str
    nullable: bool = False
    choices: tuple[Any, ...] | None = None
    check: Callable[[Any], bool] | None = None
    rule: str = ""  # the check, in words, for the error message


def _positive(v: Any) -> bool:
    return v > 0


def _non_negative(v: Any) -> bool:
    return v >= 0


VALIDATION_FIELDS: dict[str, Field] = {
    "images": Field(True, "bool", "Render sample images after each epoch."),
    "prompts": Field(
        None, "str_list", "Sample prompts; null: captions of the first val (else train) images.",
        nullable=True,
    ),
    "num_prompts": Field(2, "int", "How many captions to use when prompts is null.",
                         check=_positive, rule="> 0"),
    "seeds": Field([0], "int_list", "One sample per prompt and seed.", check=lambda v: len(v) > 0,
                   rule="a non-empty list"),
    "steps": Field(20, "int", "Sampler steps per sample.", check=_positive, rule="> 0"),
    "guidance_scale": Field(7.5, "number", "Classifier-free guidance.", check=_non_negative,
                            rule=">= 0"),
    "sampler": Field("dpmpp_2m", "str", "Sampler of the samples.", choices=SAMPLER_NAMES),
    "save_size": Field(256, "int", "Longest side of the saved PNGs (thumbnails).",
                       check=lambda v: v >= 16, rule=">= 16"),
    "loss_timesteps": Field(
        [100, 300, 500, 700, 900], "int_list",
        "Fixed timesteps of the validation loss and the per-image loss scan.",
        check=lambda v: len(v) > 0 and all(0 <= t <= 999 for t in v),
        rule="a non-empty list of timesteps in [0, 999]",
    ),
    "noise_seed": Field(0, "int", "Seed of the fixed validation noise."),
}  # fmt: skip

DATA_MIX_FIELDS: dict[str, Field] = {
    "column": Field(None, "str", "Manifest column that groups images (cluster, mode, ...)."),
    "shares": Field(
        "balanced", "shares",
        "Share of the epoch per column value ({value: share}), or 'balanced' (equal shares).",
    ),
    "other": Field(0.0, "number", "Share of each value that shares does not name.",
                   check=_non_negative, rule=">= 0"),
}  # fmt: skip

PHASE_FIELDS: dict[str, Field] = {
    "name": Field(None, "str", "Phase name (file-name safe).", check=lambda v: bool(_NAME.match(v)),
                  rule="letters, digits, _ . - only"),
    "epochs": Field(None, "int", "Epochs of this phase; null: the preset's epochs.",
                    nullable=True, check=_positive, rule="> 0"),
    "learning_rate": Field(None, "number", "Null: the preset's learning_rate.", nullable=True,
                           check=_positive, rule="> 0"),
    "lr_scheduler": Field(None, "str", "Null: the preset's lr_scheduler.", nullable=True,
                          choices=LR_SCHEDULERS),
    "lr_warmup_steps": Field(None, "int", "Null: the preset's lr_warmup_steps.", nullable=True,
                             check=_non_negative, rule=">= 0"),
    "data_mix": Field(None, "data_mix",
                      "Weighted sampling; null: every train image once per epoch.", nullable=True),
}  # fmt: skip

FIELDS: dict[str, Field] = {
    "name": Field("custom", "str", "Preset name (file-name safe).",
                  check=lambda v: bool(_NAME.match(v)), rule="letters, digits, _ . - only"),
    "extends": Field(None, "str", "A preset whose keys this one starts from.", nullable=True),
    "description": Field("", "str", "Free text."),
    "epochs": Field(4, "int", "Epochs (of a single-phase run).", check=_positive, rule="> 0"),
    "learning_rate": Field(1.0e-4, "number", "UNet LoRA learning rate.", check=_positive,
                           rule="> 0"),
    "text_encoder_learning_rate": Field(None, "number", "Null: learning_rate.", nullable=True,
                                        check=_positive, rule="> 0"),
    "rank": Field(32, "int", "LoRA rank r.", check=_positive, rule="> 0"),
    "alpha": Field(None, "number", "LoRA alpha (scale alpha / rank); null: rank.",
                   nullable=True, check=_positive, rule="> 0"),
    "dropout": Field(0.0, "number", "LoRA dropout.", check=lambda v: 0 <= v < 1, rule="in [0, 1)"),
    "target_modules": Field(
        "ATTN_EXT_FF", "str_or_list",
        f"UNet modules: a set name ({', '.join(TARGET_MODULE_SETS)}) or module-name suffixes.",
    ),
    "train_text_encoder": Field(False, "bool", "Also train LoRA on the text encoder(s)."),
    "text_encoder_target_modules": Field(list(TEXT_ENCODER_TARGETS), "str_list",
                                         "Text-encoder module-name suffixes."),
    "batch_size": Field(1, "int", "Images per forward pass.", check=_positive, rule="> 0"),
    "gradient_accumulation_steps": Field(1, "int", "Batches per optimizer step.",
                                         check=_positive, rule="> 0"),
    "optimizer": Field("adamw8bit", "str", "Optimizer.", choices=OPTIMIZERS),
    "adam_beta1": Field(0.9, "number", "", check=lambda v: 0 <= v < 1, rule="in [0, 1)"),
    "adam_beta2": Field(0.999, "number", "", check=lambda v: 0 <= v < 1, rule="in [0, 1)"),
    "adam_weight_decay": Field(1.0e-2, "number", "", check=_non_negative, rule=">= 0"),
    "adam_epsilon": Field(1.0e-8, "number", "", check=_positive, rule="> 0"),
    "max_grad_norm": Field(1.0, "number", "Gradient clipping; null: off.", nullable=True,
                           check=_positive, rule="> 0"),
    "lr_scheduler": Field("constant", "str", "diffusers.optimization scheduler.",
                          choices=LR_SCHEDULERS),
    "lr_warmup_steps": Field(0, "int", "Warm-up optimizer steps (per phase).",
                             check=_non_negative, rule=">= 0"),
    "lr_num_cycles": Field(1, "int", "Restarts of cosine_with_restarts.", check=_positive,
                           rule="> 0"),
    "lr_power": Field(1.0, "number", "Power of the polynomial scheduler.", check=_positive,
                      rule="> 0"),
    "min_snr_gamma": Field(None, "number", "Min-SNR weighting gamma (5.0 is usual); null: off.",
                           nullable=True, check=_positive, rule="> 0"),
    "noise_offset": Field(0.0, "number", "Noise offset (0.05: better darks and lights).",
                          check=_non_negative, rule=">= 0"),
    "mixed_precision": Field("auto", "str", "auto: bf16/fp16 on CUDA, no elsewhere.",
                             choices=MIXED_PRECISION),
    "gradient_checkpointing": Field(False, "bool", "Trade compute for memory."),
    "resolution": Field(None, "int", "Training side length; null: 512 (sd15) or 1024 (sdxl).",
                        nullable=True, check=lambda v: v >= 64 and v % 8 == 0,
                        rule=">= 64 and a multiple of 8"),
    "aspect_ratio_buckets": Field(True, "bool", "Group images into aspect-ratio buckets."),
    "bucket_step": Field(64, "int", "Bucket sides are multiples of this.",
                         check=lambda v: v >= 8 and v % 8 == 0, rule=">= 8 and a multiple of 8"),
    "max_aspect_ratio": Field(2.0, "number", "Most elongated bucket.", check=lambda v: v >= 1,
                              rule=">= 1"),
    "seed": Field(42, "int", "Seed of LoRA init, data order and noise."),
    "save_dtype": Field("float16", "str", "dtype of the exported .safetensors.",
                        choices=SAVE_DTYPES),
    "save_every_steps": Field(None, "int", "Also save resumable state every N optimizer steps.",
                              nullable=True, check=_positive, rule="> 0"),
    "worst_images": Field(10, "int", "Training images listed by the loss scan.",
                          check=_positive, rule="> 0"),
    "validation": Field({}, "validation", "Validation loss and sample images."),
    "phases": Field([], "phases", "Multi-stage training; empty: one phase."),
}  # fmt: skip
