"""Decoding scanner images (PNG, JPEG, TIFF 8/16-bit, DICOM/DICOS, raw dual-energy pairs) with limits.

Every path in goes through the same steps, one function each: check the byte count, sniff the format from
its magic bytes (the client's declared type is only checked, never trusted), read the pixel count from the
header *before* decoding (so a decompression bomb costs a header read, not gigabytes), decode, and convert
to the 8-bit RGB picture the model sees. 16-bit data is read raw and never clipped by a mode conversion.
"""

from __future__ import annotations

import io
import pathlib
import warnings
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
from PIL import Image

from vision.errors import ChannelMismatch, ImageDecodeError, ImageTooLarge, UnsupportedImageType
from vision.physics.colour import false_colour

FORMATS = ("png", "jpeg", "tiff", "dicom")

# What an image is, decided from its pixels before it is judged: a dual-energy scanner's false-colour
# rendering, a single-energy scanner's grey picture, or a raw dual-energy pair (rendered to false colour).
FALSE_COLOUR, GREY, DUAL_ENERGY = "false-colour", "grey", "dual-energy"
MODALITIES = (FALSE_COLOUR, GREY, DUAL_ENERGY)

# Content types a client may declare; the bytes' own magic decides the format.
ACCEPTED_CONTENT_TYPES = frozenset(
    {
        "image/png",
        "image/jpeg",
        "image/jpg",
        "image/pjpeg",
        "image/tiff",
        "image/tif",
        "application/dicom",
        "application/octet-stream",
    }
)

_MAGIC: tuple[tuple[bytes, int, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", 0, "png"),
    (b"\xff\xd8\xff", 0, "jpeg"),
    (b"II*\x00", 0, "tiff"),
    (b"MM\x00*", 0, "tiff"),
    (b"DICM", 128, "dicom"),
)

# Recognisable images we refuse (HTTP 415), as opposed to bytes that are no image at all (HTTP 400).
_REFUSED_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"GIF8", "GIF"),
    (b"BM", "BMP"),
    (b"RIFF", "WebP/RIFF"),
    (b"%PDF", "PDF"),
    (b"II+\x00", "BigTIFF"),
    (b"MM\x00+", "BigTIFF"),
    (b"\x00\x00\x00\x0cjP", "JPEG 2000"),
)


@dataclass(frozen=True)
class ImageLimits:
    """Upper bounds on what we decode.

    Attributes:
        max_bytes: largest encoded size accepted.
        max_pixels: largest pixel count (width × height × frames) accepted.
    """

    max_bytes: int = 64 * 1024 * 1024
    max_pixels: int = 40_000_000


DEFAULT_LIMITS = ImageLimits()


@dataclass(frozen=True)
class DecodedImage:
    """A decoded scan.

    Attributes:
        rgb: H×W×3 uint8 RGB picture, what the model and the overlay use.
        format: "png", "jpeg", "tiff", "dicom" or "dual-energy".
        bit_depth: bits per sample of the source (8 or 16).
        modality: one of ``MODALITIES`` (:func:`pixel_modality`).
        raw_high: high-energy transmission in (0, 1], float32, when the source was a dual-energy pair.
        raw_low: low-energy transmission in (0, 1], float32, when the source was a dual-energy pair.
    """

    rgb: np.ndarray
    format: str
    bit_depth: int
    modality: str = FALSE_COLOUR
    raw_high: np.ndarray | None = None
    raw_low: np.ndarray | None = None

    @property
    def width(self) -> int:
        """Width in pixels."""
        return int(self.rgb.shape[1])

    @property
    def height(self) -> int:
        """Height in pixels."""
        return int(self.rgb.shape[0])


def check_content_type(declared_type: str | None) -> None:
    """Refuse a declared content type that is not an accepted image type.

    Raises:
        UnsupportedImageType: the type is declared and not accepted.
    """
    if declared_type is None:
        return
    base = declared_type.split(";")[0].strip().lower()
    if base and base not in ACCEPTED_CONTENT_TYPES:
        raise UnsupportedImageType(f"content type {base!r} is not accepted; send PNG, JPEG, TIFF or DICOM")


