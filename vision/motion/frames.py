"""Decoding camera frames (JPEG or PNG), straight to the screener's small size where JPEG allows it.

A 1280×720 JPEG decoded at full size costs several times the screening itself; libjpeg can instead
decode at 1/2, 1/4 or 1/8 scale by dropping DCT coefficients (``cv2.IMREAD_REDUCED_*``), which is the
bulk of what makes 40+ cameras per core possible. The header is read first (byte and pixel limits, the
full-resolution size for boxes), and nothing is returned for bytes that do not decode, so a corrupt frame
never reaches a camera's state.
"""

from __future__ import annotations

import io
import struct
import warnings
from dataclasses import dataclass
from typing import cast

import cv2
import numpy as np
from PIL import Image

from vision.errors import ImageDecodeError, UnsupportedImageType
from vision.io import ImageLimits, check_byte_count, check_pixel_count, sniff_format


@dataclass(frozen=True)
class FrameLimits(ImageLimits):
    """Limits on one camera frame: a camera frame is at most a few megabytes and 8K pixels wide."""

    max_bytes: int = 16 * 1024 * 1024
    max_pixels: int = 7680 * 4320


DEFAULT_FRAME_LIMITS = FrameLimits()

FRAME_FORMATS = ("jpeg", "png")

# JPEG start-of-frame markers (baseline, progressive, lossless, arithmetic), whose segment holds the size;
# C4 (DHT), C8 (JPG) and CC (DAC) share the range but are not frames.
_JPEG_FRAME_MARKERS = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
# Markers that stand alone (no length): TEM, RST0-7, SOI.
_JPEG_STANDALONE = frozenset({0x01, *range(0xD0, 0xD9)})

_REDUCED_COLOR = {2: cv2.IMREAD_REDUCED_COLOR_2, 4: cv2.IMREAD_REDUCED_COLOR_4, 8: cv2.IMREAD_REDUCED_COLOR_8}


@dataclass(frozen=True)
class SmallFrame:
    """A frame decoded at (about) the processing width.

    Attributes:
        image: BGR uint8 picture, at least ``processing_width`` wide unless the frame is narrower.
        full_size: the frame's full-resolution ``(width, height)``.
    """

    image: np.ndarray
    full_size: tuple[int, int]


def frame_size(data: bytes, limits: FrameLimits | None = None) -> tuple[str, tuple[int, int]]:
    """Check an encoded frame's bytes and header; return its format and full ``(width, height)``.

    Raises:
        ImageDecodeError: empty, not an image, or an unreadable header.
        UnsupportedImageType: an image, but not JPEG or PNG.
        ImageTooLarge: over the byte or pixel limit.
    """
    limits = limits or DEFAULT_FRAME_LIMITS
    check_byte_count(data, limits)
    image_format = sniff_format(data)
    if image_format not in FRAME_FORMATS:
        raise UnsupportedImageType(f"{image_format.upper()} frames are not accepted; send JPEG or PNG")
    size = _header_size(data, image_format)
    if size is None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            try:
                with Image.open(io.BytesIO(data)) as image:
                    size = image.size
            except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as error:
                raise ImageDecodeError(f"cannot read {image_format.upper()} header: {error}") from None
    width, height = size
    if width <= 0 or height <= 0:
        raise ImageDecodeError("frame header announces no pixels")
    check_pixel_count(width * height, limits)
    return image_format, (width, height)


def _header_size(data: bytes, image_format: str) -> tuple[int, int] | None:
    """``(width, height)`` read straight off a PNG's IHDR or a JPEG's frame header, in a few microseconds
    (opening the frame with Pillow for the same took ~0.2 ms, a twentieth of a camera's frame budget);
    None where the header is not where a well-formed file has it, and Pillow decides."""
    if image_format == "png":
        if data[12:16] != b"IHDR" or len(data) < 24:
            return None
        return cast(tuple[int, int], struct.unpack(">II", data[16:24]))
    at = 2  # after SOI
    while at + 4 <= len(data):
        if data[at] != 0xFF:
            return None
        marker = data[at + 1]
        if marker == 0xFF:  # fill byte before a marker
            at += 1
            continue
        if marker in _JPEG_STANDALONE:
            at += 2
            continue
        if marker in _JPEG_FRAME_MARKERS:
            if at + 9 > len(data):
                return None
            height, width = struct.unpack(">HH", data[at + 5 : at + 9])
            return width, height
        if marker == 0xDA:  # start of scan before any frame header: not a well-formed file
            return None
        at += 2 + struct.unpack(">H", data[at + 2 : at + 4])[0]
    return None


def decode_frame_small(data: bytes, processing_width: int, limits: FrameLimits | None = None) -> SmallFrame:
    """Decode a frame at the smallest JPEG scale still at least ``processing_width`` wide.

    Raises:
        ImageDecodeError, UnsupportedImageType, ImageTooLarge: see ``frame_size``; ImageDecodeError also
        when the pixel data is corrupt or truncated.
    """
    image_format, (width, height) = frame_size(data, limits)
    flag = cv2.IMREAD_COLOR
    if image_format == "jpeg":
        for factor in (8, 4, 2):
            if -(-width // factor) >= processing_width:
                flag = _REDUCED_COLOR[factor]
                break
    image = cv2.imdecode(np.frombuffer(data, np.uint8), flag)
    if image is None:
        raise ImageDecodeError(f"corrupt or truncated {image_format.upper()} frame")
    return SmallFrame(image=image, full_size=(width, height))


def decode_frame(data: bytes, limits: FrameLimits | None = None) -> np.ndarray:
    """Decode a frame at full resolution (BGR uint8), after the same checks as ``decode_frame_small``."""
    image_format, _ = frame_size(data, limits)
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if image is None:
        raise ImageDecodeError(f"corrupt or truncated {image_format.upper()} frame")
    return image
