"""ControlNet rendering and control maps (canny, depth, pose) with tiny offline models."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import safetensors.torch
import torch
from PIL import Image

from charfolio.core.config import ModelFileError
from charfolio.demo.tiny import (
    build_tiny_controlnet,
    ensure_tiny_controlnet,
    ensure_tiny_model,
)
from charfolio.demo.tiny_detectors import (
    TINY_POSE_INPUT,
    ensure_tiny_depth_model,
    ensure_tiny_pose_model,
)
from charfolio.generation.control import load_controlnet, resolve_controlnet
from charfolio.generation.control_maps import CannyMapper, DepthMapper
from charfolio.generation.pipelines import load_pipeline
from charfolio.generation.pose import (
    COLOURS,
    PoseMapper,
    decode_simcc,
    draw_openpose,
    openpose_keypoints,
)
from charfolio.lora.render import LoraRenderer

from .render_support import open_tiny, picture, pixels

PROMPT = "photo of zqx person, running on the beach"


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("model_cache")


# --- control maps -----------------------------------------------------------------------


def square(size: int = 64) -> Image.Image:
    pixels_ = np.zeros((size, size, 3), dtype=np.uint8)
    pixels_[16:48, 16:48] = 255
    return Image.fromarray(pixels_)


def test_canny_finds_the_square_outline() -> None:
    edges = np.asarray(CannyMapper(100, 200)(square()))
    assert edges.shape == (64, 64, 3) and set(np.unique(edges)) == {0, 255}
    assert (edges[:, :, 0] == edges[:, :, 2]).all()  # grey, as the canny ControlNets expect
    assert edges[32, 15:17, 0].max() == 255 and edges[32, 47:49, 0].max() == 255  # sides
    assert edges[30:34, 30:34].max() == 0 and edges[:8, :8].max() == 0  # inside, outside
    assert np.asarray(CannyMapper(100, 200)(Image.new("RGB", (64, 64), "grey"))).max() == 0


def test_depth_map_from_a_local_model(cache: Path) -> None:
    mapper = DepthMapper(ensure_tiny_depth_model(cache / "tiny"), torch.device("cpu"))
    first = np.asarray(mapper(picture(1, (80, 48))))
    assert first.shape == (48, 80, 3)  # the input's size, not the model's
    assert first.min() == 0 and first.max() == 255  # scaled to the full range per image
    assert (first[:, :, 0] == first[:, :, 1]).all()
    np.testing.assert_array_equal(np.asarray(mapper(picture(1, (80, 48)))), first)
    assert np.abs(np.asarray(mapper(picture(2, (80, 48)))).astype(int) - first).max() > 0


def test_depth_folder_without_safetensors_is_refused(tmp_path: Path, cache: Path) -> None:
    folder = ensure_tiny_depth_model(cache / "tiny")
    broken = tmp_path / "depth"
    broken.mkdir()
    for name in ("config.json", "preprocessor_config.json"):
        (broken / name).write_bytes((folder / name).read_bytes())
    (broken / "pytorch_model.bin").write_bytes(b"pickle")
    with pytest.raises(
        ModelFileError, match=r"cannot load a depth-estimation model .*charfolio models"
    ):
        DepthMapper(broken, torch.device("cpu"))


def test_simcc_decodes_to_image_pixels() -> None:
    simcc_x, simcc_y = np.zeros((17, 96)), np.zeros((17, 128))
    simcc_x[:, 30], simcc_y[:, 50] = 0.9, 0.8  # input pixel (15, 25) at k = 2
    simcc_y[3, 50] = 0.1
    # an image letterboxed at scale 0.5 with 4 px of padding on the left
    points = decode_simcc(simcc_x, simcc_y, (48, 64), scale=0.5, pad=(4, 0))
    np.testing.assert_allclose(points[0], [(15 - 4) / 0.5, 25 / 0.5, 0.8])
    assert points[3, 2] == pytest.approx(0.1)  # the smaller of the two maxima


def test_openpose_skeleton_has_a_neck_and_its_colours() -> None:
    coco = np.zeros((17, 3))
    coco[5] = [40, 20, 0.9]  # left shoulder
    coco[6] = [20, 20, 0.5]  # right shoulder
    coco[0] = [30, 8, 0.9]  # nose
    points = openpose_keypoints(coco)
    np.testing.assert_allclose(points[1], [30, 20, 0.5])  # the neck: midpoint, weaker score
    np.testing.assert_allclose(points[2], coco[6])  # OpenPose 2 is the right shoulder
    canvas = draw_openpose(points, (64, 48))
    assert canvas.shape == (48, 64, 3)
    assert tuple(canvas[20, 30]) == COLOURS[1]  # the neck joint in its own colour
    assert tuple(canvas[8, 30]) == COLOURS[0]
    assert canvas[40:, :].max() == 0  # nothing below the shoulders: no hips were seen
    coco[6, 2] = 0.1  # an unseen right shoulder hides its joint and the neck
    assert tuple(draw_openpose(openpose_keypoints(coco), (64, 48))[20, 30]) == (0, 0, 0)


def test_pose_map_from_an_onnx_model(cache: Path) -> None:
    mapper = PoseMapper(ensure_tiny_pose_model(cache / "tiny"))
    assert mapper.input_size == TINY_POSE_INPUT
    image = picture(3, (96, 64))
    points = mapper.keypoints(image)
    assert points.shape == (17, 3) and ((points[:, 2] > 0) & (points[:, 2] < 1)).all()
    drawn = np.asarray(mapper(image))
    assert drawn.shape == (64, 96, 3) and drawn.max() > 0
    np.testing.assert_array_equal(np.asarray(mapper(image)), drawn)


def test_pose_model_in_another_format_is_refused(tmp_path: Path) -> None:
    import onnx
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        [helper.make_node("Sigmoid", ["input"], ["heatmaps"])],
        "heatmaps",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 3, 64, 48])],
        [helper.make_tensor_value_info("heatmaps", TensorProto.FLOAT, [1, 3, 64, 48])],
    )
    path = tmp_path / "heatmaps.onnx"
    onnx.save(
        helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8), path
    )
    with pytest.raises(ModelFileError, match=r"heatmaps\.onnx: outputs are .*RTMPose SimCC"):
        PoseMapper(path)
    garbage = tmp_path / "garbage.onnx"
    garbage.write_bytes(b"not onnx")
    with pytest.raises(ModelFileError, match="onnxruntime cannot load it"):
        PoseMapper(garbage)


# --- config ---------------------------------------------------------------------------------


def test_config_errors_name_the_key(tmp_path: Path, cache: Path) -> None:
    with pytest.raises(
        ModelFileError, match=r"story\.controlnet\.path is not set.*charfolio models"
    ):
        resolve_controlnet({"type": "canny"}, tmp_path)
    with pytest.raises(
        ModelFileError,
        match=r"ControlNet \(story\.controlnet\.path\) not found.*charfolio models --config",
    ):
        resolve_controlnet({"type": "canny", "path": "controlnet-canny"}, tmp_path)
    with pytest.raises(ValueError, match=r"canny_low \(200\) is above canny_high \(100\)"):
        resolve_controlnet({"type": "canny", "canny_low": 200, "canny_high": 100}, tmp_path)
    with pytest.raises(ValueError, match="type 'seg' is not one of canny, depth, pose"):
        resolve_controlnet({"type": "seg"}, tmp_path)
    folder = ensure_tiny_controlnet("sd15", 0, cache / "tiny")
    for kind in ("depth", "pose"):
        with pytest.raises(
            ModelFileError,
            match=rf"type is {kind} but story\.controlnet\.detector_path is not set.*charfolio models",
        ):
            resolve_controlnet({"type": kind, "path": str(folder)}, None)
    with pytest.raises(ModelFileError, match=r"depth detector .*not found: depth-model"):
        resolve_controlnet(
            {"type": "depth", "path": str(folder), "detector_path": "depth-model"}, None
        )
    with pytest.raises(ModelFileError, match=r"pose detector must be an \.onnx file"):
        resolve_controlnet(
            {"type": "pose", "path": str(folder), "detector_path": str(folder)}, None
        )
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelFileError, match="not a diffusers ControlNet folder"):
        resolve_controlnet({"type": "canny", "path": str(tmp_path / "empty")}, None)
    for suffix in (".bin", ".ckpt"):
        (tmp_path / f"control{suffix}").write_bytes(b"pickle")
        with pytest.raises(
            ModelFileError, match=f"refusing to load a pickle checkpoint \\({suffix}\\)"
        ):
            resolve_controlnet({"type": "canny", "path": f"control{suffix}"}, tmp_path)


def test_detector_paths_are_used_as_given(cache: Path) -> None:
    folder = ensure_tiny_controlnet("sd15", 0, cache / "tiny")
    pose = ensure_tiny_pose_model(cache / "tiny")
    files = resolve_controlnet({"type": "pose", "path": str(folder), "detector_path": str(pose),
                                "conditioning_scale": 0.5}, None)  # fmt: skip
    assert (files.path, files.detector) == (folder, pose)
    assert files.conditioning_scale == 0.5 and not files.built_by_source


def test_single_file_controlnet_reads_with_the_base_layout(cache: Path, tmp_path: Path) -> None:
    folder = ensure_tiny_controlnet("sd15", 0, cache / "tiny")
    weights = safetensors.torch.load_file(folder / "diffusion_pytorch_model.safetensors")
    single = tmp_path / "control_tiny.safetensors"
    safetensors.torch.save_file(weights, single)
    pipe = load_pipeline({"path": str(ensure_tiny_model("sd15", 0, cache / "tiny")),
                          "architecture": "sd15"}, None, torch.float32, torch.device("cpu"))  # fmt: skip
    loaded = load_controlnet(single, pipe).state_dict()
    assert loaded.keys() == weights.keys()
    assert all(torch.equal(loaded[k], weights[k]) for k in weights)
    lora = tmp_path / "lora.safetensors"
    safetensors.torch.save_file({"unet.down.lora_A.weight": torch.zeros(2)}, lora)
    with pytest.raises(ModelFileError, match=r"lora\.safetensors: not a ControlNet"):
        load_controlnet(lora, pipe)
    xl = tmp_path / "control_xl.safetensors"  # a ControlNet of another layout (SDXL's)
    xl_folder = ensure_tiny_controlnet("sdxl", 0, cache / "tiny")
    xl_weights = safetensors.torch.load_file(xl_folder / "diffusion_pytorch_model.safetensors")
    safetensors.torch.save_file(xl_weights, xl)
    with pytest.raises(ModelFileError, match="does not have the base model's UNet layout"):
        load_controlnet(xl, pipe)


def test_tiny_controlnet_is_the_same_model_at_every_build() -> None:
    """Every layer, the conditioning embedding too, comes from the weights seed, not from
    wherever the global generator happens to be."""
    states = []
    for global_seed in (1, 2):
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(global_seed)
            states.append(build_tiny_controlnet("sd15", 0).state_dict())
    first, second = states
    assert first.keys() == second.keys()
    assert all(torch.equal(first[k], second[k]) for k in first)


# --- rendering ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def renderer(cache: Path) -> LoraRenderer:
    return open_tiny(cache, controlnet={"type": "canny", "conditioning_scale": 1.0,
                                        "canny_low": 50, "canny_high": 150})  # fmt: skip


def test_control_image_changes_the_render(renderer: LoraRenderer) -> None:
    assert renderer.has_controlnet and not renderer.has_ip_adapter
    plain = pixels(renderer.render(PROMPT, 1))
    control = renderer.control_map(picture(1))
    assert np.asarray(control).max() == 255  # canny, at the configured thresholds
    first = pixels(renderer.render(PROMPT, 1, control=control))
    np.testing.assert_array_equal(pixels(renderer.render(PROMPT, 1, control=control)), first)
    assert np.abs(first - plain).max() > 10
    other = pixels(renderer.render(PROMPT, 1, control=renderer.control_map(picture(2))))
    assert np.abs(other - first).max() > 5
    record = renderer.settings_record()["controlnet"]
    assert (record["type"], record["conditioning_scale"], record["canny_low"]) == ("canny", 1.0, 50)


def test_no_control_renders_as_without_controlnet(cache: Path, renderer: LoraRenderer) -> None:
    without = open_tiny(cache)
    np.testing.assert_array_equal(pixels(renderer.render(PROMPT, 2)),
                                  pixels(without.render(PROMPT, 2)))  # fmt: skip


@pytest.mark.parametrize(("architecture", "kind"), [("sd15", "pose"), ("sdxl", "depth")])
def test_ip_adapter_and_controlnet_together(cache: Path, architecture: str, kind: str) -> None:
    renderer = open_tiny(cache, architecture, ip_adapter={"scale": 0.6},
                         controlnet={"type": kind, "conditioning_scale": 0.8})  # fmt: skip
    frame_1 = renderer.render(PROMPT, 3)
    control = renderer.control_map(frame_1)
    assert control.size == frame_1.size
    guided = pixels(renderer.render(PROMPT, 4, reference=frame_1, control=control))
    referenced = pixels(renderer.render(PROMPT, 4, reference=frame_1))
    plain = pixels(renderer.render(PROMPT, 4))
    assert np.abs(guided - referenced).max() > 5  # the control image counts
    assert np.abs(referenced - plain).max() > 5  # and so does the reference
    record = renderer.settings_record()
    assert record["controlnet"]["type"] == kind and record["ip_adapter"]["scale"] == 0.6