def check_byte_count(data: bytes, limits: ImageLimits) -> None:
    """Refuse empty data and data over ``limits.max_bytes``."""
    if not data:
        raise ImageDecodeError("empty image")
    if len(data) > limits.max_bytes:
        raise ImageTooLarge(f"image has {len(data)} bytes; the limit is {limits.max_bytes}")


def sniff_format(data: bytes) -> str:
    """The image format named by the data's magic bytes.

    Returns:
        One of ``FORMATS``.

    Raises:
        UnsupportedImageType: a recognisable image format we do not accept.
        ImageDecodeError: bytes that are no image we know.
    """
    for magic, offset, name in _MAGIC:
        if data[offset : offset + len(magic)] == magic:
            return name
    for magic, name in _REFUSED_MAGIC:
        if data.startswith(magic):
            raise UnsupportedImageType(f"{name} images are not accepted; send PNG, JPEG, TIFF or DICOM")
    raise ImageDecodeError("not a PNG, JPEG, TIFF or DICOM image")


def header_pixel_count(data: bytes, image_format: str) -> int:
    """Pixels (width × height × frames) the header announces, read without decoding the pixel data.

    Raises:
        ImageDecodeError: the header cannot be read.
        ImageTooLarge: the header is so large that the reader itself refuses it.
    """
    if image_format == "dicom":
        dataset = _read_dicom(data, stop_before_pixels=True)
        rows, columns = int(getattr(dataset, "Rows", 0)), int(getattr(dataset, "Columns", 0))
        frames = int(getattr(dataset, "NumberOfFrames", 1) or 1)
        if rows <= 0 or columns <= 0:
            raise ImageDecodeError("DICOM file has no image (Rows/Columns missing)")
        return rows * columns * frames
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            with Image.open(io.BytesIO(data)) as image:
                width, height = image.size
                frames = int(getattr(image, "n_frames", 1))
        except Image.DecompressionBombError as error:
            raise ImageTooLarge(f"image header announces too many pixels: {error}") from None
        except (OSError, ValueError, SyntaxError) as error:
            raise ImageDecodeError(f"cannot read {image_format.upper()} header: {error}") from None
    return width * height * frames


def check_pixel_count(pixels: int, limits: ImageLimits) -> None:
    """Refuse images over ``limits.max_pixels``."""
    if pixels > limits.max_pixels:
        raise ImageTooLarge(f"image has {pixels} pixels; the limit is {limits.max_pixels}")


def decode_image(
    data: bytes, limits: ImageLimits = DEFAULT_LIMITS, declared_type: str | None = None
) -> DecodedImage:
    """Decode one posted or read image.

    A TIFF or DICOM holding exactly two 16-bit grey frames is taken as a dual-energy pair (high, low).

    Args:
        data: the encoded bytes.
        limits: byte and pixel limits.
        declared_type: the client's content type, checked against ``ACCEPTED_CONTENT_TYPES``.

    Returns:
        The decoded image.

    Raises:
        UnsupportedImageType, ImageTooLarge, ImageDecodeError: see ``vision.errors``.
    """
    image_format, frames = decode_frames(data, limits, declared_type)
    if len(frames) == 2 and all(f.ndim == 2 and f.dtype == np.uint16 for f in frames):
        return _dual_energy(frames[0], frames[1])
    rgb = to_rgb8(frames[0])
    return DecodedImage(
        rgb=rgb,
        format=image_format,
        bit_depth=8 * frames[0].dtype.itemsize,
        modality=GREY if frames[0].ndim == 2 else pixel_modality(rgb),
    )


# A pixel holds matter where its darkest channel is below this (the tray and air are near white).
_MATTER_BELOW_8BIT = 230
# A matter pixel is coloured when its channels spread by more than this (JPEG chroma noise stays under).
_COLOURED_SPREAD = 24
# Measured: the share of coloured matter pixels is >= 0.12 on every third real false-colour scan of the
# SIXray and OPIXray sets and the other scanner's bags (385 scans; median 0.80-0.94), and 0.0 on the same
# scans turned grey and saved as JPEG (quality 70).
_MIN_COLOURED_SHARE = 0.02


