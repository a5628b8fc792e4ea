"""Camera frame headers and decoding (vision.motion.frames): sizes off the header, limits before pixels."""

from __future__ import annotations

import io
import struct
from collections.abc import Callable

import cv2
import numpy as np
import pytest
from PIL import Image

from vision.errors import ImageDecodeError, ImageTooLarge
from vision.motion.frames import FrameLimits, decode_frame_small, frame_size


def _picture(width: int = 97, height: int = 61) -> np.ndarray:
    rng = np.random.default_rng(1)
    return rng.integers(0, 256, (height, width, 3), dtype=np.uint8)


def _pillow(array: np.ndarray, fmt: str, **options: object) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, fmt, **options)
    return buffer.getvalue()


def _opencv_jpeg(array: np.ndarray) -> bytes:
    ok, encoded = cv2.imencode(".jpg", array)
    assert ok
    return encoded.tobytes()


def _with_sof_size(jpeg: bytes, width: int, height: int) -> bytes:
    """The same JPEG with its baseline frame header announcing another size."""
    at = jpeg.index(b"\xff\xc0")
    return jpeg[: at + 5] + struct.pack(">HH", height, width) + jpeg[at + 9 :]


@pytest.mark.parametrize(
    "encode",
    [
        pytest.param(_opencv_jpeg, id="jpeg-opencv"),
        pytest.param(lambda a: _pillow(a, "JPEG", quality=80), id="jpeg-pillow"),
        pytest.param(lambda a: _pillow(a, "JPEG", progressive=True), id="jpeg-progressive"),
        pytest.param(
            lambda a: _pillow(a, "JPEG", exif=Image.Exif(), comment=b"cam 7"), id="jpeg-app-segments"
        ),
        pytest.param(lambda a: _pillow(a, "PNG"), id="png"),
    ],
)
def test_header_size_is_the_picture_size(encode: Callable[[np.ndarray], bytes]) -> None:
    data = encode(_picture(97, 61))
    assert frame_size(data)[1] == (97, 61)
    with Image.open(io.BytesIO(data)) as image:
        assert frame_size(data)[1] == image.size


def test_fill_bytes_before_a_marker_are_skipped() -> None:
    data = _opencv_jpeg(_picture())
    padded = data[:2] + b"\xff\xff\xff" + data[2:]  # fill bytes (0xFF) may precede any marker
    assert frame_size(padded)[1] == (97, 61)


def test_a_frame_header_announcing_too_many_pixels_is_refused_before_decoding() -> None:
    bomb = _with_sof_size(_opencv_jpeg(_picture()), 60000, 60000)
    with pytest.raises(ImageTooLarge, match="pixels"):
        frame_size(bomb)
    with pytest.raises(ImageTooLarge):
        decode_frame_small(bomb, 320)
    with pytest.raises(ImageTooLarge):
        frame_size(_opencv_jpeg(_picture()), FrameLimits(max_pixels=97 * 61 - 1))


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(b"\xff\xd8\xff\xe0\x00\x10JFIF", id="cut-in-a-segment"),
        pytest.param(b"\xff\xd8\xff\xda\x00\x08" + bytes(40), id="scan-before-frame"),
        pytest.param(b"\xff\xd8\x00\x00" + bytes(40), id="no-marker"),
    ],
)
def test_unreadable_jpeg_headers_are_decode_errors(data: bytes) -> None:
    with pytest.raises(ImageDecodeError):
        frame_size(data)


def test_zero_size_header_is_refused() -> None:
    with pytest.raises(ImageDecodeError, match="no pixels"):
        frame_size(_with_sof_size(_opencv_jpeg(_picture()), 0, 61))


def test_small_decode_reports_the_full_size() -> None:
    frame = decode_frame_small(_opencv_jpeg(_picture(1280, 720)), 320)
    assert frame.full_size == (1280, 720)
    assert frame.image.shape == (180, 320, 3)  # decoded at 1/4 by libjpeg
