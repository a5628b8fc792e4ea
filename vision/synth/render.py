"""False-colour rendering of dual-energy transmission images, as scanner workstations show them.

Colour encodes the material (the dual-energy ratio R = ln T_low / ln T_high, which grows with effective
Z): orange for organics, yellow-green and green for mixed and light inorganics, blue for metals. Brightness
encodes the total attenuation and falls slowly (real displays are bright and translucent), reaching black
only where the high-energy beam is nearly stopped. Numpy and OpenCV only: inference uses this to render raw
high/low pairs posted by scanners.
"""

from __future__ import annotations

import functools

import cv2
import numpy as np

from vision.synth.materials import dual_energy_ratio, linear_attenuation_per_mm, spectrum_model
from vision.synth.profiles import ScannerProfile, get_profile

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


# The hue table spans high-energy attenuation 0..HUE_ATT_MAX and ln R in 0..HUE_LOG_R_MAX.
HUE_ATT_MAX = 10.0
HUE_LOG_R_MAX = 1.4
HUE_TABLE_SIZE = (96, 192)


@functools.cache
def hue_table(spectrum: str) -> np.ndarray:
    """Hue (degrees) over a grid of (high-energy attenuation, ln R), as workstations calibrate it.

    For each attenuation the ratio of every anchor material at the thickness that gives that attenuation
    is computed (beam hardening makes R fall with thickness), and hues are interpolated between anchors.
    Rows: attenuation 0..``HUE_ATT_MAX``; columns: ln R 0..``HUE_LOG_R_MAX``.
    """
    model = spectrum_model(spectrum)
    rows, cols = HUE_TABLE_SIZE
    att_axis = np.linspace(0.0, HUE_ATT_MAX, rows)
    att_axis[0] = 0.01
    log_r_axis = np.linspace(0.0, HUE_LOG_R_MAX, cols)
    anchor_log_r = np.empty((rows, len(HUE_ANCHORS)))
    for k, (material, _) in enumerate(HUE_ANCHORS):
        mu_high = linear_attenuation_per_mm(material, spectrum)[1]
        thickness = np.geomspace(1e-3, 60.0, 400) / mu_high
        low, high = model.material_curve(material, thickness)
        anchor_log_r[:, k] = np.interp(att_axis, high, np.log(low / high))
    hues = np.array([h for _, h in HUE_ANCHORS])
    table = np.empty((rows, cols), np.float32)
    for i in range(rows):
        # Anchors must increase for interpolation; at extreme attenuation metals and organics converge.
        xp = np.maximum.accumulate(anchor_log_r[i] + np.arange(len(hues)) * 1e-4)
        table[i] = np.interp(log_r_axis, xp, hues)
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
    att_high = -np.log(t_high)
    att_low = -np.log(t_low)
    if prof.colour_smoothing_px > 0:
        sh = cv2.GaussianBlur(att_high, (0, 0), prof.colour_smoothing_px)
        sl = cv2.GaussianBlur(att_low, (0, 0), prof.colour_smoothing_px)
    else:
        sh, sl = att_high, att_low
    log_r = np.log(np.maximum(sl, _EPS) / np.maximum(sh, _EPS))
    # Thin layers give a noisy ratio; pull it towards organic so faint areas are pale orange, as on screens.
    organic = np.float32(np.log(dual_energy_ratio("water", prof.spectrum)))
    confidence = np.clip((sh - np.float32(COLOUR_ONSET)) / np.float32(COLOUR_ONSET * 3), 0.0, 1.0)
    log_r = organic + (log_r - organic) * confidence
    rows, cols = HUE_TABLE_SIZE
    x = np.clip(log_r * np.float32((cols - 1) / HUE_LOG_R_MAX), 0.0, cols - 1).astype(np.float32)
    y = np.clip(sh * np.float32((rows - 1) / HUE_ATT_MAX), 0.0, rows - 1).astype(np.float32)
    hue = cv2.remap(hue_table(prof.spectrum), x, y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    hue = np.asarray(hue, np.float32) + np.float32(prof.hue_shift_deg)
    # Brightness: a slow power curve of the high-energy attenuation, black at the profile's black level.
    level = np.clip(att_high / np.float32(prof.black_level), 0.0, 1.0)
    value = 1.0 - level ** np.float32(prof.brightness_gamma)
    # Below the onset (belt noise, residual streaks) the display stays white, then colour fades in.
    onset = np.clip((sh - np.float32(COLOUR_ONSET)) / np.float32(COLOUR_ONSET * 4), 0.0, 1.0)
    # Denser material shows deeper colour (vivid dark orange, not brown-grey), as on real displays.
    depth = 1.0 - np.exp(sh * np.float32(-1.0 / 0.6))
    saturation = np.float32(prof.saturation) * np.sqrt(onset) * (np.float32(0.22) + np.float32(0.6) * depth)
    saturation = np.clip(saturation, 0.0, 1.0)
    hsv = np.empty((*att_high.shape, 3), np.uint8)
    hsv[..., 0] = np.mod(hue * np.float32(256.0 / 360.0), 256.0).astype(np.uint8)
    hsv[..., 1] = (saturation * 255.0).astype(np.uint8)
    hsv[..., 2] = (value * np.float32(prof.background)).astype(np.uint8)
    return cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB_FULL)
