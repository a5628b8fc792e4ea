"""Decoding with limits: formats, bit depths, bombs and bad bytes (vision.io)."""

from __future__ import annotations

import pathlib

import cv2
import numpy as np
import pytest
from PIL import Image

from tests.helpers import dicom_bytes, png_bomb
from vision.errors import ImageDecodeError, ImageTooLarge, UnsupportedImageType
from vision.io import ImageLimits, decode_dual_energy, decode_image, read_image, sniff_format


def encode(array: np.ndarray, ext: str) -> bytes:
    """Encode an RGB/grey array with OpenCV (which wants BGR)."""
    if array.ndim == 3 and array.shape[2] == 3:
        array = cv2.cvtColor(array, cv2.COLOR_RGB2BGR)
    ok, buffer = cv2.imencode(ext, array)
    assert ok
    return buffer.tobytes()


@pytest.fixture
def rgb() -> np.ndarray:
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, (12, 17, 3), dtype=np.uint8)


def test_png_round_trip_keeps_rgb_order(rgb: np.ndarray) -> None:
    decoded = decode_image(encode(rgb, ".png"), declared_type="image/png")
    assert decoded.format == "png" and decoded.bit_depth == 8
    np.testing.assert_array_equal(decoded.rgb, rgb)
    assert (decoded.width, decoded.height) == (17, 12)


def test_jpeg_decodes_close_to_source() -> None:
    flat = np.full((32, 32, 3), (200, 120, 40), np.uint8)
    decoded = decode_image(encode(flat, ".jpg"), declared_type="image/jpeg; charset=binary")
    assert decoded.format == "jpeg"
    assert np.abs(decoded.rgb.astype(int) - flat).max() <= 4


def test_sixteen_bit_grey_is_scaled_not_clipped() -> None:
    grey = np.array([[0, 256, 32768, 65535]], np.uint16)
    decoded = decode_image(encode(grey, ".png"))
    assert decoded.bit_depth == 16
    assert decoded.rgb[0, :, 0].tolist() == [0, 1, 128, 255]
    assert decoded.rgb.shape == (1, 4, 3)


def test_sixteen_bit_tiff_and_rgba_png() -> None:
    grey = np.linspace(0, 65535, 64, dtype=np.uint16).reshape(8, 8)
    assert decode_image(encode(grey, ".tiff")).rgb[7, 7, 1] == 255
    rgba = np.zeros((4, 4, 4), np.uint8)
    rgba[..., 3] = 0  # fully transparent: workstation white
    ok, buffer = cv2.imencode(".png", rgba)
    assert ok
    assert (decode_image(buffer.tobytes()).rgb == 255).all()


def test_two_page_sixteen_bit_tiff_is_a_dual_energy_pair() -> None:
    high = np.full((16, 16), 50000, np.uint16)
    low = np.full((16, 16), 30000, np.uint16)
    ok, buffer = cv2.imencodemulti(".tiff", [high, low])
    assert ok
    decoded = decode_image(buffer.tobytes())
    assert decoded.format == "dual-energy"
    assert decoded.raw_high is not None and decoded.raw_low is not None
    assert decoded.raw_high[0, 0] == pytest.approx(50000 / 65535, rel=1e-5)
    assert decoded.rgb.shape == (16, 16, 3) and decoded.rgb.dtype == np.uint8


def test_dual_energy_channels_must_match_in_size() -> None:
    high = encode(np.full((8, 8), 40000, np.uint16), ".png")
    low = encode(np.full((8, 9), 20000, np.uint16), ".png")
    with pytest.raises(ImageDecodeError, match="differ in size"):
        decode_dual_energy(high, low)
    colour = encode(np.zeros((8, 8, 3), np.uint8), ".png")
    with pytest.raises(ImageDecodeError, match="single-channel"):
        decode_dual_energy(colour, low)


def test_dicom_sixteen_bit_monochrome() -> None:
    pixels = np.array([[0, 65535], [32768, 256]], np.uint16)
    decoded = decode_image(dicom_bytes(pixels), declared_type="application/dicom")
    assert decoded.format == "dicom" and decoded.bit_depth == 16
    assert decoded.rgb[..., 0].tolist() == [[0, 255], [128, 1]]
    inverted = decode_image(dicom_bytes(pixels, "MONOCHROME1"))
    assert inverted.rgb[..., 0].tolist() == [[255, 0], [127, 254]]


def test_decompression_bomb_is_refused_from_the_header() -> None:
    bomb = png_bomb(7000, 6000)  # just over the default limit of 40 M pixels
    assert len(bomb) < 200_000
    with pytest.raises(ImageTooLarge, match="42000000 pixels"):
        decode_image(bomb)