def pixel_modality(rgb: np.ndarray) -> str:
    """``GREY`` for an RGB picture whose matter is uncoloured (a grey scan saved as RGB), else
    ``FALSE_COLOUR``; a near-empty tray, with nothing to tell by, counts as false colour."""
    # OpenCV's per-element min/max over the three planes: numpy's reductions over the short last axis
    # cost more than decoding the JPEG (~20 ms against ~1 ms on a 1024x768 scan); the counts are the same.
    red, green, blue = cv2.split(np.ascontiguousarray(rgb))
    darkest = cv2.min(cv2.min(red, green), blue)
    matter = darkest < _MATTER_BELOW_8BIT
    matter_count = int(cv2.countNonZero(matter.view(np.uint8)))
    if matter_count < 100:
        return FALSE_COLOUR
    spread = cv2.subtract(cv2.max(cv2.max(red, green), blue), darkest)
    coloured = int(cv2.countNonZero(((spread > _COLOURED_SPREAD) & matter).view(np.uint8)))
    return GREY if coloured / matter_count < _MIN_COLOURED_SHARE else FALSE_COLOUR


def decode_frames(
    data: bytes, limits: ImageLimits = DEFAULT_LIMITS, declared_type: str | None = None
) -> tuple[str, list[np.ndarray]]:
    """Check and decode the data into its frames, samples as stored (RGB order, 8 or 16 bit).

    Returns:
        The sniffed format and the list of frames (more than one for multi-page TIFF or multi-frame DICOM).
    """
    check_content_type(declared_type)
    check_byte_count(data, limits)
    image_format = sniff_format(data)
    check_pixel_count(header_pixel_count(data, image_format), limits)
    frames = _decode_dicom(data) if image_format == "dicom" else _decode_raster(data, image_format)
    return image_format, frames


def decode_dual_energy(high: bytes, low: bytes, limits: ImageLimits = DEFAULT_LIMITS) -> DecodedImage:
    """Decode a raw dual-energy pair (two 16-bit grey images of transmission) and render it in false colour.

    Raises:
        ImageDecodeError: a channel is not single-channel, or the two differ in size.
        ChannelMismatch: the channels are swapped or from different scans (:func:`check_channel_pair`).
    """
    channels = []
    for name, data in (("high", high), ("low", low)):
        _, frames = decode_frames(data, limits)
        if len(frames) != 1 or frames[0].ndim != 2:
            raise ImageDecodeError(f"the {name} channel must be one single-channel (grey) image")
        channels.append(frames[0])
    return _dual_energy(channels[0], channels[1])


def read_image(path: str | pathlib.Path, limits: ImageLimits = DEFAULT_LIMITS) -> DecodedImage:
    """Read and decode an image file, checking its size before reading it.

    Raises:
        ImageDecodeError: the file cannot be read or decoded.
        ImageTooLarge, UnsupportedImageType: see ``decode_image``.
    """
    return decode_image(read_bytes(path, limits), limits)


def read_dual_energy(
    high: str | pathlib.Path, low: str | pathlib.Path, limits: ImageLimits = DEFAULT_LIMITS
) -> DecodedImage:
    """Read and decode a raw dual-energy pair from its two channel files (see ``decode_dual_energy``)."""
    return decode_dual_energy(read_bytes(high, limits), read_bytes(low, limits), limits)


def read_bytes(path: str | pathlib.Path, limits: ImageLimits = DEFAULT_LIMITS) -> bytes:
    """A file's bytes, its size checked against ``limits`` before it is read.

    Raises:
        ImageDecodeError: the file cannot be read.
        ImageTooLarge: the file is over ``limits.max_bytes``.
    """
    path = pathlib.Path(path)
    try:
        size = path.stat().st_size
        if size > limits.max_bytes:
            raise ImageTooLarge(f"{path}: {size} bytes; the limit is {limits.max_bytes}")
        return path.read_bytes()
    except OSError as error:
        raise ImageDecodeError(f"{path}: cannot read: {error.strerror or error}") from None


