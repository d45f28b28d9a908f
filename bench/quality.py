"""Benchmark the quality stage: milliseconds per 768x768 PNG per core, decode included.

Makes its own photo-like PNGs (scikit-image photos enlarged to 768x768 with mild sensor
noise, so they compress like generated images rather than like flat test patterns), then
times `score_images` with 1 worker and with every core, and the decode and metric steps
alone. Per-core figures are CPU time (steady, even on a busy machine); wall-clock figures
are printed beside them, with the load average. Prints one JSON object.
Target: at most 20 ms per image per core.

    .venv/bin/python bench/quality.py [--images 48] [--size 768]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
from PIL import Image
from skimage import data

from charfolio.core.imaging import read_rgb
from charfolio.quality import MainFace, measure_image, score_images

TARGET_MS = 20.0
PHOTOS = ("astronaut", "coffee", "chelsea", "rocket", "motorcycle_left", "immunohistochemistry")


def make_images(root: Path, count: int, size: int) -> list[str]:
    rng = np.random.default_rng(0)
    photos = []
    for name in PHOTOS:
        loader = getattr(data, name, None)
        if loader is not None:
            photos.append(np.asarray(loader())[..., :3])
    files = []
    for i in range(count):
        rgb = cv2.resize(photos[i % len(photos)], (size, size), interpolation=cv2.INTER_CUBIC)
        noisy = np.clip(rgb + rng.normal(0, 3, rgb.shape), 0, 255).astype(np.uint8)
        name = f"img_{i:04d}.png"
        Image.fromarray(noisy).save(root / name)
        files.append(name)
    return files


def per_image_ms(seconds: float, images: int, cores: int = 1) -> float:
    return round(1000.0 * seconds * cores / images, 2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=48)
    parser.add_argument("--size", type=int, default=768)
    args = parser.parse_args()
    n = args.images
    cores = (
        len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    )
    cv2.setNumThreads(1)  # one core per image, as in the workers
    quiet = lambda _: None  # noqa: E731
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        files = make_images(root, n, args.size)
        # A face box in the middle third: the face measures run as on a portrait.
        third = args.size / 3
        faces = dict.fromkeys(files, MainFace(0.95, (third, third, 2 * third, 2 * third)))
        mean_kb = sum((root / f).stat().st_size for f in files) / len(files) / 1024

        # CPU time: what one core spends per image, whatever else the machine is running.
        cpu = time.process_time()
        arrays = [read_rgb(root / f).array for f in files]
        decode_cpu = time.process_time() - cpu
        cpu = time.process_time()
        for rgb in arrays:
            measure_image(rgb, (args.size / 3, args.size / 3, 2 * args.size / 3, 2 * args.size / 3))
        metrics_cpu = time.process_time() - cpu
        del arrays

        cpu, wall = time.process_time(), time.perf_counter()
        score_images(files, root, faces, workers=1, log=quiet)
        one_cpu, one_wall = time.process_time() - cpu, time.perf_counter() - wall

        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        wall = time.perf_counter()
        score_images(files, root, faces, workers=cores, log=quiet)
        pool_wall = time.perf_counter() - wall  # includes spawning and importing in the workers
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        pool_cpu = (after.ru_utime + after.ru_stime) - (children.ru_utime + children.ru_stime)

    result = {
        "bench": "quality",
        "images": n,
        "size": f"{args.size}x{args.size}",
        "mean_png_kb": round(mean_kb, 1),
        "cores": cores,
        "load_average_1min": round(os.getloadavg()[0], 2),
        "decode_cpu_ms": per_image_ms(decode_cpu, n),
        "metrics_cpu_ms": per_image_ms(metrics_cpu, n),
        "ms_per_image_per_core": per_image_ms(one_cpu, n),  # 1 worker, CPU time
        "ms_per_image_1_worker_wall": per_image_ms(one_wall, n),
        f"ms_per_image_per_core_{cores}_workers_wall": per_image_ms(pool_wall, n, cores),
        f"ms_per_image_{cores}_workers_cpu_incl_worker_startup": per_image_ms(pool_cpu, n),
        "target_ms": TARGET_MS,
        "meets_target": per_image_ms(one_cpu, n) <= TARGET_MS,
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