def test_pixel_and_byte_limits(rgb: np.ndarray) -> None:
    data = encode(rgb, ".png")
    with pytest.raises(ImageTooLarge, match="pixels"):
        decode_image(data, ImageLimits(max_pixels=100))
    with pytest.raises(ImageTooLarge, match="bytes"):
        decode_image(data, ImageLimits(max_bytes=10))


@pytest.mark.parametrize(
    ("data", "error"),
    [
        (b"", ImageDecodeError),
        (b"not an image at all" * 50, ImageDecodeError),
        (b"GIF89a" + bytes(40), UnsupportedImageType),
        (b"%PDF-1.7" + bytes(40), UnsupportedImageType),
        (b"\x89PNG\r\n\x1a\n" + bytes(30), ImageDecodeError),
    ],
)
def test_bad_bytes_give_specific_errors(data: bytes, error: type[Exception]) -> None:
    with pytest.raises(error):
        decode_image(data)


def test_truncated_png_is_a_decode_error(rgb: np.ndarray) -> None:
    data = encode(np.tile(rgb, (20, 20, 1)), ".png")
    with pytest.raises(ImageDecodeError):
        decode_image(data[: len(data) // 2])


def test_declared_type_is_checked_but_never_trusted(rgb: np.ndarray) -> None:
    data = encode(rgb, ".png")
    with pytest.raises(UnsupportedImageType, match="text/plain"):
        decode_image(data, declared_type="text/plain")
    assert decode_image(data, declared_type="image/jpeg").format == "png"
    assert sniff_format(data) == "png"


def test_read_image_reports_missing_files(tmp_path: pathlib.Path) -> None:
    with pytest.raises(ImageDecodeError, match="cannot read"):
        read_image(tmp_path / "missing.png")
    path = tmp_path / "scan.png"
    Image.new("RGB", (5, 3), (10, 20, 30)).save(path)
    assert read_image(path).rgb[0, 0].tolist() == [10, 20, 30]


SAMPLES = pathlib.Path(__file__).resolve().parents[2] / "sample_images" / "xray"


def test_a_swapped_or_unrelated_dual_energy_pair_is_refused_with_the_reason() -> None:
    from vision.errors import ChannelMismatch

    high = (SAMPLES / "luggage_threat_high.tiff").read_bytes()
    low = (SAMPLES / "luggage_threat_low.tiff").read_bytes()
    assert decode_dual_energy(high, low).format == "dual-energy"
    with pytest.raises(ChannelMismatch, match="look swapped"):
        decode_dual_energy(low, high)
    # The high channel of one scan with the low channel of another (here: the same bag turned around).
    pixels = cv2.imread(str(SAMPLES / "luggage_threat_low.tiff"), cv2.IMREAD_UNCHANGED)
    other = encode(np.ascontiguousarray(pixels[::-1, ::-1]), ".tiff")
    with pytest.raises(ChannelMismatch, match="do not look like one scan"):
        decode_dual_energy(high, other)


def test_each_input_is_named_by_its_modality() -> None:
    from vision.io import DUAL_ENERGY, FALSE_COLOUR, GREY

    colour = read_image(SAMPLES / "luggage_threat.png")
    assert colour.modality == FALSE_COLOUR
    assert read_image(SAMPLES / "luggage_threat.jpg").modality == FALSE_COLOUR
    high = (SAMPLES / "luggage_threat_high.tiff").read_bytes()
    low = (SAMPLES / "luggage_threat_low.tiff").read_bytes()
    assert decode_dual_energy(high, low).modality == DUAL_ENERGY
    # One raw channel alone, a one-frame 16-bit DICOM and a grey picture saved as RGB JPEG are grey.
    assert decode_image(high).modality == GREY
    raw = cv2.imread(str(SAMPLES / "luggage_threat_high.tiff"), cv2.IMREAD_UNCHANGED)
    assert decode_image(dicom_bytes(raw)).modality == GREY
    grey = cv2.cvtColor(colour.rgb, cv2.COLOR_RGB2GRAY)
    as_rgb_jpeg = encode(np.repeat(grey[:, :, None], 3, axis=2), ".jpg")
    assert decode_image(as_rgb_jpeg).modality == GREY
    # An empty tray has nothing to tell by: it is not refused as grey.
    assert decode_image(encode(np.full((40, 60, 3), 250, np.uint8), ".png")).modality == FALSE_COLOUR
