"""Scene generation: parcels, luggage and vehicles with clutter and threats, rendered through a profile.

``generate(kind, seed, profile)`` is deterministic for (kind, seed, profile) and needs neither torch nor
xraydb.

Mask rule: a pixel belongs to a threat where the threat alone removes at least 3 % of the high-energy beam
(``projector.MASK_MIN_ATTENUATION``), whatever lies in front of or behind it. A threat hidden behind
impenetrable steel therefore keeps its label; each instance carries ``visibility``, the share of its mask
where the total high-energy transmission is still above the display's black level, so training can drop
invisible ones. In the class map, specific classes win over ``concealment``, and where two specific threats
overlap the one with more attenuation at that pixel wins.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from dataclasses import dataclass, field

import cv2
import numpy as np

from vision.classes import SCENE_KINDS, category_id
from vision.io import jpeg_round_trip
from vision.physics.colour import false_colour
from vision.physics.profiles import PROFILES, TRAIN_PROFILES, ScannerProfile, get_profile
from vision.synth.containers import build_luggage, build_parcel
from vision.synth.layout import HostRegion, Inserter, SceneCtx
from vision.synth.objects import Ctx
from vision.synth.projector import MASK_MIN_ATTENUATION, Canvas, detect
from vision.synth.vehicles import build_vehicle


@dataclass
class ScanInstance:
    """One labelled threat in a scan: class, box [x, y, w, h] in pixels, full-size binary mask."""

    label: str
    category_id: int
    bbox: list[int]
    mask: np.ndarray
    visibility: float


@dataclass
class Scan:
    """A simulated scan: false colour, raw transmissions, class map and instances."""

    rgb: np.ndarray
    high: np.ndarray
    low: np.ndarray
    mask: np.ndarray
    instances: list[ScanInstance] = field(default_factory=list)
    kind: str = "luggage"
    profile: str = ""
    seed: int = 0


def _rng(seed: int, kind: str, profile: str, stream: int | None = None) -> np.random.Generator:
    key = [seed & 0xFFFFFFFF, seed >> 32, SCENE_KINDS.index(kind), zlib.crc32(profile.encode())]
    # A separate stream for inserted objects leaves the base scene, and its noise, unchanged.
    return np.random.default_rng(key if stream is None else [*key, stream])


def pick_profile(kind: str, seed: int) -> str:
    """The training profile a scan of (kind, seed) uses when none is asked for."""
    rng = np.random.default_rng([seed & 0xFFFFFFFF, seed >> 32, SCENE_KINDS.index(kind), 7])
    return TRAIN_PROFILES[int(rng.integers(len(TRAIN_PROFILES)))]


def generate(
    kind: str,
    seed: int,
    profile: str | None = None,
    threat_probability: float = 0.5,
    size: tuple[int, int] | None = None,
    insert: Inserter | None = None,
) -> Scan:
    """Simulate one scan.

    Args:
        kind: "parcel", "luggage" or "vehicle".
        seed: any non-negative integer; the same (kind, seed, profile) gives the same scan.
        profile: scanner profile name; None picks one of ``TRAIN_PROFILES`` from the seed.
        threat_probability: chance that the scan holds at least one threat.
        size: (width, height) in pixels to force, e.g. for benchmarks; None uses the profile's range.
        insert: adds further objects into the scene's host regions (``vision.synth.spec``); it draws
            from its own random stream, so the rest of the scan is the same with or without it.

    Returns:
        The ``Scan``.

    Raises:
        ValueError: unknown kind or profile, or a bad probability.
    """
    if kind not in SCENE_KINDS:
        raise ValueError(f"unknown scene kind {kind!r}; known: {', '.join(SCENE_KINDS)}")
    if not 0.0 <= threat_probability <= 1.0:
        raise ValueError(f"threat_probability must be in [0, 1], got {threat_probability}")
    if seed < 0:
        raise ValueError(f"seed must be non-negative, got {seed}")
    name = profile if profile is not None else pick_profile(kind, seed)
    prof = get_profile(name)
    rng = _rng(seed, kind, name)
    with_threat = bool(rng.random() < threat_probability)
    builder = BUILDERS[kind]
    width, height, fov_mm = _geometry(kind, prof, rng, size)
    spectrum = prof.vehicle_spectrum if kind == "vehicle" else prof.spectrum
    canvas = Canvas(height, width, fov_mm / width, spectrum)
    ctx = SceneCtx(canvas, rng)
    builder(ctx, with_threat)
    if insert is not None:
        insert(Ctx(canvas, _rng(seed, kind, name, stream=1)), ctx.hosts)
    att_low, att_high = canvas.attenuation()
    high, low = detect(att_low, att_high, prof, rng)
    rgb = false_colour(high, low, prof)
    if prof.sharpen > 0:
        soft = cv2.GaussianBlur(rgb, (0, 0), 1.5)
        rgb = cv2.addWeighted(rgb, 1.0 + prof.sharpen, soft, -prof.sharpen, 0)
    if prof.resample_scale < 1.0:
        rgb = _resampled(rgb, prof.resample_scale * rng.uniform(0.9, 1.0))
    if prof.jpeg_quality > 0:
        rgb = jpeg_round_trip(rgb, int(np.clip(prof.jpeg_quality + rng.integers(-6, 7), 30, 98)))
    class_map, instances = _labels(canvas, high, prof)
    return Scan(rgb, high, low, class_map, instances, kind, name, seed)


def _geometry(
    kind: str, prof: ScannerProfile, rng: np.random.Generator, size: tuple[int, int] | None
) -> tuple[int, int, float]:
    lo, hi = prof.vehicle_width_px if kind == "vehicle" else prof.width_px
    width = int(rng.integers(lo, hi + 1))
    aspect = {"parcel": (0.6, 0.85), "luggage": (0.6, 0.82), "vehicle": (0.38, 0.5)}[kind]
    height = int(width * rng.uniform(*aspect))
    fov = {"parcel": (550.0, 800.0), "luggage": (850.0, 1200.0), "vehicle": (5400.0, 6200.0)}[kind]
    fov_mm = float(rng.uniform(*fov)) * prof.zoom
    if size is not None:
        width, height = size
    return width, height, fov_mm


def _resampled(rgb: np.ndarray, scale: float) -> np.ndarray:
    """A resized copy brought back to the original size (exports are often rescaled)."""
    h, w = rgb.shape[:2]
    small = cv2.resize(rgb, (max(int(w * scale), 1), max(int(h * scale), 1)), interpolation=cv2.INTER_AREA)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)


def _labels(canvas: Canvas, high: np.ndarray, prof: ScannerProfile) -> tuple[np.ndarray, list[ScanInstance]]:
    h, w = canvas.height, canvas.width
    class_map = np.zeros((h, w), np.uint8)
    best = np.zeros((h, w), np.float32)
    visible = -np.log(high) < np.float32(prof.black_level * 0.95)
    instances: list[ScanInstance] = []
    ordered = sorted(canvas.instances, key=lambda i: i.label != "concealment")
    for inst in ordered:
        y0, x0, acc = canvas.instance_attenuation(inst)
        if acc.size == 0:
            continue
        ys, xs = max(y0, 0), max(x0, 0)
        ye, xe = min(y0 + acc.shape[0], h), min(x0 + acc.shape[1], w)
        if ye <= ys or xe <= xs:
            continue
        own = acc[ys - y0 : ye - y0, xs - x0 : xe - x0]
        hit = own >= np.float32(MASK_MIN_ATTENUATION)
        if hit.sum() < 4:
            continue
        full = np.zeros((h, w), np.uint8)
        full[ys:ye, xs:xe] = hit
        rows, cols = np.nonzero(hit)
        bbox = [
            int(xs + cols.min()),
            int(ys + rows.min()),
            int(cols.max() - cols.min() + 1),
            int(rows.max() - rows.min() + 1),
        ]
        cid = category_id(inst.label)
        region_best = best[ys:ye, xs:xe]
        if inst.label == "concealment":
            win = hit
        else:
            win = hit & (own > region_best)
            region_best[win] = own[win]
        class_map[ys:ye, xs:xe][win] = cid
        vis = float(visible[ys:ye, xs:xe][hit].mean())
        instances.append(ScanInstance(inst.label, cid, bbox, full, vis))
    return class_map, instances


BUILDERS: dict[str, Callable[[Ctx, bool], None]] = {
    "parcel": build_parcel,
    "luggage": build_luggage,
    "vehicle": build_vehicle,
}

__all__ = ["PROFILES", "HostRegion", "Inserter", "Scan", "ScanInstance", "generate", "pick_profile"]
