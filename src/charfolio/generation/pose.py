"""OpenPose-style skeleton maps from a local RTMPose ONNX model, run with onnxruntime.

Why RTMPose: it is the pose model the specs name (RTM-Pose), it ships as plain ONNX
(mmpose's deploy exports and rtmlib's model zoo, e.g. rtmpose-m body7 256x192), and its
SimCC output decodes in a few lines of numpy: no mmpose, no pickle. The OpenPose
ControlNets expect OpenPose's 18-keypoint skeleton in OpenPose's colours, so the COCO-17
keypoints are mapped onto it (neck = the shoulders' midpoint) and drawn with OpenCV.

The ONNX format read (checked when the model loads):

- one input, float32 (1, 3, H, W) with fixed H and W: RGB, normalised with ImageNet
  mean (123.675, 116.28, 103.53) and std (58.395, 57.12, 57.375) in 0-255 units;
- two outputs, simcc_x (1, 17, k*W) and simcc_y (1, 17, k*H): per keypoint, scores over
  k-times-finer x and y coordinates (k = 2 for RTMPose); a keypoint is at the argmax and
  its score is the smaller of the two maxima;
- keypoints in COCO order (nose, eyes, ears, shoulders, elbows, wrists, hips, knees, ankles).

The whole frame is the person box (a top-down model without a person detector): a
storyboard frame shows one character. Keypoints scoring below MIN_SCORE are not drawn.
"""

from __future__ import annotations

import math
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from charfolio.core.config import ModelFileError

MEAN = np.array([123.675, 116.28, 103.53], dtype=np.float32)
STD = np.array([58.395, 57.12, 57.375], dtype=np.float32)
N_KEYPOINTS = 17
MIN_SCORE = 0.3  # rtmlib draws keypoints above 0.3-0.5; low scores are guesses

# OpenPose's 18 body keypoints as COCO indices; the neck (None) is the shoulders' midpoint.
OPENPOSE_FROM_COCO: tuple[int | None, ...] = (
    0, None, 6, 8, 10, 5, 7, 9, 12, 14, 16, 11, 13, 15, 2, 1, 4, 3,
)  # fmt: skip
# OpenPose's limbs (pairs of its keypoints) and colours, as controlnet_aux draws them.
LIMBS = (
    (1, 2), (1, 5), (2, 3), (3, 4), (5, 6), (6, 7), (1, 8), (8, 9), (9, 10),
    (1, 11), (11, 12), (12, 13), (1, 0), (0, 14), (14, 16), (0, 15), (15, 17),
)  # fmt: skip
COLOURS = (
    (255, 0, 0), (255, 85, 0), (255, 170, 0), (255, 255, 0), (170, 255, 0), (85, 255, 0),
    (0, 255, 0), (0, 255, 85), (0, 255, 170), (0, 255, 255), (0, 170, 255), (0, 85, 255),
    (0, 0, 255), (85, 0, 255), (170, 0, 255), (255, 0, 255), (255, 0, 170), (255, 0, 85),
)  # fmt: skip


def _format_error(path: Path, problem: str) -> ModelFileError:
    return ModelFileError(
        f"{path}: {problem}; the pose detector must be an RTMPose SimCC ONNX export (one "
        f"(1, 3, H, W) input, outputs simcc_x (1, 17, k*W) and simcc_y (1, 17, k*H)); see "
        f"charfolio.generation.pose"
    )


