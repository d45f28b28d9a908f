"""A trained LoRA's checkpoints, read from summary.json as train_lora writes it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from charfolio.evaluate import list_checkpoints

from .evaluate_support import make_lora_dir, small_weights


def test_every_epoch_and_the_final_weights_once(tmp_path: Path) -> None:
    summary = make_lora_dir(tmp_path / "lora", [1.0, 2.0])
    found = list_checkpoints(summary)
    assert [c.label for c in found] == ["epoch-0001", "epoch-0002"]
    assert [c.epoch for c in found] == [1, 2]
    # the final LoRA is epoch 2's weights byte for byte: marked, not rendered twice
    assert [c.final for c in found] == [False, True]
    # the summary's paths are from the training job's workdir; found beside the summary
    assert found[0].path == tmp_path / "lora" / "checkpoints" / "epoch-0001.safetensors"
    assert found[0].sha256 != found[1].sha256 and found[0].weights != found[1].weights


def _relisted(data: bytes) -> bytes:
    """The same file with its header's entries in reverse order and padded with spaces."""
    size = int.from_bytes(data[:8], "little")
    header = json.loads(data[8 : 8 + size])
    text = json.dumps(dict(reversed(header.items()))).encode() + b"    "
    return len(text).to_bytes(8, "little") + text + data[8 + size :]


def test_the_same_weights_in_another_file_layout_are_the_final_lora(tmp_path: Path) -> None:
    last = small_weights(tmp_path / "last.safetensors", 2.0, {"a": "1", "b": "2"})
    final = tmp_path / "final.safetensors"
    final.write_bytes(_relisted(last.read_bytes()))
    assert last.read_bytes() != final.read_bytes()
    summary = make_lora_dir(tmp_path / "lora", [1.0, last], final=final)
    assert [(c.label, c.final) for c in list_checkpoints(summary)] == [
        ("epoch-0001", False),
        ("epoch-0002", True),
    ]
    other = small_weights(tmp_path / "other.safetensors", 2.5, {"a": "1", "b": "2"})
    summary = make_lora_dir(tmp_path / "lora2", [1.0, last], final=other)
    assert list_checkpoints(summary)[-1].label == "final"


def test_a_final_lora_unlike_every_epoch_is_its_own_column(tmp_path: Path) -> None:
    summary = make_lora_dir(tmp_path / "lora", [1.0, 2.0], final=3.0)
    found = list_checkpoints(summary)
    assert [(c.label, c.epoch, c.final) for c in found] == [
        ("epoch-0001", 1, False),
        ("epoch-0002", 2, False),
        ("final", None, True),
    ]
    assert found[-1].path.name == "lora_diffusers.safetensors"


def test_final_only(tmp_path: Path) -> None:
    summary = make_lora_dir(tmp_path / "lora", [1.0, 2.0])
    (final,) = list_checkpoints(summary, "final")
    assert (final.label, final.epoch, final.final) == ("final", 2, True)
    assert final.path.name == "lora_diffusers.safetensors"


def test_paths_that_exist_as_written_are_used(tmp_path: Path, monkeypatch) -> None:
    root = tmp_path / "results/demo/lora/p/tier_1"
    make_lora_dir(root, [1.0], workdir_prefix="results/demo/lora/p/tier_1")
    monkeypatch.chdir(tmp_path)
    (found,) = list_checkpoints("results/demo/lora/p/tier_1/summary.json")
    assert found.path == Path("results/demo/lora/p/tier_1/checkpoints/epoch-0001.safetensors")


def test_a_missing_checkpoint_names_the_file(tmp_path: Path) -> None:
    summary = make_lora_dir(tmp_path / "lora", [1.0, 2.0])
    (tmp_path / "lora" / "checkpoints" / "epoch-0001.safetensors").unlink()
    with pytest.raises(FileNotFoundError) as info:
        list_checkpoints(summary)
    message = str(info.value)
    assert (
        "checkpoints lists results/demo/lora/p/tier_1/checkpoints/epoch-0001.safetensors" in message
    )
    assert str(summary) in message and "rerun the train_lora rule" in message


def test_bad_summaries(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="run the train_lora rule"):
        list_checkpoints(tmp_path / "nowhere" / "summary.json")
    summary = make_lora_dir(tmp_path / "lora", [1.0])
    with pytest.raises(ValueError, match=r"evaluation\.checkpoints is 'best'"):
        list_checkpoints(summary, "best")
    data = json.loads(summary.read_text())
    summary.write_text(json.dumps({**data, "complete": False}))
    with pytest.raises(ValueError, match="not complete"):
        list_checkpoints(summary)
    summary.write_text(json.dumps({"preset": "p"}))
    with pytest.raises(ValueError, match=r"not a charfolio LoRA summary \(no checkpoints"):
        list_checkpoints(summary)
    (tmp_path / "lora" / "bad.safetensors").write_bytes(b"not a safetensors file")
    summary.write_text(
        json.dumps({**data, "checkpoints": [str(tmp_path / "lora" / "bad.safetensors")]})
    )
    with pytest.raises(ValueError, match="is not named epoch-NNNN"):
        list_checkpoints(summary)
    summary.write_text(
        json.dumps({**data, "lora_diffusers": str(tmp_path / "lora" / "bad.safetensors")})
    )
    with pytest.raises(ValueError, match=r"bad\.safetensors: not a \.safetensors file"):
        list_checkpoints(summary)
    summary.write_text(json.dumps({**data, "checkpoints": ["ckpt/last.safetensors"]}))
    with pytest.raises(ValueError, match=r"is not named epoch-NNNN\.safetensors"):
        list_checkpoints(summary)
