"""ControlNet condition images from a picture: canny edges (OpenCV) and depth (transformers).

Both return an RGB image the size of the input, the form the lllyasviel ControlNets were
trained on: white edges on black; depth as grey levels, near = bright.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import torch
from PIL import Image
from transformers import AutoImageProcessor, AutoModelForDepthEstimation

from charfolio.core.config import ModelFileError

FETCH_HINT = "`charfolio models --config <your config>` fetches the config's model files"


class CannyMapper:
    """Canny edges of the grey image, hysteresis thresholds `low` / `high` (0-255)."""

    def __init__(self, low: int, high: int) -> None:
        self.low, self.high = low, high

    def __call__(self, image: Image.Image) -> Image.Image:
        grey = cv2.cvtColor(np.asarray(image.convert("RGB")), cv2.COLOR_RGB2GRAY)
        edges = cv2.Canny(grey, self.low, self.high)
        return Image.fromarray(np.repeat(edges[:, :, None], 3, axis=2))


class DepthMapper:
    """Relative depth from a local transformers depth-estimation model (DPT, Depth Anything).

    The models predict relative inverse depth, so min-max scaling per image makes near
    things bright, as the depth ControlNets expect.
    """

    def __init__(self, folder: Path, device: torch.device) -> None:
        self.folder = folder
        self.device = device
        try:
            self.processor = AutoImageProcessor.from_pretrained(folder, local_files_only=True)
            self.model = AutoModelForDepthEstimation.from_pretrained(
                folder, local_files_only=True, use_safetensors=True
            )
        except OSError as error:  # missing files, or only pytorch_model.bin (pickle)
            raise ModelFileError(
                f"{folder}: cannot load a depth-estimation model (config.json, "
                f"preprocessor_config.json and .safetensors weights) offline ({error}); "
                f"{FETCH_HINT}"
            ) from error
        self.model.to(device).eval()

    @torch.no_grad()
    def __call__(self, image: Image.Image) -> Image.Image:
        rgb = image.convert("RGB")
        inputs = self.processor(images=rgb, return_tensors="pt").to(self.device)
        depth = self.model(**inputs).predicted_depth.float()
        depth = (
            torch.nn.functional.interpolate(
                depth[:, None], size=(rgb.height, rgb.width), mode="bicubic", align_corners=False
            )[0, 0]
            .cpu()
            .numpy()
        )
        low, high = float(depth.min()), float(depth.max())
        scaled = (depth - low) / (high - low) if high > low else np.zeros_like(depth)
        grey = np.round(scaled * 255).astype(np.uint8)
        return Image.fromarray(np.repeat(grey[:, :, None], 3, axis=2))
