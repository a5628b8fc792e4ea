"""A scan's palette, and the same bags in another scanner's palette.

Scanner brands colour the same materials differently: the hue that organic matter gets and how saturated the
colours are. Measured per scan on the kit's four real sets (``../shared/real/xray``; bag pixels' medians,
10th / 50th / 90th percentiles over the scans): warm hue OPIXray 32 / 35 / 38 degrees, the other scanner
24 / 27 / 41, SIXray clean bags 35 / 41 / 52, SIXray threats 39 / 52 / 61; saturation 54 / 78 / 124,
66 / 110 / 165, 4 / 135 / 168 and 3 / 55 / 102. The sets differ in palette as much as in content, so a network
can learn from the palette alone whether a set holds threats; training repaints scans across this range
(``triage train --repaint``) and ``triage evaluate --palette`` scores the real kit in a palette of choice,
each set recoloured as one scanner (:func:`set_palette`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import cv2
import numpy as np

# Bag pixels for palette figures: any channel below this (the belt and empty space are near white).
BAG_LEVEL = 225
# The palettes of real scanners, as the median warm hue (degrees, under 90) and median saturation (0-255) of
# a scan's bag pixels: the kit's per-scan 10th to 90th percentiles, pooled over its four sets.
REAL_WARM_HUES = (24.0, 60.0)
REAL_SATURATIONS = (50.0, 165.0)
# How far a recolouring turns hues and scales saturation at most: within what separates real scanners.
MAX_TURN = 25.0
GAIN_RANGE = (0.4, 2.5)


@dataclass(frozen=True)
class Palette:
    """A scan's palette: the median warm hue (degrees; None if too few bag pixels are warm) and the median
    saturation (0-255) of its bag pixels."""

    warm_hue: float | None
    saturation: float


def bag_palette(rgb: np.ndarray) -> Palette | None:
    """The palette of ``rgb``'s bag pixels (every fourth row and column), or None with too few of them."""
    sample = np.ascontiguousarray(rgb[::4, ::4])
    bag = sample.min(axis=2) <= BAG_LEVEL
    if bag.sum() < 64:
        return None
    hsv = cv2.cvtColor(sample, cv2.COLOR_RGB2HSV_FULL)[bag]
    hue = hsv[:, 0].astype(np.float32) * (360.0 / 256.0)
    warm = hue[hue < 90.0]
    return Palette(float(np.median(warm)) if warm.size >= 32 else None, float(np.median(hsv[:, 1])))


def set_palette(palettes: Iterable[Palette | None]) -> Palette | None:
    """The palette of a set of scans (one scanner): the medians of its scans' warm hues and saturations,
    or None if none of them has a palette.

    A scan's own palette moves with what the bag holds (the other scanner's validation bags span saturations
    35-172), so a scanner is recoloured as a whole, every scan by the same turn and gain, from this.
    """
    known = [p for p in palettes if p is not None]
    if not known:
        return None
    hues = [p.warm_hue for p in known if p.warm_hue is not None]
    return Palette(float(np.median(hues)) if hues else None, float(np.median([p.saturation for p in known])))


def recolour(rgb: np.ndarray, palette: Palette, target: Palette) -> np.ndarray:
    """``rgb``, whose scan has ``palette``, in the ``target`` palette.

    Every hue turns by the difference of the warm hues (at most :data:`MAX_TURN` degrees; none if either is
    unknown) and saturation is multiplied by the ratio of the saturations (within :data:`GAIN_RANGE`): the
    order of the materials' colours stays, their place moves. White belt stays white.
    """
    turn = 0.0
    if palette.warm_hue is not None and target.warm_hue is not None:
        turn = float(np.clip(target.warm_hue - palette.warm_hue, -MAX_TURN, MAX_TURN))
    gain = float(np.clip(target.saturation / max(palette.saturation, 8.0), *GAIN_RANGE))
    hsv = cv2.cvtColor(rgb, cv2.COLOR_RGB2HSV_FULL).astype(np.float32)
    hsv[..., 0] = (hsv[..., 0] + turn * (256.0 / 360.0)) % 256
    hsv[..., 1] *= gain
    return cv2.cvtColor(np.clip(hsv, 0, 255).astype(np.uint8), cv2.COLOR_HSV2RGB_FULL)
