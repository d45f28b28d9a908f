"""The diffusers image backend on tiny random-weight SD1.5 / SDXL models (CPU, offline)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import safetensors.torch
import torch
from PIL import Image

from charfolio.core import tables
from charfolio.core.config import Character, ModelFileError, validate
from charfolio.demo.tiny import (
    build_tiny_pipeline,
    ensure_tiny_model,
    load_clip_tokenizer,
    write_tiny_lora,
)
from charfolio.generation import diffusers_backend
from charfolio.generation.backends import RenderRequest, create_image_backend
from charfolio.generation.diffusers_backend import DiffusersBackend
from charfolio.generation.pipelines import (
    SAMPLERS,
    SIGMA_FLAGS,
    configure_scheduler,
    load_pipeline,
    resolve_dtype,
    scheduler_overrides,
)
from charfolio.generation.regenerate import regenerate_image
from charfolio.generation.shard import distribution_from_config, generate_shard

SIZE = 64
# An image rendered in a batch differs from the same image rendered alone by at most one
# 8-bit level, in a few pixels: batched CPU kernels round float32 sums in another order.
# Measured here: 0-9 of 98,304 values differ by 1 in a batch of 8, never more.
BATCH_TOLERANCE = 1


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # timings and batched rounding are steadier on one thread
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def model_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("models")


def generation_config(**overrides: Any) -> dict[str, Any]:
    """A validated `generation:` section (schema defaults filled) for a quick tiny render."""
    section = {"backend": "tiny", "steps": 4, "width": SIZE, "height": SIZE, "batch_size": 2}
    return validate({"generation": {**section, **overrides}}, "config", "test")["generation"]


def requests(seeds: list[int], width: int = SIZE, height: int = SIZE) -> list[RenderRequest]:
    return [
        RenderRequest(f"portrait of a freckled person, view {s}", "blurry", s, width, height)
        for s in seeds
    ]


def pixels(image: Image.Image) -> np.ndarray:
    return np.asarray(image.convert("RGB"), dtype=np.int16)


def max_difference(a: Image.Image, b: Image.Image) -> int:
    return int(np.abs(pixels(a) - pixels(b)).max())


@pytest.fixture(scope="module")
def sd15(model_cache: Path) -> DiffusersBackend:
    return create_image_backend(generation_config(), str(model_cache))


def test_images_have_requested_size(sd15: DiffusersBackend):
    images = sd15.render(requests([1, 2], width=48, height=64))
    assert [image.size for image in images] == [(48, 64), (48, 64)]
    assert images[0].mode == "RGB"


def test_same_seeds_give_identical_pixels_across_backends(sd15, model_cache):
    other = create_image_backend(generation_config(), str(model_cache))
    first, second = sd15.render(requests([5, 6])), other.render(requests([5, 6]))
    assert all(max_difference(a, b) == 0 for a, b in zip(first, second, strict=True))
    assert max_difference(first[0], first[1]) > 0  # different seeds, different images


def test_batch_matches_each_image_rendered_alone(sd15):
    batch = sd15.render(requests([10, 11, 12, 13]))
    alone = [sd15.render([r])[0] for r in requests([10, 11, 12, 13])]
    differences = [max_difference(a, b) for a, b in zip(batch, alone, strict=True)]
    changed = sum(int((pixels(a) != pixels(b)).sum()) for a, b in zip(batch, alone, strict=True))
    print(
        f"batch of 4 vs alone: max pixel difference per image {differences}, {changed} values differ"
    )
    assert max(differences) <= BATCH_TOLERANCE
    assert changed <= 0.001 * 4 * SIZE * SIZE * 3


@pytest.fixture(scope="module")
def sampler_pipe(model_cache: Path):
    return create_image_backend(generation_config(), str(model_cache)).pipe


# DDIM and Euler ancestral have no sigma-schedule option in diffusers.
UNSUPPORTED = [
    ("euler_ancestral", "karras"),
    ("euler_ancestral", "exponential"),
    ("ddim", "karras"),
    ("ddim", "exponential"),
]
SUPPORTED = [
    (sampler, sigmas)
    for sampler in SAMPLERS
    for sigmas in ("default", *SIGMA_FLAGS)
    if (sampler, sigmas) not in UNSUPPORTED
]


# The schedulers diffusers' scheduler overview names for A1111's samplers, spelled out here
# (not read from SAMPLERS) so that a wrong entry there fails this test.
A1111_SCHEDULERS: dict[str, tuple[str, dict[str, Any]]] = {
    "dpmpp_2m": (
        "DPMSolverMultistepScheduler",
        {"algorithm_type": "dpmsolver++", "solver_order": 2},
    ),
    "dpmpp_2m_sde": (
        "DPMSolverMultistepScheduler",
        {"algorithm_type": "sde-dpmsolver++", "solver_order": 2},
    ),
    "euler": ("EulerDiscreteScheduler", {}),
    "euler_ancestral": ("EulerAncestralDiscreteScheduler", {}),
    "ddim": ("DDIMScheduler", {}),
}


@pytest.mark.parametrize(("sampler", "sigmas"), SUPPORTED)
def test_every_sampler_and_sigmas_renders(sampler_pipe, sampler: str, sigmas: str):
    configure_scheduler(sampler_pipe, sampler, sigmas)
    scheduler = sampler_pipe.scheduler
    class_name, settings = A1111_SCHEDULERS[sampler]
    assert type(scheduler).__name__ == class_name
    assert {key: scheduler.config[key] for key in settings} == settings
    if (sampler, "karras") not in UNSUPPORTED:  # a scheduler with sigma schedules
        for name, flag in (
            ("karras", "use_karras_sigmas"),
            ("exponential", "use_exponential_sigmas"),
        ):
            assert scheduler.config[flag] == (sigmas == name)
    assert scheduler.config["beta_schedule"] == "scaled_linear"  # the model's betas are kept
    generator = [torch.Generator("cpu").manual_seed(3)]
    image = sampler_pipe(
        "a portrait", num_inference_steps=3, width=32, height=32, generator=generator
    ).images[0]
    assert image.size == (32, 32)
    assert pixels(image).std() > 0


@pytest.mark.parametrize(("sampler", "sigmas"), UNSUPPORTED)
def test_unsupported_sampler_and_sigmas_fail_clearly(sampler: str, sigmas: str):
    with pytest.raises(
        ValueError, match=f"sampler '{sampler}'.*does not support sigmas '{sigmas}'"
    ):
        scheduler_overrides(sampler, sigmas)


def test_sigmas_choice_changes_the_image(sampler_pipe):
    images = []
    for sigmas in ("default", "karras", "exponential"):
        configure_scheduler(sampler_pipe, "dpmpp_2m", sigmas)
        generator = [torch.Generator("cpu").manual_seed(3)]
        images.append(
            sampler_pipe(
                "a portrait", num_inference_steps=4, width=32, height=32, generator=generator
            ).images[0]
        )
    assert max_difference(images[0], images[1]) > 0
    assert max_difference(images[1], images[2]) > 0


def test_detail_lora_negative_weight_changes_the_image(sd15, model_cache):
    lora = write_tiny_lora(model_cache / "loras" / "add_detail.safetensors", "sd15")
    request = requests([21])
    plain = sd15.render(request)[0]
    rendered = {}
    for weight in (-0.7, 0.7):
        backend = create_image_backend(
            generation_config(
                detail_lora={"path": "loras/add_detail.safetensors", "weight": weight}
            ),
            str(model_cache),
        )
        assert backend.settings()["lora"] == {
            "path": str(lora),
            "weight": weight,
            "adapter": "detail",
        }
        rendered[weight] = backend.render(request)[0]
    mean_change = np.abs(pixels(rendered[-0.7]) - pixels(plain)).mean()
    print(f"detail LoRA -0.7 vs none: mean pixel change {mean_change:.2f}")
    assert mean_change > 0.5
    assert max_difference(rendered[-0.7], rendered[0.7]) > 0


def test_sdxl_tiny_renders(model_cache):
    backend = create_image_backend(
        generation_config(model={"architecture": "sdxl"}), str(model_cache)
    )
    assert (backend.name, backend.model_id, backend.architecture) == (
        "tiny",
        "tiny-sdxl-seed0",
        "sdxl",
    )
    images = backend.render(requests([1, 2]))
    assert [image.size for image in images] == [(SIZE, SIZE)] * 2
    assert max_difference(images[0], images[1]) > 0


def test_tiny_model_is_saved_once_and_reused(model_cache):
    folder = ensure_tiny_model("sd15", 0, model_cache / "tiny")
    stamp = (folder / "unet" / "diffusion_pytorch_model.safetensors").stat().st_mtime_ns
    assert ensure_tiny_model("sd15", 0, model_cache / "tiny") == folder
    assert (folder / "unet" / "diffusion_pytorch_model.safetensors").stat().st_mtime_ns == stamp
    assert not [p for p in folder.parent.iterdir() if p.name.startswith(".")]  # no temp leftovers


def test_tokenizer_is_openai_clip():
    from open_clip.tokenizer import SimpleTokenizer

    tokenizer = load_clip_tokenizer()
    text = "Male soft features, light freckled skin; candid portrait in the rain"
    assert len(tokenizer) == 49408
    assert tokenizer(text).input_ids[1:-1] == SimpleTokenizer().encode(text)


def test_diffusers_backend_loads_a_folder_with_a_replacement_vae(model_cache):
    ensure_tiny_model("sd15", 1, model_cache / "tiny")
    model = {"path": "tiny/tiny-sd15-seed0", "architecture": "sd15"}
    plain = create_image_backend(
        generation_config(backend="diffusers", model=model), str(model_cache)
    )
    with_vae = create_image_backend(
        generation_config(backend="diffusers", model={**model, "vae": "tiny/tiny-sd15-seed1"}),
        str(model_cache),
    )
    assert (plain.name, plain.model_id) == ("diffusers", "tiny-sd15-seed0")
    assert with_vae.settings()["model"]["vae"] == str(model_cache / "tiny" / "tiny-sd15-seed1")
    request = requests([4])
    assert max_difference(plain.render(request)[0], with_vae.render(request)[0]) > 0


def test_folder_with_pickle_weights_is_refused(tmp_path):
    build_tiny_pipeline("sd15", 0).save_pretrained(tmp_path / "pickled", safe_serialization=False)
    generation = generation_config(backend="diffusers", model={"path": "pickled"})
    with pytest.raises(ModelFileError, match=r"pickled.*\.safetensors"):
        DiffusersBackend(generation, str(tmp_path))


def test_missing_model_names_the_file_and_the_fix(tmp_path):
    generation = generation_config(backend="diffusers", model={"path": "realistic.safetensors"})
    with pytest.raises(ModelFileError, match=r"realistic\.safetensors.*charfolio models"):
        DiffusersBackend(generation, str(tmp_path))


def test_pickle_checkpoint_is_refused(tmp_path):
    (tmp_path / "model.ckpt").write_bytes(b"not loaded")
    # Validation refuses the .ckpt first (test_cli); the backend is the last line of defence
    # for a config that reached it some other way, so the name is set after validating.
    generation = generation_config(backend="diffusers", model={"path": "model.safetensors"})
    generation["model"]["path"] = "model.ckpt"
    with pytest.raises(ModelFileError, match="refusing to load a pickle checkpoint"):
        DiffusersBackend(generation, str(tmp_path))


def test_single_file_without_config_dir_fails_clearly(tmp_path):
    safetensors.torch.save_file({"x": torch.zeros(1)}, tmp_path / "model.safetensors")
    generation = generation_config(backend="diffusers", model={"path": "model.safetensors"})
    with pytest.raises(
        ModelFileError, match=r"model\.safetensors.*needs generation\.model\.config_dir"
    ):
        DiffusersBackend(generation, str(tmp_path))


def test_dtype_resolution():
    assert resolve_dtype("auto", torch.device("cpu")) == torch.float32
    assert resolve_dtype("auto", torch.device("cuda")) == torch.float16
    assert resolve_dtype("bfloat16", torch.device("cpu")) == torch.bfloat16


def _write_scenarios(path: Path) -> None:
    rows = [
        {"index": i, "text": text, "category": category, "backend": "template", "model": "grammar",
         "verdict": "accepted", "reason": None, "attempt": 1}
        for i, (text, category) in enumerate(
            [(", reading in a quiet library", "casual"), (", climbing a rock wall", "athletic")]
        )
    ]  # fmt: skip
    tables.write_table(path, rows, tables.SCENARIOS)


def test_generate_shard_end_to_end_and_regenerate(tmp_path, model_cache, monkeypatch):
    character = Character(
        name="tiny_test",
        token="tnychr",
        class_word="person",
        base_prompt="photo of tnychr person, freckles",
        negative_prompt="blurry",
        base_seed=1000,
        caption_template="photo of {token} {class_word}",
    )
    distribution = {
        "original_images": 4,
        "modified_images": 4,
        "batch_size": 2,
        "min_images_per_scenario": 1,
        "multi_batch_per_seed": 1,
        "multi_batch_modifiers": [", smiling"],
    }
    _write_scenarios(tmp_path / "scenarios.parquet")
    root = tmp_path / "results" / "tiny_test"
    generation = generation_config(batch_size=2)
    loads: list[Path] = []

    def counting_load(model, *args, **kwargs):
        loads.append(model["path"])
        return load_pipeline(model, *args, **kwargs)

    monkeypatch.setattr(diffusers_backend, "load_pipeline", counting_load)
    table = generate_shard(
        character=character.prompt(),
        seed=1000,
        distribution=distribution,
        scenarios_path=tmp_path / "scenarios.parquet",
        generation=generation,
        out_dir=root / "images" / "seed_1000",
        out_table=root / "images" / "seed_1000.parquet",
        character_root=root,
        model_cache=str(model_cache),
        log=lambda line: None,
    )
    assert len(loads) == 1  # one model load for the whole shard
    rows = table.to_pylist()
    assert len(rows) == distribution_from_config(distribution, 2).images_per_seed == 5
    for row in rows:
        data = (root / row["file"]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == row["sha256"]
        assert (row["backend"], row["model_id"], row["width"]) == ("tiny", "tiny-sd15-seed0", SIZE)
    settings = json.loads(rows[0]["settings_json"])
    assert settings["backend"]["scheduler"]["class"] == "DPMSolverMultistepScheduler"

    # Rows 0-3 were rendered in batches of 2, row 4 alone; regeneration renders one image.
    for index, tolerance in ((1, BATCH_TOLERANCE), (4, 0)):
        row = rows[index]
        stored = Image.open(root / row["file"])
        regenerated = regenerate_image(row, str(model_cache))
        difference = max_difference(regenerated, stored)
        print(f"regenerated row {index} ({row['file']}): max pixel difference {difference}")
        assert difference <= tolerance


def test_prompts_past_the_clip_limit_are_reported(sd15: DiffusersBackend):
    long_prompt = "freckled man, " + ", ".join(f"detail number {i}" for i in range(40))
    warnings = sd15.prompt_warnings(["short prompt", long_prompt, long_prompt])
    assert len(warnings) == 1
    assert "> 77, the end is ignored" in warnings[0]