def to_rgb8(pixels: np.ndarray) -> np.ndarray:
    """Convert decoded pixels (grey, RGB or RGBA; 8 or 16 bit) to H×W×3 uint8 RGB.

    16-bit data is scaled by its dtype range (never clipped); alpha is composited onto white, which is what
    scanner workstations show behind the bag.
    """
    if pixels.dtype == np.uint16:
        pixels = (pixels.astype(np.uint32) * 255 + 32767) // 65535
    elif pixels.dtype != np.uint8:
        raise ImageDecodeError(f"unsupported sample type {pixels.dtype}")
    pixels = pixels.astype(np.uint8, copy=False)
    if pixels.ndim == 2:
        return np.repeat(pixels[:, :, None], 3, axis=2)
    if pixels.ndim == 3 and pixels.shape[2] == 4:
        alpha = pixels[:, :, 3:4].astype(np.float32) / 255.0
        blended = pixels[:, :, :3].astype(np.float32) * alpha + 255.0 * (1.0 - alpha)
        return np.rint(blended).astype(np.uint8)
    if pixels.ndim == 3 and pixels.shape[2] == 3:
        return np.ascontiguousarray(pixels)
    raise ImageDecodeError(f"unsupported pixel layout {pixels.shape}")


def jpeg_round_trip(rgb: np.ndarray, quality: int) -> np.ndarray:
    """``rgb`` as a JPEG export at ``quality`` shows it: encoded and decoded (unchanged if OpenCV refuses)."""
    ok, encoded = cv2.imencode(
        ".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality]
    )
    decoded = cv2.imdecode(encoded, cv2.IMREAD_COLOR) if ok else None
    return rgb if decoded is None else cv2.cvtColor(decoded, cv2.COLOR_BGR2RGB)


def _decode_raster(data: bytes, image_format: str) -> list[np.ndarray]:
    """Decode PNG/JPEG/TIFF with OpenCV, frames in RGB order (TIFF may hold several)."""
    buffer = np.frombuffer(data, np.uint8)
    flags = cv2.IMREAD_UNCHANGED | cv2.IMREAD_IGNORE_ORIENTATION
    if image_format == "tiff":
        ok, pages = cv2.imdecodemulti(buffer, flags)
        frames = list(pages) if ok else []
    else:
        decoded = cv2.imdecode(buffer, flags)
        frames = [] if decoded is None else [decoded]
    if not frames:
        raise ImageDecodeError(f"corrupt or truncated {image_format.upper()} data")
    return [_bgr_to_rgb(frame) for frame in frames]


def _bgr_to_rgb(frame: np.ndarray) -> np.ndarray:
    if frame.ndim == 3 and frame.shape[2] == 3:
        return cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
    if frame.ndim == 3 and frame.shape[2] == 4:
        return cv2.cvtColor(frame, cv2.COLOR_BGRA2RGBA)
    return frame


def _read_dicom(data: bytes, stop_before_pixels: bool = False) -> Any:
    import pydicom  # imported here: only DICOM uploads pay for it
    from pydicom.errors import InvalidDicomError

    try:
        return pydicom.dcmread(io.BytesIO(data), stop_before_pixels=stop_before_pixels)
    except (InvalidDicomError, EOFError, ValueError, KeyError, TypeError) as error:
        raise ImageDecodeError(f"cannot read DICOM: {error}") from None


