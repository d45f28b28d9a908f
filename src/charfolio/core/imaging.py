"""The one safe image reader every stage uses, and a process pool for per-image work.

`read_rgb` turns any file into an HxWx3 uint8 RGB array or a reason, and never raises for a
bad file: the pipeline records a row with the reason and goes on with the other images.
It opens regular files only (a FIFO or a link to a device is refused, never opened), refuses
huge images from the header alone (before any pixel is decoded), refuses
truncated files instead of accepting Pillow's partial decode, applies the EXIF orientation
exactly once (Pillow's `exif_transpose`; OpenCV's decoders, which rotate on their own, are
never used for reading), and normalises every mode: palette, greyscale, 1-bit, CMYK,
16-bit and alpha (composited on white, the background a viewer shows).
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, TypeVar

import numpy as np
from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError

from charfolio.core.progress import Progress
from charfolio.core.regular_file import NotRegularFile, open_regular

UNREADABLE = "unreadable"
# 40 MP: far above generated images (SDXL 1024x1024 is 1 MP, a 4x upscale 17 MP) and
# 120 MB as RGB. Pillow's own guard still refuses anything above 2 x 89.5 MP at open.
DEFAULT_MAX_PIXELS = 40_000_000

_ALPHA_MODES = {"RGBA", "LA", "PA", "RGBa", "La"}


@dataclass(frozen=True)
class ImageRead:
    """A decoded image (`array`), or why not (`reason` = "unreadable" and a `detail`).

    `width`/`height` are the displayed size (after EXIF orientation) when decoded, the
    header size when refused for size, and None when the header could not be read.
    `detail` starts with a code: missing, os_error, not_a_file, zero_bytes, not_an_image,
    too_many_pixels, truncated, decode_failed, unsupported_mode; then the file and what
    was wrong.
    """

    array: np.ndarray | None
    reason: str | None
    width: int | None
    height: int | None
    detail: str | None

    @property
    def ok(self) -> bool:
        return self.array is not None


def _fail(code: str, message: str, size: tuple[int, int] | None = None) -> ImageRead:
    width, height = size if size is not None else (None, None)
    return ImageRead(None, UNREADABLE, width, height, f"{code}: {message}")


@contextlib.contextmanager
def _refuse_truncated() -> Iterator[None]:
    # Pillow's global switch would make a truncated file decode as a partial image; make
    # sure it is off while we decode even if other code in the process turned it on.
    saved = ImageFile.LOAD_TRUNCATED_IMAGES
    ImageFile.LOAD_TRUNCATED_IMAGES = False
    try:
        yield
    finally:
        ImageFile.LOAD_TRUNCATED_IMAGES = saved


def _decode_failure(path: Path, exc: Exception, size: tuple[int, int] | None) -> ImageRead:
    truncated = isinstance(exc, EOFError) or "truncat" in str(exc).lower()
    code = "truncated" if truncated else "decode_failed"
    return _fail(code, f"{path}: {type(exc).__name__}: {exc}", size)


def _to_rgb(im: Image.Image) -> np.ndarray:
    """Any decoded Pillow image as HxWx3 uint8 RGB."""
    mode = im.mode
    if mode == "RGB":
        return np.asarray(im)
    if mode in ("I;16", "I;16L", "I;16B", "I;16N", "I"):
        # Pillow's convert("RGB") clips 16-bit values to 255 (a white image); scale instead.
        # Mode I (32-bit) comes from 16-bit PNG/TIFF in older Pillow: read as 16-bit range.
        wide = np.clip(np.asarray(im, dtype=np.int64), 0, 65535)
        grey = (wide >> 8).astype(np.uint8)
        return np.repeat(grey[:, :, None], 3, axis=2)
    if mode == "F":
        values = np.nan_to_num(np.asarray(im, dtype=np.float64))
        scale = 255.0 if values.size and values.max() <= 1.0 else 1.0  # [0,1] floats or 0-255
        grey = np.clip(values * scale, 0, 255).round().astype(np.uint8)
        return np.repeat(grey[:, :, None], 3, axis=2)
    if (mode == "P" and "transparency" in im.info) or mode in _ALPHA_MODES:
        rgba = np.asarray(im.convert("RGBA"), dtype=np.uint16)
        alpha = rgba[:, :, 3:4]
        # Integer "over white": rgb * a + 255 * (1 - a), rounded.
        out = (rgba[:, :, :3] * alpha + 255 * (255 - alpha) + 127) // 255
        return out.astype(np.uint8)
    # 1, L, P, CMYK, YCbCr, LAB, HSV: Pillow's conversions (CMYK without an ICC transform).
    return np.asarray(im.convert("RGB"))


def read_rgb(path: str | os.PathLike[str], max_pixels: int = DEFAULT_MAX_PIXELS) -> ImageRead:
    """Read one image as RGB uint8, or return why it cannot be used. Never raises for a bad file."""
    path = Path(path)
    try:
        handle = open_regular(path)  # never blocks on a FIFO, never opens a device
    except FileNotFoundError:
        dangling = " (a dangling link)" if path.is_symlink() else ""
        return _fail("missing", f"{path} does not exist{dangling}")
    except NotRegularFile as exc:
        return _fail("not_a_file", str(exc))
    except OSError as exc:  # no permission, a symlink loop, ...
        return _fail("os_error", f"{path}: {exc.strerror or exc}")
    with handle:
        return _read_open(path, handle, max_pixels)


def _read_open(path: Path, handle: BinaryIO, max_pixels: int) -> ImageRead:
    size = os.fstat(handle.fileno()).st_size
    if size == 0:
        return _fail(
            "zero_bytes", f"{path} is empty (0 bytes): an interrupted write; rerun what made it"
        )
    try:
        with Image.open(handle) as im:
            header = (im.width, im.height)
            if im.width * im.height > max_pixels:
                return _fail(
                    "too_many_pixels",
                    f"{path} is {im.width}x{im.height} = {im.width * im.height:,} pixels, above "
                    f"the {max_pixels:,}-pixel limit; not decoded",
                    header,
                )
            if im.width <= 0 or im.height <= 0:
                return _fail("not_an_image", f"{path} has an empty size {im.width}x{im.height}")
            with _refuse_truncated():
                try:
                    im.load()
                except Exception as exc:
                    return _decode_failure(path, exc, header)
            with contextlib.suppress(Exception):  # a broken EXIF block leaves the pixels as stored
                ImageOps.exif_transpose(im, in_place=True)
            try:
                array = np.ascontiguousarray(_to_rgb(im))
            except (ValueError, OSError) as exc:
                return _fail("unsupported_mode", f"{path}: mode {im.mode}: {exc}", header)
    except Image.DecompressionBombError as exc:
        return _fail("too_many_pixels", f"{path}: {exc}; not decoded")
    except UnidentifiedImageError:
        return _fail("not_an_image", f"{path} is not an image Pillow can identify ({size} bytes)")
    except Exception as exc:  # any other decoder failure is this file's problem, not the run's
        return _decode_failure(path, exc, None)
    height, width = array.shape[:2]
    return ImageRead(array, None, width, height, None)


T = TypeVar("T")
R = TypeVar("R")


def map_images(
    fn: Callable[[T], R],
    items: Sequence[T],
    workers: int,
    progress: Progress | None = None,
    initializer: Callable[[], None] | None = None,
) -> list[R]:
    """`[fn(item) for item in items]` over `workers` processes, in order, with progress.

    `fn` must be a module-level function (it is pickled). Workers are spawned, not forked,
    so a parent that already loaded threaded libraries (torch, OpenCV) cannot deadlock them;
    `initializer` runs once in each worker (not in the parent when `workers` <= 1).
    """
    results: list[R] = []
    if workers <= 1 or len(items) <= 1:
        for item in items:
            results.append(fn(item))
            if progress is not None:
                progress.advance()
        return results
    n = min(workers, len(items))
    chunksize = max(1, min(32, len(items) // (n * 8)))
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=n, mp_context=context, initializer=initializer) as pool:
        for result in pool.map(fn, items, chunksize=chunksize):
            results.append(result)
            if progress is not None:
                progress.advance()
    return results
