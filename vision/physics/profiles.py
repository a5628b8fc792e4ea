"""Scanner profiles: the physics (spectra, pixel size, blur, noise) and the look of each workstation.

A profile describes one make of scanner and its operator workstation: which dual-energy spectrum it uses,
the output resolution its exports come in, detector blur and noise, line artefacts, and how its false
colour palette looks (saturation, hue offsets, brightness curve) and how its images are exported (JPEG
re-compression quality, resizing). ``HELD_OUT_PROFILE`` is never used for training so evaluation can
measure the drop on an unseen scanner.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ScannerProfile:
    """One scanner and workstation.

    Attributes:
        name: profile key in ``PROFILES``.
        spectrum: key of the baggage spectrum in the attenuation table (parcel, luggage scenes).
        vehicle_spectrum: key of the spectrum used for vehicle scenes (higher kVp, cargo scanners).
        width_px: (min, max) output width of baggage exports in pixels.
        vehicle_width_px: (min, max) output width of vehicle exports.
        detector_blur_px: Gaussian sigma of the detector point-spread at output resolution.
        photons_high: mean detected quanta per unblocked pixel in the high channel (sets Poisson noise).
        photons_low: the same for the low channel (thin front scintillator: fewer quanta).
        electronic_noise: standard deviation of additive read-out noise in transmission units.
        line_gain_sigma: per detector-row gain spread (horizontal streaks along the belt direction).
        dead_line_rate: probability that a detector row is dead or hot in an image.
        saturation: palette saturation scale (1 = nominal).
        hue_shift_deg: constant hue offset of the palette (vendors tune their colours differently).
        brightness_gamma: exponent of the brightness curve; larger = darker images.
        black_level: total high-energy attenuation (-ln T) beyond which the display goes black.
        background: grey level of empty belt (near white, 240..255).
        jpeg_quality: quality of the JPEG round trip applied to the export, 0 = lossless export.
        colour_smoothing_px: radius of the smoothing applied to the ratio image before colouring.
        zoom: field-of-view factor of the export (below 1: tighter crop around the bag, less background).
        resample_scale: exports are often resized copies; the image is shrunk by this factor and brought
            back to its size (1 = untouched).
        sharpen: strength of the workstation's edge enhancement (unsharp mask), 0 = none.
    """

    name: str
    spectrum: str
    vehicle_spectrum: str
    width_px: tuple[int, int]
    vehicle_width_px: tuple[int, int]
    detector_blur_px: float
    photons_high: float
    photons_low: float
    electronic_noise: float
    line_gain_sigma: float
    dead_line_rate: float
    saturation: float
    hue_shift_deg: float
    brightness_gamma: float
    black_level: float
    background: int
    jpeg_quality: int
    colour_smoothing_px: float
    zoom: float = 1.0
    resample_scale: float = 1.0
    sharpen: float = 0.0


PROFILES: dict[str, ScannerProfile] = {
    p.name: p
    for p in (
        ScannerProfile(
            name="aurora160",
            spectrum="kv160",
            vehicle_spectrum="kv450",
            width_px=(900, 1300),
            vehicle_width_px=(1000, 1400),
            detector_blur_px=0.8,
            photons_high=9000.0,
            photons_low=5000.0,
            electronic_noise=0.002,
            line_gain_sigma=0.004,
            dead_line_rate=0.05,
            saturation=1.0,
            hue_shift_deg=0.0,
            brightness_gamma=0.78,
            black_level=7.5,
            background=250,
            jpeg_quality=0,
            colour_smoothing_px=1.0,
            zoom=1.0,
            resample_scale=1.0,
            sharpen=0.3,
        ),
        ScannerProfile(
            name="borealis140",
            spectrum="kv140",
            vehicle_spectrum="kv300",
            width_px=(600, 900),
            vehicle_width_px=(800, 1100),
            detector_blur_px=1.1,
            photons_high=5000.0,
            photons_low=2500.0,
            electronic_noise=0.004,
            line_gain_sigma=0.008,
            dead_line_rate=0.15,
            saturation=1.25,
            hue_shift_deg=-4.0,
            brightness_gamma=0.72,
            black_level=7.8,
            background=245,
            jpeg_quality=85,
            colour_smoothing_px=1.5,
            zoom=0.85,
            resample_scale=0.75,
            sharpen=0.0,
        ),
        ScannerProfile(
            name="cirrus180",
            spectrum="kv180",
            vehicle_spectrum="kv450",
            width_px=(1100, 1500),
            vehicle_width_px=(1200, 1500),
            detector_blur_px=0.9,
            photons_high=12000.0,
            photons_low=7000.0,
            electronic_noise=0.0015,
            line_gain_sigma=0.003,
            dead_line_rate=0.03,
            saturation=0.8,
            hue_shift_deg=5.0,
            brightness_gamma=0.86,
            black_level=8.0,
            background=252,
            jpeg_quality=92,
            colour_smoothing_px=1.0,
            zoom=1.15,
            resample_scale=1.0,
            sharpen=0.3,
        ),
        ScannerProfile(
            name="delta140",
            spectrum="kv140",
            vehicle_spectrum="kv300",
            width_px=(400, 650),
            vehicle_width_px=(600, 900),
            detector_blur_px=0.7,
            photons_high=4000.0,
            photons_low=2000.0,
            electronic_noise=0.005,
            line_gain_sigma=0.01,
            dead_line_rate=0.2,
            saturation=1.1,
            hue_shift_deg=3.0,
            brightness_gamma=0.68,
            black_level=7.3,
            background=248,
            jpeg_quality=75,
            colour_smoothing_px=2.0,
            zoom=0.9,
            resample_scale=0.7,
            sharpen=0.2,
        ),
        ScannerProfile(
            name="eclipse160",
            spectrum="kv160",
            vehicle_spectrum="kv450",
            width_px=(800, 1100),
            vehicle_width_px=(900, 1300),
            detector_blur_px=1.0,
            photons_high=7000.0,
            photons_low=4000.0,
            electronic_noise=0.003,
            line_gain_sigma=0.006,
            dead_line_rate=0.1,
            saturation=0.95,
            hue_shift_deg=-2.0,
            brightness_gamma=0.8,
            black_level=7.3,
            background=250,
            jpeg_quality=80,
            colour_smoothing_px=1.2,
            zoom=1.05,
            resample_scale=0.85,
            sharpen=0.25,
        ),
    )
}

HELD_OUT_PROFILE: str = "eclipse160"
TRAIN_PROFILES: tuple[str, ...] = tuple(name for name in PROFILES if name != HELD_OUT_PROFILE)

DEFAULT_PROFILE: str = "aurora160"


def get_profile(name: str | None) -> ScannerProfile:
    """The profile called ``name`` (``DEFAULT_PROFILE`` when None).

    Raises:
        ValueError: unknown profile name.
    """
    key = DEFAULT_PROFILE if name is None else name
    try:
        return PROFILES[key]
    except KeyError:
        raise ValueError(f"unknown scanner profile {key!r}; known: {', '.join(PROFILES)}") from None
