"""Palettes of scans (vision.palette): measured, and moved to another scanner's."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from vision.palette import MAX_TURN, Palette, bag_palette, recolour, set_palette


def bag(warm_hue: float, saturation: int) -> np.ndarray:
    """A 100 x 100 scan on white belt: an organic patch of ``warm_hue`` degrees and a blue (metal) one."""
    hsv = np.zeros((100, 100, 3), np.uint8)
    hsv[..., 2] = 255
    hsv[10:90, 10:60] = (round(warm_hue * 256 / 360), saturation, 210)
    hsv[10:90, 60:90] = (round(220 * 256 / 360), saturation, 180)
    return cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB_FULL)


def hue_sat(rgb: np.ndarray, x: int) -> tuple[float, float]:
    h, s, _ = cv2.cvtColor(rgb[50:51, x : x + 1], cv2.COLOR_RGB2HSV_FULL)[0, 0]
    return float(h) * 360 / 256, float(s)


@pytest.mark.parametrize(("target_hue", "target_sat"), [(45.0, 60.0), (20.0, 160.0)])
def test_recolouring_moves_the_warm_hue_and_saturation_to_the_target(
    target_hue: float, target_sat: float
) -> None:
    rgb = bag(30.0, 100)
    own = bag_palette(rgb)
    assert (
        own is not None
        and own.warm_hue == pytest.approx(30.0, abs=2)
        and own.saturation == pytest.approx(100, abs=2)
    )
    out = recolour(rgb, own, Palette(target_hue, target_sat))
    after = bag_palette(out)
    assert after is not None and after.warm_hue is not None
    assert after.warm_hue == pytest.approx(target_hue, abs=3) and after.saturation == pytest.approx(
        target_sat, abs=4
    )
    organic, metal = hue_sat(out, 30)[0], hue_sat(out, 75)[0]
    assert (metal - organic) == pytest.approx(190, abs=5)  # every hue turned alike: metal stays apart
    assert (out[:5, :5] == 255).all()  # white belt has no hue to turn


def test_recolouring_is_bounded_and_turns_nothing_without_warm_pixels() -> None:
    rgb = bag(30.0, 100)
    own = bag_palette(rgb)
    assert own is not None
    far = bag_palette(recolour(rgb, own, Palette(89.0, 100.0)))
    assert far is not None and far.warm_hue == pytest.approx(30.0 + MAX_TURN, abs=3)
    unknown = recolour(rgb, Palette(None, 100.0), Palette(60.0, 100.0))
    np.testing.assert_allclose(unknown, rgb, atol=2)  # no warm hue to compare: no turn, gain 1
    assert bag_palette(np.full((100, 100, 3), 255, np.uint8)) is None


def test_a_sets_palette_is_the_median_of_its_scans() -> None:
    scans = [Palette(20.0, 40.0), Palette(30.0, 160.0), None, Palette(None, 100.0), Palette(50.0, 90.0)]
    assert set_palette(scans) == Palette(30.0, 95.0)
    assert set_palette([None, None]) is None
    assert set_palette([Palette(None, 70.0)]) == Palette(None, 70.0)
