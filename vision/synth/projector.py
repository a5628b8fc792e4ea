"""The projector: Beer–Lambert per energy and the detector (blur, Poisson and read-out noise, line artefacts).

Objects composite multiplicatively in transmission, T = T_scene · T_object: along a ray the attenuations
add, mu(E)·t summed over objects, at every energy. Each material is a mix of two basis materials
(polyethylene and copper, see ``materials``), so the canvas accumulates just two basis line integrals, one
bounding box at a time; the polychromatic transmission of each detector channel (with beam hardening) is
looked up once per pixel at the end.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass, field

import cv2
import numpy as np

from vision.physics.materials import basis_per_mm, linear_attenuation_per_mm, spectrum_model
from vision.physics.profiles import ScannerProfile
from vision.synth.shapes import Patch

# A pixel belongs to a threat's mask where the threat alone removes at least this share of the high-energy
# beam (A_high >= -ln(1 - 0.03)), whatever lies in front of or behind it. See scene.py for the rule.
MASK_MIN_ATTENUATION = 0.03


@dataclass
class Instance:
    """A labelled threat: its class and the parts of its own high-energy attenuation."""

    label: str
    parts: list[Patch] = field(default_factory=list)


class Canvas:
    """Accumulates attenuation line integrals of a scene at the two energies.

    Args:
        height: image height in pixels.
        width: image width in pixels.
        pixel_mm: size of one pixel on the object plane.
        spectrum: key of the spectrum in the attenuation table.
    """

    def __init__(self, height: int, width: int, pixel_mm: float, spectrum: str) -> None:
        self.height, self.width, self.pixel_mm, self.spectrum = height, width, pixel_mm, spectrum
        self.basis_pe = np.zeros((height, width), np.float32)
        self.basis_cu = np.zeros((height, width), np.float32)
        self.instances: list[Instance] = []
        self._region: np.ndarray | None = None
        self._outside: np.ndarray | None = None

    @property
    def region(self) -> np.ndarray | None:
        """When set (float32 H×W in [0, 1]), every added patch is confined to it (the inside of a bag)."""
        return self._region

    @region.setter
    def region(self, mask: np.ndarray | None) -> None:
        self._region = mask
        # Summed-area table of the outside, so patches wholly inside skip the masking.
        self._outside = None if mask is None else cv2.integral((mask < 1.0).astype(np.uint8))

    def add(self, patch: Patch, material: str, instance: Instance | Sequence[Instance] | None = None) -> None:
        """Add ``patch`` (thickness in mm) of ``material``; record it for ``instance`` (one or several)."""
        if patch.mm.size == 0:
            return
        y0, x0 = patch.y0, patch.x0
        h, w = patch.mm.shape
        ys, xs = max(y0, 0), max(x0, 0)
        ye, xe = min(y0 + h, self.height), min(x0 + w, self.width)
        if ye <= ys or xe <= xs:
            return
        mm = patch.mm[ys - y0 : ye - y0, xs - x0 : xe - x0]
        if self._region is not None and self._outside is not None:
            o = self._outside
            if o[ye, xe] - o[ys, xe] - o[ye, xs] + o[ys, xs] > 0:
                # Contents of a bag or box cannot poke through its walls.
                mm = mm * self._region[ys:ye, xs:xe]
        c_pe, c_cu = basis_per_mm(material, self.spectrum)
        self.basis_pe[ys:ye, xs:xe] += mm * np.float32(c_pe)
        self.basis_cu[ys:ye, xs:xe] += mm * np.float32(c_cu)
        if instance is None:
            return
        # A threat's own (thin-sample) high-energy attenuation decides its mask.
        att_high = mm * np.float32(linear_attenuation_per_mm(material, self.spectrum)[1])
        if isinstance(instance, Instance):
            instance.parts.append(Patch(ys, xs, att_high))
        elif instance is not None:
            for inst in instance:
                inst.parts.append(Patch(ys, xs, att_high))

    def attenuation(self) -> tuple[np.ndarray, np.ndarray]:
        """(-ln T_low, -ln T_high) of the whole scene, polychromatic, before the detector."""
        return spectrum_model(self.spectrum).attenuation(self.basis_pe, self.basis_cu)

    def new_instance(self, label: str) -> Instance:
        """Start a labelled threat; add its parts with ``add(..., instance=...)``."""
        inst = Instance(label)
        self.instances.append(inst)
        return inst

    def instance_attenuation(self, inst: Instance) -> tuple[int, int, np.ndarray]:
        """(y0, x0, A_high) of the threat alone over the union of its parts' boxes."""
        if not inst.parts:
            return 0, 0, np.zeros((0, 0), np.float32)
        y0 = min(p.y0 for p in inst.parts)
        x0 = min(p.x0 for p in inst.parts)
        y1 = max(p.y0 + p.mm.shape[0] for p in inst.parts)
        x1 = max(p.x0 + p.mm.shape[1] for p in inst.parts)
        acc = np.zeros((y1 - y0, x1 - x0), np.float32)
        for p in inst.parts:
            acc[p.y0 - y0 : p.y0 - y0 + p.mm.shape[0], p.x0 - x0 : p.x0 - x0 + p.mm.shape[1]] += p.mm
        return y0, x0, acc


_NOISE_BANK_SIZE = 1 << 22


@functools.cache
def _noise_bank() -> np.ndarray:
    """A fixed bank of standard normal deviates; each image reads a random window of it (fast, seeded)."""
    return np.random.default_rng(20261123).standard_normal(_NOISE_BANK_SIZE, dtype=np.float32)


def gaussian_noise(shape: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """Standard normal noise of ``shape``: a window of the bank at an offset drawn from ``rng``."""
    bank = _noise_bank()
    n = shape[0] * shape[1]
    if n > bank.size // 2:
        return rng.standard_normal(shape, dtype=np.float32)
    start = int(rng.integers(0, bank.size - n))
    return bank[start : start + n].reshape(shape)


def detect(
    att_low: np.ndarray, att_high: np.ndarray, profile: ScannerProfile, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Transmission images as the detector reports them: blur, quantum and read-out noise, line artefacts.

    Returns:
        (high, low) float32 transmission in [1/65535, 1].
    """
    out = []
    height = att_high.shape[0]
    # Detector rows are fixed along the belt (horizontal in the image): their gain errors make streaks.
    row_gain = np.asarray(1.0 + profile.line_gain_sigma * rng.standard_normal(height), np.float32)
    if rng.random() < profile.dead_line_rate:
        row_gain[int(rng.integers(height))] *= np.float32(rng.uniform(0.3, 1.15))
    for att, photons in ((att_high, profile.photons_high), (att_low, profile.photons_low)):
        t = cv2.exp(-att)
        if profile.detector_blur_px > 0:
            t = cv2.GaussianBlur(t, (0, 0), profile.detector_blur_px)
        # Quantum (Poisson, in its Gaussian limit: thousands of quanta per open pixel) and read-out noise.
        sigma = cv2.sqrt(t * np.float32(1.0 / photons) + np.float32(profile.electronic_noise**2))
        t = (t + gaussian_noise(t.shape, rng) * sigma) * row_gain[:, None]
        out.append(np.clip(t, np.float32(1.0 / 65535.0), np.float32(1.0)))
    return out[0], out[1]