class PoseMapper:
    """Image -> OpenPose skeleton on black, the size of the image."""

    def __init__(self, path: Path) -> None:
        try:
            import onnxruntime
        except ImportError as error:
            raise ModelFileError(
                "pose control maps need onnxruntime: pip install onnxruntime"
            ) from error
        self.path = path
        try:
            self.session = onnxruntime.InferenceSession(
                str(path), providers=["CPUExecutionProvider"]
            )
        except Exception as error:  # onnxruntime raises its own exception types
            raise _format_error(path, f"onnxruntime cannot load it ({error})") from error
        inputs, outputs = self.session.get_inputs(), self.session.get_outputs()
        if len(inputs) != 1 or len(inputs[0].shape) != 4:
            raise _format_error(path, f"inputs are {[(i.name, i.shape) for i in inputs]}")
        height, width = inputs[0].shape[2:]
        if not isinstance(height, int) or not isinstance(width, int):
            raise _format_error(path, f"the input size {inputs[0].shape} is not fixed")
        if len(outputs) != 2:
            raise _format_error(path, f"outputs are {[(o.name, o.shape) for o in outputs]}")
        self.input_name = inputs[0].name
        self.input_size = (width, height)

    def keypoints(self, image: Image.Image) -> np.ndarray:
        """(17, 3): x, y in image pixels and a score per COCO keypoint."""
        rgb = np.asarray(image.convert("RGB"), dtype=np.float32)
        width, height = self.input_size
        scale = min(width / rgb.shape[1], height / rgb.shape[0])
        new_w, new_h = max(1, round(rgb.shape[1] * scale)), max(1, round(rgb.shape[0] * scale))
        pad_x, pad_y = (width - new_w) // 2, (height - new_h) // 2
        # Letterbox into the model's input: the aspect ratio is kept, the rest is black.
        canvas = np.zeros((height, width, 3), dtype=np.float32)
        resized = cv2.resize(rgb, (new_w, new_h), interpolation=cv2.INTER_LINEAR)
        canvas[pad_y : pad_y + new_h, pad_x : pad_x + new_w] = resized
        batch = ((canvas - MEAN) / STD).transpose(2, 0, 1)[None]
        simcc_x, simcc_y = self.session.run(None, {self.input_name: batch})
        if simcc_x.shape[1:2] != (N_KEYPOINTS,) or simcc_y.shape[1:2] != (N_KEYPOINTS,):
            raise _format_error(
                self.path, f"outputs have shapes {simcc_x.shape} and {simcc_y.shape}"
            )
        return decode_simcc(simcc_x[0], simcc_y[0], self.input_size, scale, (pad_x, pad_y))

    def __call__(self, image: Image.Image) -> Image.Image:
        points = self.keypoints(image)
        return Image.fromarray(draw_openpose(openpose_keypoints(points), image.size))


def decode_simcc(
    simcc_x: np.ndarray,
    simcc_y: np.ndarray,
    input_size: tuple[int, int],
    scale: float,
    pad: tuple[int, int],
) -> np.ndarray:
    """Keypoints (x, y, score) in image pixels from SimCC scores of one person."""
    ratio_x = simcc_x.shape[-1] / input_size[0]
    ratio_y = simcc_y.shape[-1] / input_size[1]
    x = simcc_x.argmax(axis=-1) / ratio_x
    y = simcc_y.argmax(axis=-1) / ratio_y
    score = np.minimum(simcc_x.max(axis=-1), simcc_y.max(axis=-1))
    return np.stack([(x - pad[0]) / scale, (y - pad[1]) / scale, score], axis=-1)


def openpose_keypoints(coco: np.ndarray) -> np.ndarray:
    """(18, 3) OpenPose keypoints from (17, 3) COCO ones; the neck joins the shoulders."""
    out = np.zeros((len(OPENPOSE_FROM_COCO), 3), dtype=np.float64)
    for index, source in enumerate(OPENPOSE_FROM_COCO):
        if source is not None:
            out[index] = coco[source]
    left, right = coco[5], coco[6]
    out[1] = [(left[0] + right[0]) / 2, (left[1] + right[1]) / 2, min(left[2], right[2])]
    return out


def draw_openpose(points: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """OpenPose's body drawing: 60 % limbs as ellipses, full-colour joints, on black."""
    width, height = size
    canvas = np.zeros((height, width, 3), dtype=np.uint8)
    stick = max(1, round(4 * max(width, height) / 512))  # 4 px at OpenPose's 512 px
    visible = points[:, 2] >= MIN_SCORE
    for (a, b), colour in zip(LIMBS, COLOURS, strict=False):
        if not (visible[a] and visible[b]):
            continue
        (x1, y1), (x2, y2) = points[a, :2], points[b, :2]
        length = math.hypot(x2 - x1, y2 - y1)
        angle = math.degrees(math.atan2(y2 - y1, x2 - x1))
        polygon = cv2.ellipse2Poly(
            (round((x1 + x2) / 2), round((y1 + y2) / 2)),
            (round(length / 2), stick),
            round(angle),
            0,
            360,
            1,
        )
        cv2.fillConvexPoly(canvas, polygon, [round(c * 0.6) for c in colour])
    for (x, y, _), colour, seen in zip(points, COLOURS, visible, strict=True):
        if seen:
            cv2.circle(canvas, (round(x), round(y)), stick, colour, thickness=-1)
    return canvas
