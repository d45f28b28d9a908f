"""read_rgb on hostile files the tests make themselves: each is read correctly or refused."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image, ImageFile

from charfolio.core.imaging import UNREADABLE, map_images, read_rgb


def _code(read) -> str:
    return read.detail.split(":", 1)[0]


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _png(width: int, height: int, bit_depth: int, colour_type: int, idat: bytes) -> bytes:
    ihdr = struct.pack(">IIBBBBB", width, height, bit_depth, colour_type, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", ihdr)
        + _png_chunk(b"IDAT", idat)
        + _png_chunk(b"IEND", b"")
    )


@pytest.fixture()
def no_decoding(monkeypatch):
    """Fail the test if any pixel data is decoded."""

    def refuse(self):
        raise AssertionError("pixel data was decoded")

    monkeypatch.setattr(ImageFile.ImageFile, "load", refuse)


def _gradient(h: int = 48, w: int = 64) -> np.ndarray:
    y, x = np.mgrid[0:h, 0:w]
    return np.stack([x * 255 // (w - 1), y * 255 // (h - 1), (x + y) % 256], axis=2).astype(
        np.uint8
    )


def test_rgb_png_round_trip(tmp_path: Path) -> None:
    rgb = _gradient()
    Image.fromarray(rgb).save(tmp_path / "a.png")
    read = read_rgb(tmp_path / "a.png")
    assert read.ok and read.reason is None and read.detail is None
    assert (read.width, read.height) == (64, 48)
    assert read.array.dtype == np.uint8 and read.array.flags.c_contiguous
    np.testing.assert_array_equal(read.array, rgb)


def test_header_bomb_refused_before_decoding(tmp_path: Path, no_decoding) -> None:
    # 30000 x 30000 RGB declared in the header, a few bytes of data behind it.
    path = tmp_path / "bomb.png"
    path.write_bytes(_png(30000, 30000, 8, 2, zlib.compress(b"\x00" * 100)))
    read = read_rgb(path)
    assert read.array is None and read.reason == UNREADABLE
    assert _code(read) == "too_many_pixels"


def test_real_one_bit_20000_square_png_is_not_decoded(tmp_path: Path, no_decoding) -> None:
    # A valid 1-bit 20000 x 20000 PNG (400 MP of zeros, about 50 KB compressed).
    packer = zlib.compressobj(9)
    row = b"\x00" + b"\x00" * (20000 // 8)
    idat = b"".join(packer.compress(row) for _ in range(20000)) + packer.flush()
    path = tmp_path / "onebit.png"
    path.write_bytes(_png(20000, 20000, 1, 0, idat))
    read = read_rgb(path)
    assert not read.ok and _code(read) == "too_many_pixels"


def test_pixel_limit_is_configurable_and_reports_the_header_size(
    tmp_path: Path, no_decoding
) -> None:
    Image.new("1", (8000, 6000)).save(tmp_path / "big.png")  # 48 MP, under Pillow's own guard
    read = read_rgb(tmp_path / "big.png")
    assert not read.ok and _code(read) == "too_many_pixels"
    assert (read.width, read.height) == (8000, 6000)
    Image.new("RGB", (100, 100)).save(tmp_path / "small.png")
    read = read_rgb(tmp_path / "small.png", max_pixels=5000)
    assert not read.ok and _code(read) == "too_many_pixels" and "5,000" in read.detail


@pytest.mark.parametrize("fmt", ["PNG", "JPEG"])
def test_truncated_files_are_refused_not_partially_decoded(tmp_path: Path, fmt: str) -> None:
    rng = np.random.default_rng(0)
    buf = io.BytesIO()
    Image.fromarray(rng.integers(0, 256, (256, 256, 3), dtype=np.uint8)).save(buf, format=fmt)
    path = tmp_path / f"cut.{fmt.lower()}"
    path.write_bytes(buf.getvalue()[: len(buf.getvalue()) // 2])
    read = read_rgb(path)
    assert not read.ok and read.reason == UNREADABLE
    assert _code(read) == "truncated", read.detail
    assert (read.width, read.height) == (256, 256)


def test_truncated_refused_even_if_someone_allowed_partial_images(
    tmp_path: Path, monkeypatch
) -> None:
    buf = io.BytesIO()
    Image.fromarray(_gradient(128, 128)).save(buf, format="JPEG")
    (tmp_path / "cut.jpg").write_bytes(buf.getvalue()[:400])
    monkeypatch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", True)
    assert _code(read_rgb(tmp_path / "cut.jpg")) == "truncated"
    assert ImageFile.LOAD_TRUNCATED_IMAGES is True  # restored


def test_corrupt_png_data_is_a_reason(tmp_path: Path) -> None:
    Image.fromarray(_gradient()).save(tmp_path / "a.png")
    data = bytearray((tmp_path / "a.png").read_bytes())
    data[60:80] = b"\xff" * 20  # inside IDAT: bad zlib stream / CRC
    (tmp_path / "bad.png").write_bytes(bytes(data))
    read = read_rgb(tmp_path / "bad.png")
    assert not read.ok and read.reason == UNREADABLE and read.detail


def test_zero_bytes_missing_directory_and_text(tmp_path: Path) -> None:
    (tmp_path / "empty.png").write_bytes(b"")
    (tmp_path / "notes.jpg").write_text("this is not a picture\n")
    (tmp_path / "folder.png").mkdir()
    cases = {
        "empty.png": "zero_bytes",
        "notes.jpg": "not_an_image",
        "folder.png": "not_a_file",
        "absent.png": "missing",
    }
    for name, code in cases.items():
        read = read_rgb(tmp_path / name)
        assert read.array is None and read.reason == UNREADABLE, name
        assert _code(read) == code and name in read.detail


def test_cmyk_jpeg(tmp_path: Path) -> None:
    rgb = _gradient()
    Image.fromarray(rgb).convert("CMYK").save(tmp_path / "cmyk.jpg", quality=95)
    assert Image.open(tmp_path / "cmyk.jpg").mode == "CMYK"
    read = read_rgb(tmp_path / "cmyk.jpg")
    assert read.ok and read.array.shape == (48, 64, 3)
    assert np.abs(read.array.astype(int) - rgb).mean() < 6


def test_sixteen_bit_grey_and_rgb48_png(tmp_path: Path) -> None:
    rgb = _gradient()
    grey16 = rgb[:, :, 0].astype(np.uint16) * 257
    Image.fromarray(grey16).save(tmp_path / "grey16.png")
    assert Image.open(tmp_path / "grey16.png").mode.startswith("I")
    read = read_rgb(tmp_path / "grey16.png")
    assert read.ok
    np.testing.assert_array_equal(read.array, np.repeat(rgb[:, :, :1], 3, axis=2))

    ok, buf = cv2.imencode(".png", (rgb.astype(np.uint16) * 257)[:, :, ::-1])
    assert ok
    (tmp_path / "rgb48.png").write_bytes(buf.tobytes())
    read = read_rgb(tmp_path / "rgb48.png")
    assert read.ok
    np.testing.assert_array_equal(read.array, rgb)


def test_alpha_is_composited_on_white(tmp_path: Path) -> None:
    rgba = np.zeros((10, 20, 4), dtype=np.uint8)
    rgba[:, :10] = (255, 0, 0, 255)  # opaque red
    rgba[:, 10:] = (0, 0, 255, 0)  # fully transparent blue
    rgba[0, 0] = (0, 0, 0, 128)  # half-transparent black
    Image.fromarray(rgba, "RGBA").save(tmp_path / "rgba.png")
    out = read_rgb(tmp_path / "rgba.png").array
    assert tuple(out[5, 5]) == (255, 0, 0)
    assert tuple(out[5, 15]) == (255, 255, 255)
    assert tuple(out[0, 0]) == (127, 127, 127)

    Image.fromarray(rgba, "RGBA").convert("LA").save(tmp_path / "la.png")
    out = read_rgb(tmp_path / "la.png").array
    assert tuple(out[5, 15]) == (255, 255, 255) and out[5, 5, 0] == out[5, 5, 1] == out[5, 5, 2]


def test_palette_greyscale_and_one_bit(tmp_path: Path) -> None:
    rgb = _gradient()
    Image.fromarray(rgb).convert("P", palette=Image.Palette.ADAPTIVE, colors=16).save(
        tmp_path / "p.png"
    )
    read = read_rgb(tmp_path / "p.png")
    assert read.ok and read.array.shape == (48, 64, 3)
    assert np.abs(read.array.astype(int) - rgb).mean() < 25

    pal = Image.new("P", (8, 8), 1)
    pal.putpalette([0, 0, 0, 10, 200, 30] + [0] * 762)
    pal.info["transparency"] = 1
    pal.save(tmp_path / "ptrans.png", transparency=1)
    assert tuple(read_rgb(tmp_path / "ptrans.png").array[0, 0]) == (255, 255, 255)

    Image.fromarray(rgb[:, :, 1]).save(tmp_path / "l.png")
    np.testing.assert_array_equal(read_rgb(tmp_path / "l.png").array[:, :, 2], rgb[:, :, 1])

    one = Image.new("1", (16, 8), 0)
    one.putpixel((3, 2), 1)
    out = read_rgb(_save(one, tmp_path / "one.png")).array
    assert tuple(out[2, 3]) == (255, 255, 255) and tuple(out[0, 0]) == (0, 0, 0)


def _save(im: Image.Image, path: Path, **kwargs) -> Path:
    im.save(path, **kwargs)
    return path


@pytest.mark.parametrize("suffix", ["jpg", "png"])
def test_exif_orientation_6_is_applied_exactly_once(tmp_path: Path, suffix: str) -> None:
    # Stored 40 wide x 20 high, left half red, right half blue; orientation 6 means
    # "rotate 90 degrees clockwise to display": 20 wide x 40 high, red on top.
    stored = np.zeros((20, 40, 3), dtype=np.uint8)
    stored[:, :20] = (255, 0, 0)
    stored[:, 20:] = (0, 0, 255)
    exif = Image.Exif()
    exif[0x0112] = 6
    path = _save(Image.fromarray(stored), tmp_path / f"o6.{suffix}", exif=exif.tobytes())
    read = read_rgb(path)
    assert read.ok and (read.width, read.height) == (20, 40)
    assert read.array.shape == (40, 20, 3)
    top, bottom = read.array[5, 10].astype(int), read.array[35, 10].astype(int)
    assert top[0] > 200 and top[2] < 60  # red
    assert bottom[2] > 200 and bottom[0] < 60  # blue


def test_map_images_keeps_order_across_processes() -> None:
    assert map_images(abs, [-3, 1, -2, 5], workers=2) == [3, 1, 2, 5]
    assert map_images(abs, [-3, 1], workers=1) == [3, 1]
