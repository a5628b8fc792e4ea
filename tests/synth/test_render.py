"""False-colour rendering: white background, orange organics, blue metal, black where impenetrable."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from vision.physics.colour import false_colour
from vision.physics.materials import spectrum_model


def _pair(material: str, thickness_mm: float, spectrum: str = "kv160") -> tuple[np.ndarray, np.ndarray]:
    low, high = spectrum_model(spectrum).material_curve(material, np.array([thickness_mm]))
    shape = (8, 8)
    return np.full(shape, np.exp(-high[0]), np.float32), np.full(shape, np.exp(-low[0]), np.float32)


def _hsv(rgb: np.ndarray) -> tuple[float, float, float]:
    hsv = cv2.cvtColor(rgb, cv2.COLOR_RGB2HSV_FULL)[4, 4].astype(float)
    return hsv[0] * 360 / 256, hsv[1], hsv[2]


def test_empty_belt_is_white() -> None:
    rgb = false_colour(np.ones((6, 6), np.float32), np.ones((6, 6), np.float32), "aurora160")
    assert rgb.dtype == np.uint8 and rgb.shape == (6, 6, 3)
    assert rgb.min() > 225


def test_material_sets_hue_and_attenuation_sets_brightness() -> None:
    hue_organic, _, v_thin = _hsv(false_colour(*_pair("textile", 60), "aurora160"))
    hue_metal, _, _ = _hsv(false_colour(*_pair("steel", 2), "aurora160"))
    hue_mixed, _, _ = _hsv(false_colour(*_pair("aluminium", 8), "aurora160"))
    assert 10 <= hue_organic < 50
    assert 90 <= hue_mixed < 170
    assert 170 <= hue_metal < 260
    _, _, v_thick = _hsv(false_colour(*_pair("textile", 600), "aurora160"))
    assert v_thin > v_thick
    # Thick steel stops the beam: black.
    assert false_colour(*_pair("steel", 60), "aurora160").max() < 40


def test_uint16_input_renders_like_float() -> None:
    high, low = _pair("water", 80)
    as_float = false_colour(high, low)
    as_u16 = false_colour(np.round(high * 65535).astype(np.uint16), np.round(low * 65535).astype(np.uint16))
    assert np.abs(as_float.astype(int) - as_u16.astype(int)).max() <= 2


def test_bad_shapes_are_refused() -> None:
    with pytest.raises(ValueError):
        false_colour(np.ones((4, 4), np.float32), np.ones((4, 5), np.float32))
    with pytest.raises(ValueError):
        false_colour(np.ones((4, 4, 3), np.float32), np.ones((4, 4, 3), np.float32))