def _decode_dicom(data: bytes) -> list[np.ndarray]:
    """Decode DICOM/DICOS pixel data into frames (grey or RGB), keeping 16-bit samples as they are."""
    dataset = _read_dicom(data)
    try:
        pixels = np.asarray(dataset.pixel_array)
    except Exception as error:  # pydicom raises many types for missing codecs and bad pixel data
        raise ImageDecodeError(f"cannot decode DICOM pixel data: {error}") from None
    if pixels.dtype.kind not in "ui" or pixels.dtype.itemsize > 2:
        raise ImageDecodeError(f"unsupported DICOM sample type {pixels.dtype}")
    if pixels.dtype.kind == "i":  # signed samples: shift to unsigned without clipping
        unsigned = np.uint16 if pixels.dtype.itemsize == 2 else np.uint8
        pixels = (pixels.astype(np.int32) + (1 << (8 * pixels.dtype.itemsize - 1))).astype(unsigned)
    if pixels.dtype == np.uint16 and int(getattr(dataset, "BitsStored", 16)) < 16:
        pixels = pixels << (16 - int(dataset.BitsStored))  # use the full 16-bit range
    frames = int(getattr(dataset, "NumberOfFrames", 1) or 1)
    if getattr(dataset, "PhotometricInterpretation", "") == "MONOCHROME1":
        pixels = np.iinfo(pixels.dtype).max - pixels  # MONOCHROME1 stores inverted grey
    return list(pixels) if frames > 1 else [pixels]


def _transmission(frame: np.ndarray) -> np.ndarray:
    """Grey samples scaled by their dtype range into transmission (0, 1]."""
    full_scale = float(np.iinfo(frame.dtype).max)
    return np.clip(frame.astype(np.float32) / full_scale, 1.0 / full_scale, 1.0)


# Through any matter the low-energy beam is attenuated at least as much as the high-energy one (the
# attenuation coefficient falls with energy), so T_low <= T_high wherever there is matter, up to noise.
_MATTER_BELOW = 0.9  # transmission under which a pixel holds matter
_NOISE_MARGIN = 0.02  # how far T_low may exceed T_high by noise alone
_MAX_INVERTED_SHARE = 0.2  # measured: 0.0002 on a simulated bag, 0.94 with its channels swapped
_MIN_LOG_CORRELATION = 0.5  # measured: 0.93 on a simulated bag


def check_channel_pair(raw_high: np.ndarray, raw_low: np.ndarray) -> None:
    """Refuse a pair that cannot be one scan's high and low channels.

    Raises:
        ChannelMismatch: the low channel transmits more than the high one over much of the matter (the
            channels look swapped), or the two do not follow each other at all (two different scans).
    """
    matter = np.minimum(raw_high, raw_low) < _MATTER_BELOW
    if matter.sum() < 100:
        return  # an empty tray: nothing to judge the pair by, and nothing to find
    high, low = raw_high[matter], raw_low[matter]
    inverted = float((low > high + _NOISE_MARGIN).mean())
    if inverted > 0.5:
        raise ChannelMismatch(
            f"the low channel transmits more than the high one in {inverted:.0%} of the bag; low-energy "
            "transmission is never above high-energy through the same matter: the channels look swapped "
            "(send the high-energy image as `high` and the low-energy one as `low`)"
        )
    # A flat channel (a uniform test plate) says nothing about whether the two follow each other.
    flat = min(float(np.log(high).std()), float(np.log(low).std())) < 1e-3
    correlation = 1.0 if flat else float(np.corrcoef(np.log(high), np.log(low))[0, 1])
    if inverted > _MAX_INVERTED_SHARE or not correlation >= _MIN_LOG_CORRELATION:
        raise ChannelMismatch(
            f"the high and low channels do not look like one scan (low above high in {inverted:.0%} of "
            f"the bag, log-transmission correlation {correlation:.2f}); send both channels of the same scan"
        )


def _dual_energy(high: np.ndarray, low: np.ndarray) -> DecodedImage:
    if high.shape != low.shape:
        raise ImageDecodeError(f"high and low channels differ in size: {high.shape} vs {low.shape}")
    raw_high, raw_low = _transmission(high), _transmission(low)
    check_channel_pair(raw_high, raw_low)
    return DecodedImage(
        rgb=false_colour(raw_high, raw_low),
        format="dual-energy",
        bit_depth=8 * high.dtype.itemsize,
        modality=DUAL_ENERGY,
        raw_high=raw_high,
        raw_low=raw_low,
    )
