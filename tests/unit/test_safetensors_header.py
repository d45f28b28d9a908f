"""The same tensors and metadata give the same .safetensors bytes."""

from __future__ import annotations

import hashlib
import json
import struct

import safetensors
import safetensors.torch
import torch

from charfolio.core.safetensors_header import sort_metadata

TENSORS = {"b.weight": torch.arange(6.0).reshape(2, 3), "a.alpha": torch.tensor(4.0)}
# Enough keys that safetensors' own (hash) order is all but never sorted by chance.
METADATA = {f"key_{i}": f"value {i} é" for i in (7, 3, 0, 5, 1, 6, 2, 4)}


def test_saves_with_sorted_metadata_are_byte_identical(tmp_path):
    digests = set()
    for i in range(6):
        path = tmp_path / f"{i}.safetensors"
        safetensors.torch.save_file(TENSORS, path, metadata=METADATA)
        sort_metadata(path)
        data = path.read_bytes()
        digests.add(hashlib.sha256(data).hexdigest())
        (size,) = struct.unpack("<Q", data[:8])
        assert size % 8 == 0
        assert list(json.loads(data[8 : 8 + size])["__metadata__"]) == sorted(METADATA)
    assert len(digests) == 1
    with safetensors.safe_open(path, "pt") as reader:
        assert reader.metadata() == METADATA
        for key, tensor in TENSORS.items():
            assert torch.equal(reader.get_tensor(key), tensor)


def test_a_file_without_metadata_is_left_alone(tmp_path):
    path = tmp_path / "plain.safetensors"
    safetensors.torch.save_file(TENSORS, path)
    before = path.read_bytes()
    sort_metadata(path)
    assert path.read_bytes() == before
