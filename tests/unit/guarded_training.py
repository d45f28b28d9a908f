"""A UNet + text-encoder LoRA run on the tiny SD1.5, as `python -m` under the network guard.

The text encoder is named as a single-file checkpoint with the real SD1.5 configs names it:
`from_single_file(config=<stable-diffusion-v1-5 folder>)` builds it from that folder's
text_encoder/config.json, whose `_name_or_path` is "openai/clip-vit-large-patch14", a Hub
repo id, and the model keeps it as its `name_or_path` (a diffusers folder loads with its
local path instead). A LoRA adapter records it as its base model, which a library may look
up on the Hub. Usage: python -m tests.unit.guarded_training ROOT
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from charfolio.lora import model

from .lora_support import make_tier, run, tiny_preset

SD15_TEXT_ENCODER = "openai/clip-vit-large-patch14"
_load_pipeline = model.load_pipeline


def _load_as_single_file(*args: Any, **kwargs: Any) -> Any:
    pipe = _load_pipeline(*args, **kwargs)
    pipe.text_encoder.config._name_or_path = SD15_TEXT_ENCODER
    pipe.text_encoder.name_or_path = SD15_TEXT_ENCODER
    return pipe


def main(root: Path) -> None:
    model.load_pipeline = _load_as_single_file
    tier = make_tier(root / "tier_4", n=4, val=1)
    # 2 epochs: a checkpoint per epoch and the two final exports each save the text encoder.
    preset = tiny_preset(
        epochs=2, gradient_accumulation_steps=1, train_text_encoder=True,
        validation={"images": False},
    )  # fmt: skip
    summary = run(tier, root / "out", root / "models", preset)
    print(json.dumps({"complete": summary["complete"]}))


if __name__ == "__main__":
    main(Path(sys.argv[1]))
