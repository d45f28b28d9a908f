"""Tiny random-weight control-map detectors for tests and the offline demo.

A DPT depth model saved as a transformers folder, and an ONNX model in RTMPose's SimCC
format (see charfolio.generation.pose), both built once into the model cache, so depth and
pose control maps run their real loading and decoding code without downloads.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from transformers import DPTConfig, DPTForDepthEstimation, DPTImageProcessor

from charfolio.demo.tiny import build_folder_once
from charfolio.generation.pose import N_KEYPOINTS

TINY_POSE_INPUT = (48, 64)  # width, height: RTMPose's 192x256 at a quarter
TINY_POSE_FILE = "pose.onnx"
SIMCC_SPLIT = 2  # RTMPose's k: SimCC bins per input pixel


def build_tiny_depth_model(seed: int = 0) -> DPTForDepthEstimation:
    config = DPTConfig(
        hidden_size=32,
        num_hidden_layers=4,
        num_attention_heads=4,
        intermediate_size=37,
        image_size=32,
        patch_size=8,
        backbone_out_indices=(0, 1, 2, 3),
        neck_hidden_sizes=(16, 16, 32, 32),
        reassemble_factors=(4, 2, 1, 0.5),
        fusion_hidden_size=16,
        use_auxiliary_head=False,
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return DPTForDepthEstimation(config).eval()


def ensure_tiny_depth_model(root: Path, seed: int = 0) -> Path:
    """`root/tiny-depth-dpt-seed{seed}`: config.json, model.safetensors, preprocessor_config.json."""

    def build(tmp: Path) -> None:
        build_tiny_depth_model(seed).save_pretrained(tmp, safe_serialization=True)
        processor = DPTImageProcessor(
            size={"height": 32, "width": 32}, keep_aspect_ratio=False, do_pad=False
        )
        processor.save_pretrained(tmp)

    return build_folder_once(Path(root) / f"tiny-depth-dpt-seed{seed}", build)


def write_tiny_pose_model(path: Path, seed: int = 0) -> Path:
    """An RTMPose-format ONNX file with random weights (outputs in (0, 1), like scores).

    Conv(8x8, stride 8) -> mean over rows / columns -> MatMul to the SimCC bins -> Sigmoid.
    """
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    width, height = TINY_POSE_INPUT
    rng = np.random.default_rng(seed)
    cells_w, cells_h = width // 8, height // 8

    def weight(name: str, *shape: int) -> onnx.TensorProto:
        # std 1/sqrt(fan-in): logits of order 1, so scores spread over (0, 1) and do not saturate
        fan_in = int(np.prod(shape[1:])) if len(shape) == 4 else shape[0]
        values = rng.normal(0, 1 / np.sqrt(fan_in), shape).astype(np.float32)
        return numpy_helper.from_array(values, name)

    nodes = [
        helper.make_node(
            "Conv", ["input", "conv_w"], ["cells"], kernel_shape=[8, 8], strides=[8, 8]
        ),
        helper.make_node("ReduceMean", ["cells"], ["cols"], axes=[2], keepdims=0),
        helper.make_node("ReduceMean", ["cells"], ["rows"], axes=[3], keepdims=0),
        helper.make_node("MatMul", ["cols", "to_x"], ["logits_x"]),
        helper.make_node("MatMul", ["rows", "to_y"], ["logits_y"]),
        helper.make_node("Sigmoid", ["logits_x"], ["simcc_x"]),
        helper.make_node("Sigmoid", ["logits_y"], ["simcc_y"]),
    ]
    graph = helper.make_graph(
        nodes,
        "tiny_rtmpose",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 3, height, width])],
        [
            helper.make_tensor_value_info(
                "simcc_x", TensorProto.FLOAT, [1, N_KEYPOINTS, width * SIMCC_SPLIT]
            ),
            helper.make_tensor_value_info(
                "simcc_y", TensorProto.FLOAT, [1, N_KEYPOINTS, height * SIMCC_SPLIT]
            ),
        ],
        initializer=[
            weight("conv_w", N_KEYPOINTS, 3, 8, 8),
            weight("to_x", cells_w, width * SIMCC_SPLIT),
            weight("to_y", cells_h, height * SIMCC_SPLIT),
        ],
    )
    # opset 17 / IR 8: ReduceMean takes axes as an attribute; any recent onnxruntime runs it.
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    onnx.checker.check_model(model)
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(path))
    return path


def ensure_tiny_pose_model(root: Path, seed: int = 0) -> Path:
    """`root/tiny-pose-rtmpose-seed{seed}/pose.onnx`, written once."""
    folder = build_folder_once(
        Path(root) / f"tiny-pose-rtmpose-seed{seed}",
        lambda tmp: write_tiny_pose_model(tmp / TINY_POSE_FILE, seed),
    )
    return folder / TINY_POSE_FILE
