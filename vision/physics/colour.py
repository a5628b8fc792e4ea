"""False-colour rendering of dual-energy transmission images, as scanner workstations show them.

Colour encodes the material (the dual-energy ratio R = ln T_low / ln T_high, which grows with effective
Z): orange for organics, yellow-green and green for mixed and light inorganics, blue for metals. Brightness
encodes the total attenuation and falls slowly (real displays are bright and translucent), reaching black
only where the high-energy beam is nearly stopped. Numpy and OpenCV only: inference uses this to render raw
high/low pairs posted by scanners.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import cv2
import numpy as np

from vision.physics.materials import dual_energy_ratio, linear_attenuation_per_mm, spectrum_model
from vision.physics.profiles import ScannerProfile, get_profile

# Hue (degrees) at the ratio of each reference material; between them the hue is interpolated in log R.
HUE_ANCHORS: tuple[tuple[str, float], ...] = (
    ("polyethylene", 26.0),
    ("water", 32.0),
    ("paper", 39.0),
    ("tobacco", 50.0),
    ("beryl", 72.0),
    ("aluminium", 118.0),
    ("pcb", 165.0),
    ("steel", 212.0),
)
# Below this high-energy attenuation the ratio is mostly noise: the colour fades to white (pale objects).
COLOUR_ONSET = 0.015
_EPS = np.float32(1e-4)


# Attenuation axes of all lookups are square-root spaced over 0..ATT_MAX (fine steps where it is thin).
ATT_MAX = 12.0
# The hue table spans ln R in 0..HUE_LOG_R_MAX.
HUE_LOG_R_MAX = 1.4
HUE_TABLE_SIZE = (128, 192)


def _att_axis(n: int) -> np.ndarray:
    return (np.arange(n, dtype=np.float64) / (n - 1)) ** 2 * ATT_MAX


@functools.cache
def hue_table(spectrum: str) -> np.ndarray:
    """Hue (degrees) over a grid of (high-energy attenuation, ln R), as workstations calibrate it.

    For each attenuation the ratio of every anchor material at the thickness that gives that attenuation
    is computed (beam hardening makes R fall with thickness), and hues are interpolated between anchors.
    Rows: attenuation ``_att_axis``; columns: ln R 0..``HUE_LOG_R_MAX``.
    """
    model = spectrum_model(spectrum)
    rows, cols = HUE_TABLE_SIZE
    att_axis = np.maximum(_att_axis(rows), 0.005)
    log_r_axis = np.linspace(0.0, HUE_LOG_R_MAX, cols)
    anchor_log_r = np.empty((rows, len(HUE_ANCHORS)))
    for k, (material, _) in enumerate(HUE_ANCHORS):
        mu_high = linear_attenuation_per_mm(material, spectrum)[1]
        thickness = np.geomspace(1e-3, 60.0, 400) / mu_high
        low, high = model.material_curve(material, thickness)
        anchor_log_r[:, k] = np.interp(att_axis, high, np.log(low / high))
    hues = np.array([h for _, h in HUE_ANCHORS])
    # Thin layers give a noisy ratio: towards zero attenuation the ratio is pulled to water's, so faint
    # areas are pale orange as on screens, not speckled.
    organic = np.log(dual_energy_ratio("water", spectrum))
    confidence = np.clip((att_axis - COLOUR_ONSET) / (COLOUR_ONSET * 3), 0.0, 1.0)
    table = np.empty((rows, cols), np.float32)
    for i in range(rows):
        # Anchors must increase for interpolation; at extreme attenuation metals and organics converge.
        xp = np.maximum.accumulate(anchor_log_r[i] + np.arange(len(hues)) * 1e-4)
        table[i] = np.interp(organic + (log_r_axis - organic) * confidence[i], xp, hues)
    return table


def to_transmission(image: np.ndarray) -> np.ndarray:
    """Transmission as float32 in [1/65535, 1] from float (0, 1] or uint16 (0..65535) input.

    Raises:
        ValueError: not a 2-D array of a supported type.
    """
    arr = np.asarray(image)
    if arr.ndim != 2:
        raise ValueError(f"transmission image must be 2-D, got shape {arr.shape}")
    if arr.dtype == np.uint16:
        t = arr.astype(np.float32) / np.float32(65535.0)
    elif arr.dtype == np.uint8:
        t = arr.astype(np.float32) / np.float32(255.0)
    elif np.issubdtype(arr.dtype, np.floating):
        t = arr.astype(np.float32)
    else:
        raise ValueError(f"unsupported transmission dtype {arr.dtype}")
    return np.clip(t, 1.0 / 65535.0, 1.0)


def false_colour(
    high: np.ndarray, low: np.ndarray, profile: ScannerProfile | str | None = None
) -> np.ndarray:
    """Render a dual-energy pair as a workstation false-colour image.

    Args:
        high: high-energy transmission, float in (0, 1] or uint16 (transmission·65535).
        low: low-energy transmission, same shape.
        profile: scanner profile (or its name) whose spectrum calibration and palette to use; None for
            the default profile.

    Returns:
        H×W×3 uint8 RGB.

    Raises:
        ValueError: shapes differ or an image is not 2-D.
    """
    prof = profile if isinstance(profile, ScannerProfile) else get_profile(profile)
    t_high, t_low = to_transmission(high), to_transmission(low)
    if t_high.shape != t_low.shape:
        raise ValueError(f"high {t_high.shape} and low {t_low.shape} differ in shape")
    att_high = np.negative(cv2.log(t_high))
    att_low = np.negative(cv2.log(t_low))
    if prof.colour_smoothing_px > 0:
        sh = cv2.GaussianBlur(att_high, (0, 0), prof.colour_smoothing_px)
        sl = cv2.GaussianBlur(att_low, (0, 0), prof.colour_smoothing_px)
    else:
        sh, sl = att_high, att_low
    tables = _palette(prof)
    # One square-root scaled attenuation image drives the hue row and the saturation lookup.
    root = cv2.sqrt(sh * np.float32(1.0 / ATT_MAX))
    log_r = np.subtract(cv2.log(np.maximum(sl, _EPS)), cv2.log(np.maximum(sh, _EPS)))
    rows, cols = HUE_TABLE_SIZE
    hue = cv2.remap(
        tables.hue,
        log_r * np.float32((cols - 1) / HUE_LOG_R_MAX),
        root * np.float32(rows - 1),
        cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_REPLICATE,
    )
    saturation = cv2.LUT(cv2.convertScaleAbs(root, alpha=255.0), tables.saturation)
    q_raw = cv2.convertScaleAbs(cv2.sqrt(att_high * np.float32(1.0 / ATT_MAX)), alpha=255.0)
    value = cv2.LUT(q_raw, tables.value)
    return cv2.cvtColor(cv2.merge([hue, saturation, value]), cv2.COLOR_HSV2RGB_FULL)


@dataclass(frozen=True)
class _Palette:
    hue: np.ndarray  # uint8 OpenCV full-range hue over (attenuation, ln R)
    saturation: np.ndarray  # uint8 LUT over the square-root quantised smoothed attenuation
    value: np.ndarray  # uint8 LUT over the square-root quantised attenuation


@functools.cache
def _palette(prof: ScannerProfile) -> _Palette:
    """Lookup tables of a profile's palette, computed once."""
    hue = hue_table(prof.spectrum) + np.float32(prof.hue_shift_deg)
    hue_u8 = np.clip(np.round(hue * np.float32(256.0 / 360.0)), 0, 255).astype(np.uint8)
    att = _att_axis(256)
    # Brightness: a slow power curve of the high-energy attenuation, black at the profile's black level.
    level = np.clip(att / prof.black_level, 0.0, 1.0)
    value = (1.0 - level**prof.brightness_gamma) * prof.background
    # Below the onset (belt noise, residual streaks) the display stays white, then colour fades in.
    onset = np.clip((att - COLOUR_ONSET) / (COLOUR_ONSET * 4), 0.0, 1.0)
    # Denser material shows deeper colour (vivid dark orange, not brown-grey), as on real displays.
    depth = 1.0 - np.exp(-att / 0.6)
    saturation = np.clip(prof.saturation * np.sqrt(onset) * (0.2 + 0.5 * depth), 0.0, 1.0) * 255.0
    return _Palette(
        hue=hue_u8,
        saturation=np.round(saturation).astype(np.uint8).reshape(256, 1),
        value=np.round(value).astype(np.uint8).reshape(256, 1),
    )
