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

import math
import zlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import cv2
import numpy as np

from vision.classes import SCENE_KINDS, category_id
from vision.synth import objects as ob
from vision.synth import shapes
from vision.synth.materials import linear_attenuation_per_mm
from vision.synth.objects import Ctx
from vision.synth.profiles import PROFILES, TRAIN_PROFILES, ScannerProfile, get_profile
from vision.synth.projector import MASK_MIN_ATTENUATION, Canvas, detect
from vision.synth.render import false_colour
from vision.synth.shapes import Patch


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


@dataclass(frozen=True)
class HostRegion:
    """A place where contraband can hide: a rotated rectangle (centre, half sizes in pixels, angle)."""

    cx: float
    cy: float
    half_w: float
    half_h: float
    angle: float = 0.0


# Called after a scene is built, before it is projected: adds objects (e.g. from spec files) into the
# host regions the builder recorded, drawing from its own random generator.
Inserter = Callable[[Ctx, Mapping[str, Sequence[HostRegion]]], None]


@dataclass
class _SceneCtx(Ctx):
    """The builders' context, also collecting the host regions a scene offers (no random draws)."""

    hosts: dict[str, list[HostRegion]] = field(default_factory=dict)


def _host(ctx: Ctx, name: str, box: tuple[float, float, float, float], angle: float = 0.0) -> None:
    if isinstance(ctx, _SceneCtx):
        ctx.hosts.setdefault(name, []).append(HostRegion(*box, angle))


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
    ctx = _SceneCtx(canvas, rng)
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
        rgb = _jpeg_round_trip(rgb, int(np.clip(prof.jpeg_quality + rng.integers(-6, 7), 30, 98)))
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


def _jpeg_round_trip(rgb: np.ndarray, quality: int) -> np.ndarray:
    ok, buf = cv2.imencode(".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality])
    decoded = cv2.imdecode(buf, cv2.IMREAD_COLOR) if ok else None
    if decoded is None:
        return rgb
    return cv2.cvtColor(decoded, cv2.COLOR_BGR2RGB)


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


# ------------------------------------------------------------------ scene builders


def _weighted(ctx: Ctx, weights: dict[str, float]) -> str:
    names = list(weights)
    p = np.array([weights[n] for n in names], float)
    return names[int(ctx.rng.choice(len(names), p=p / p.sum()))]


def _threat_count(ctx: Ctx) -> int:
    return int(ctx.rng.choice([1, 2, 3], p=[0.72, 0.22, 0.06]))


LUGGAGE_THREATS = {
    "blade": 0.32,
    "firearm": 0.24,
    "firearm_part": 0.1,
    "ammunition": 0.08,
    "narcotics": 0.08,
    "cash": 0.05,
    "cigarettes": 0.03,
    "wildlife": 0.05,
    "gemstones": 0.05,
}
PARCEL_THREATS = {
    "narcotics": 0.24,
    "cash": 0.1,
    "cigarettes": 0.12,
    "firearm_part": 0.12,
    "firearm": 0.08,
    "ammunition": 0.08,
    "blade": 0.1,
    "wildlife": 0.08,
    "gemstones": 0.08,
}
LUGGAGE_ITEMS = {
    "laptop": 0.3,
    "power_bank": 0.4,
    "bottle": 0.7,
    "toiletries": 0.8,
    "shoe": 0.9,
    "book": 0.5,
    "hair_dryer": 0.25,
    "pliers": 0.2,
    "screwdriver": 0.15,
    "keys_and_coins": 0.6,
    "food_tin": 0.1,
    "soap_or_chocolate": 0.4,
    "umbrella": 0.3,
    "belt": 0.5,
    "charger": 0.8,
    "electronics_small": 0.5,
    "cable": 1.0,
    "pen": 0.6,
    "glasses": 0.35,
    "batteries": 0.4,
    "watch": 0.3,
    "hanger": 0.2,
    "food_pack": 0.5,
    "cutlery": 0.25,
    "scissors": 0.3,
    "drill": 0.08,
    "stapler": 0.12,
    "jeans": 0.6,
    "earphones": 0.3,
    "toy_gun": 0.05,
}

Box = tuple[float, float, float, float]


def _inside(ctx: Ctx, box: Box, margin: float = 0.1) -> tuple[float, float]:
    cx, cy, hw, hh = box
    return (cx + ctx.u(-1 + margin, 1 - margin) * hw, cy + ctx.u(-1 + margin, 1 - margin) * hh)


def _fill(ctx: Ctx, box: Box, items: dict[str, float], count: int, angle: float) -> None:
    for _ in range(count):
        name = _weighted(ctx, items)
        x, y = _inside(ctx, box, 0.15)
        a = angle + (
            ctx.u(-0.4, 0.4) + (math.pi / 2 if ctx.chance(0.3) else 0.0)
            if ctx.chance(0.7)
            else ctx.u(0, math.pi)
        )
        ob.BENIGN[name](ctx, x, y, a)


def _threats(ctx: Ctx, box: Box, weights: dict[str, float], angle: float) -> None:
    for _ in range(_threat_count(ctx)):
        name = _weighted(ctx, weights)
        x, y = _inside(ctx, box, 0.25)
        a = angle + ctx.u(-math.pi, math.pi)
        ob.THREATS[name](ctx, x, y, a)


def _region(ctx: Ctx, outline_px: np.ndarray) -> np.ndarray:
    """A float32 H×W interior mask (1 inside ``outline_px``) to confine contents."""
    c = ctx.canvas
    mask = np.zeros((c.height, c.width), np.uint8)
    cv2.fillPoly(mask, [np.round(outline_px * 4).astype(np.int32)], 1, lineType=cv2.LINE_8, shift=2)
    return mask.astype(np.float32)


def _rect(cx: float, cy: float, hw: float, hh: float, angle: float) -> np.ndarray:
    ca, sa = math.cos(angle), math.sin(angle)
    corners = np.array([[-hw, -hh], [hw, -hh], [hw, hh], [-hw, hh]], np.float64)
    return (corners @ np.array([[ca, sa], [-sa, ca]]) + np.array([cx, cy])).astype(np.float32)


def _ellipse(cx: float, cy: float, hw: float, hh: float, angle: float, squareness: float) -> np.ndarray:
    t = np.linspace(0, 2 * math.pi, 64, endpoint=False)
    ct, st = np.cos(t), np.sin(t)
    e = 2.0 / (2.0 + 6.0 * squareness)
    x = hw * np.sign(ct) * np.abs(ct) ** e
    y = hh * np.sign(st) * np.abs(st) ** e
    ca, sa = math.cos(angle), math.sin(angle)
    return np.stack([cx + ca * x - sa * y, cy + sa * x + ca * y], 1).astype(np.float32)


def _suitcase(ctx: Ctx, cx: float, cy: float, hw: float, hh: float, angle: float) -> np.ndarray:
    """Hard or soft case: shell, trolley rails and handle, wheels, corner feet, perimeter zip.

    Returns the interior outline in pixels. The case lies flat, long axis along local x; the telescopic
    handle tubes run along the long axis near the back panel, the wheels sit at one short end.
    """
    c = ctx.canvas
    hard = ctx.chance(0.5)
    depth = ctx.u(200, 300)
    ctx.add(
        shapes.box_shell(cx, cy, hw, hh, depth, 3.0 if hard else 2.0, c.pixel_mm, angle),
        "polycarbonate" if hard else "textile",
    )
    if hard:
        for k in range(int(ctx.rng.integers(0, 6))):
            off = (k - 2.5) * hh * 0.3
            pts = np.array([[-hw * 0.95, off], [hw * 0.95, off]]) * c.pixel_mm
            ctx.add(
                shapes.polyline(ob.place(ctx, cx, cy, angle, pts), ctx.px(4), c.pixel_mm).scaled(0.4),
                "polycarbonate",
            )
    end = 1 if ctx.chance(0.5) else -1
    spacing = ctx.u(90, 130)
    rail_r = ctx.px(ctx.u(9, 13))
    rail_len = hw * ctx.u(0.8, 0.95)
    rail_material = "aluminium" if ctx.chance(0.5) else "steel"
    wall = ctx.px(2.0 if rail_material == "aluminium" else 1.0)
    for off in (-spacing, spacing):
        # Telescopic handle: nested tubes with a steel latch rod inside, and a base plate at the far end.
        x, y = ob.at(ctx, cx, cy, angle, end * (hw - rail_len) * c.pixel_mm, off)
        ctx.add(shapes.tube(x, y, rail_len, rail_r, wall, c.pixel_mm, angle), rail_material)
        ctx.add(shapes.tube(x, y, rail_len * 0.95, rail_r * 0.75, wall, c.pixel_mm, angle), rail_material)
        ctx.add(shapes.cylinder(x, y, rail_len * 0.9, ctx.px(1.5), c.pixel_mm, angle), "steel")
        bx, by = ob.at(ctx, cx, cy, angle, -end * (hw * c.pixel_mm - 60), off)
        ctx.add(shapes.rounded_box(bx, by, ctx.px(30), ctx.px(20), 20, angle, ctx.px(5)), "abs_fr")
        ctx.add(shapes.rounded_box(bx, by, ctx.px(12), ctx.px(8), 6, angle, 2), "steel")
    hx, hy = ob.at(ctx, cx, cy, angle, end * (hw * c.pixel_mm - 25), 0)
    ctx.add(shapes.rounded_box(hx, hy, ctx.px(22), ctx.px(spacing + 20), 30, angle, ctx.px(8)), "abs_plastic")
    ctx.add(
        shapes.tube(hx, hy, ctx.px(spacing), ctx.px(9), ctx.px(1.5), c.pixel_mm, angle + math.pi / 2),
        "aluminium",
    )
    for sy in (-1, 1):
        x, y = ob.at(ctx, cx, cy, angle, -end * (hw * c.pixel_mm - 35), sy * (hh * c.pixel_mm - 35))
        if ctx.chance(0.9):
            ctx.add(shapes.disc(x, y, ctx.px(28), 45, edge_px=ctx.px(6)), "rubber")
            ctx.add(shapes.cylinder(x, y, ctx.px(22), ctx.px(4), c.pixel_mm, angle), "steel")
            ctx.add(shapes.rounded_box(x, y, ctx.px(38), ctx.px(38), 30, angle, ctx.px(8)), "abs_plastic")
        x, y = ob.at(ctx, cx, cy, angle, end * (hw * c.pixel_mm - 25), sy * (hh * c.pixel_mm - 25))
        ctx.add(shapes.rounded_box(x, y, ctx.px(22), ctx.px(22), 25, angle, ctx.px(8)), "abs_plastic")
    if ctx.chance(0.6):
        x, y = ob.at(ctx, cx, cy, angle, 0, -end * (hh * c.pixel_mm - 15))
        ctx.add(shapes.rounded_box(x, y, ctx.px(70), ctx.px(14), 28, angle, ctx.px(6)), "abs_plastic")
        for sx in (-1, 1):
            x2, y2 = ob.at(ctx, x, y, angle, sx * 65, 0)
            ctx.add(shapes.disc(x2, y2, ctx.px(5), 12), "steel")
    inset = ctx.px(6)
    path = _rect(cx, cy, hw - inset, hh - inset, angle)
    path = np.concatenate([path, path[:1]])
    ctx.add(
        shapes.dashed(path, max(ctx.px(2.5), 1.0), max(ctx.px(1.5), 1.0), max(ctx.px(5), 1.0), 3.0),
        "brass" if ctx.chance(0.4) else "aluminium",
    )
    if not hard:
        ctx.add(shapes.polyline(path, ctx.px(2.0), c.pixel_mm), "steel")
    return _rect(cx, cy, hw - ctx.px(4), hh - ctx.px(4), angle)


def _soft_bag(ctx: Ctx, cx: float, cy: float, hw: float, hh: float, angle: float) -> np.ndarray:
    """Backpack or duffel: textile shell, straps, buckles, zips; returns its interior outline."""
    c = ctx.canvas
    outline = _ellipse(cx, cy, hw, hh, angle, ctx.u(0.2, 0.8))
    region = _region(ctx, outline)
    x0, y0, w, h = cv2.boundingRect(region.astype(np.uint8))
    sub = region[y0 : y0 + h, x0 : x0 + w].astype(np.uint8)
    dist = cv2.distanceTransform(sub, cv2.DIST_L2, 3)
    wall_px = max(ctx.px(2.0), 0.7)
    # The textile shell seen edge-on at the rim, plus both faces everywhere.
    shell = np.where(
        sub > 0,
        np.float32(3.0) + np.float32(ctx.u(60, 120)) * np.exp(-dist / np.float32(wall_px * 3)),
        np.float32(0.0),
    )
    ctx.add(Patch(y0, x0, shell.astype(np.float32)), "textile")
    c.region = region  # zips and pockets sit on the bag's faces
    for _ in range(int(ctx.rng.integers(2, 5))):
        x, y = _inside(ctx, (cx, cy, hw, hh), 0.2)
        a = angle + ctx.u(-0.3, 0.3) + (math.pi / 2 if ctx.chance(0.5) else 0)
        ob.zip_row(ctx, x, y, a, ctx.u(150, 450))
    c.region = None
    for _ in range(int(ctx.rng.integers(1, 4))):
        x, y = _inside(ctx, (cx, cy, hw, hh), 0.0)
        pts = ob.smooth_curve(ctx, (x, y), ctx.px(ctx.u(300, 700)), 1.5)
        ctx.add(shapes.polyline(pts, ctx.px(18), c.pixel_mm).scaled(3 / 36), "polyethylene")
        ctx.add(
            shapes.rounded_box(float(pts[0][0]), float(pts[0][1]), ctx.px(22), ctx.px(15), 8, angle, 2),
            "abs_plastic" if ctx.chance(0.7) else "zinc",
        )
    if ctx.chance(0.5):
        # Frame sheet or wire of a backpack.
        for off in (-0.3, 0.3):
            pts = np.array([[-hw * 0.85, hh * off], [hw * 0.85, hh * off]]) * c.pixel_mm
            ctx.add(
                shapes.polyline(ob.place(ctx, cx, cy, angle, pts), ctx.px(2.5), c.pixel_mm),
                "aluminium" if ctx.chance(0.5) else "steel",
            )
    return _ellipse(cx, cy, hw - wall_px, hh - wall_px, angle, 0.5)


TRAY_ITEMS = {
    "laptop": 1.0,
    "shoe": 0.6,
    "belt": 0.6,
    "keys_and_coins": 0.8,
    "power_bank": 0.4,
    "toiletries": 0.6,
    "jeans": 0.3,
    "watch": 0.3,
    "glasses": 0.3,
    "earphones": 0.3,
    "charger": 0.3,
    "bottle": 0.2,
}


def _tray(ctx: Ctx, cx: float, cy: float, hw: float, hh: float, angle: float) -> np.ndarray:
    """A checkpoint tray: a polypropylene bin whose thick rim and ribs show as a frame."""
    c = ctx.canvas
    ctx.add(shapes.box_shell(cx, cy, hw, hh, 120, 4.0, c.pixel_mm, angle), "polyethylene")
    ctx.add(shapes.rounded_box(cx, cy, hw, hh, 3.0, angle, ctx.px(20)), "polyethylene")
    for k in range(int(ctx.rng.integers(3, 7))):
        off = (k + 1) / 8 * 2 - 1
        x, y = ob.at(ctx, cx, cy, angle, 0, off * hh * c.pixel_mm)
        ctx.add(shapes.rounded_box(x, y, hw * 0.95, ctx.px(3), 4, angle, 1), "polyethylene")
    return _rect(cx, cy, hw - ctx.px(6), hh - ctx.px(6), angle)


def build_tray(ctx: Ctx, with_threat: bool) -> None:
    """A checkpoint tray with loose items (laptop, shoes, belt, jacket, liquids bag, keys)."""
    c = ctx.canvas
    cx, cy = c.width * ctx.u(0.44, 0.56), c.height * ctx.u(0.44, 0.56)
    hw = min(ctx.px(ctx.u(280, 330)), c.width * 0.47)
    hh = min(ctx.px(ctx.u(190, 240)), c.height * 0.46)
    angle = ctx.u(-0.08, 0.08)
    c.region = _region(ctx, _tray(ctx, cx, cy, hw, hh, angle))
    box = (cx, cy, hw * 0.92, hh * 0.92)
    _host(ctx, "bag_lining", box, angle)
    if ctx.chance(0.5):
        x, y = _inside(ctx, box, 0.3)
        ob.clothes(ctx, x, y, ctx.u(300, 500), ctx.u(250, 380), angle)
    _fill(ctx, box, TRAY_ITEMS, int(ctx.rng.integers(2, 7)), angle)
    if with_threat:
        _threats(ctx, box, LUGGAGE_THREATS, angle)
    c.region = None


def build_luggage(ctx: Ctx, with_threat: bool) -> None:
    """A suitcase or bag on the belt (or, sometimes, a checkpoint tray): clothes, clutter, maybe threats."""
    if ctx.chance(0.12):
        build_tray(ctx, with_threat)
        return
    c = ctx.canvas
    cx, cy = c.width * ctx.u(0.42, 0.58), c.height * ctx.u(0.42, 0.58)
    # Bag sizes are physical (cabin bags to large cases); the scanner's field of view sets how much belt
    # shows around them.
    angle = ctx.u(-0.1, 0.1) if ctx.chance(0.75) else ctx.u(-0.45, 0.45)
    # Most bags lie along the belt; some go through turned across it (their long axis vertical).
    across = ctx.chance(0.15)
    span_long, span_short = (c.height, c.width) if across else (c.width, c.height)
    hw = min(ctx.px(ctx.u(220, 420)), span_long * 0.47)
    hh = min(ctx.px(ctx.u(150, 290)), span_short * 0.46, hw)
    if across:
        angle += math.pi / 2
    interior = (_suitcase if ctx.chance(0.6) else _soft_bag)(ctx, cx, cy, hw, hh, angle)
    region = _region(ctx, interior)
    c.region = region
    if ctx.chance(0.7):
        # The lumpy mass of packed clothes, rendered on a grid twice as coarse (it is smooth).
        x0, y0, w, h = cv2.boundingRect(region.astype(np.uint8))
        sub = cv2.resize(
            region[y0 : y0 + h, x0 : x0 + w], (max(w // 2, 1), max(h // 2, 1)), interpolation=cv2.INTER_AREA
        )
        sub = (sub > 0.5).astype(np.uint8)
        fill = shapes.field(
            sub, ctx.rng, ctx.px(ctx.u(60, 140)) / 2, ctx.u(5, 40), ctx.u(0.5, 0.9), ctx.px(15)
        )
        fill = cv2.resize(fill, (fill.shape[1] * 2, fill.shape[0] * 2), interpolation=cv2.INTER_LINEAR)
        ctx.add(Patch(y0, x0, fill), "textile")
    box = (cx, cy, hh * 0.95, hw * 0.95) if across else (cx, cy, hw * 0.95, hh * 0.95)
    _host(ctx, "bag_lining", (cx, cy, hw * 0.95, hh * 0.95), angle)
    # How full a bag is scales with its floor area: about 20 items in a 600 x 400 mm case.
    area_m2 = 4 * hw * hh * (c.pixel_mm / 1000.0) ** 2
    for _ in range(max(int(area_m2 * ctx.u(10, 32)), 2)):
        x, y = _inside(ctx, box, 0.2)
        ob.clothes(
            ctx,
            x,
            y,
            ctx.u(0.3, 0.8) * hw * 2 * c.pixel_mm,
            ctx.u(0.3, 0.8) * hh * 2 * c.pixel_mm,
            angle + ctx.u(-0.5, 0.5),
        )
    _fill(ctx, box, LUGGAGE_ITEMS, max(int(area_m2 * ctx.u(40, 95)), 4), angle)
    for _ in range(int(ctx.rng.integers(0, 5))):
        ob.cable(ctx, *_inside(ctx, box, 0.2), ctx.u(300, 1000))
    if with_threat:
        _threats(ctx, box, LUGGAGE_THREATS, angle)
    c.region = None


PARCEL_ITEMS = {
    "book": 1.0,
    "food_pack": 0.6,
    "glasses": 0.2,
    "watch": 0.3,
    "batteries": 0.3,
    "bottle": 0.5,
    "electronics_small": 0.8,
    "shoe": 0.5,
    "food_tin": 0.5,
    "soap_or_chocolate": 0.6,
    "power_bank": 0.5,
    "charger": 0.5,
    "pliers": 0.3,
    "keys_and_coins": 0.2,
    "toiletries": 0.3,
    "cable": 0.6,
}


def _carton(ctx: Ctx, cx: float, cy: float, hw: float, hh: float, angle: float) -> None:
    """A corrugated carton: walls seen edge-on at the rim, fluted faces, tape and sometimes staples."""
    c = ctx.canvas
    wall = ctx.u(3, 7)
    shell = shapes.box_shell(cx, cy, hw, hh, ctx.u(80, 350), wall, c.pixel_mm, angle)
    # Flutes of the corrugated board: fine stripes a few millimetres apart across the faces.
    _, _, u, _ = shapes.local_frame(cx, cy, hw, hh, angle)
    h, w = shell.mm.shape
    flutes = 1.0 + 0.25 * np.cos(u[:h, :w] * np.float32(2 * math.pi * c.pixel_mm / ctx.u(4, 8)))
    ctx.add(shapes.Patch(shell.y0, shell.x0, (shell.mm * flutes).astype(np.float32)), "cardboard")
    tape_angle = angle + (0.0 if ctx.chance(0.5) else math.pi / 2)
    ctx.add(shapes.rounded_box(cx, cy, max(hw, hh) * 1.02, ctx.px(25), 0.15, tape_angle, 1), "pvc")
    for _ in range(int(ctx.rng.integers(0, 5))):
        x, y = _inside(ctx, (cx, cy, hw * 0.97, hh * 0.97), 0.0)
        ctx.add(shapes.rounded_box(x, y, ctx.px(6), ctx.px(0.6), 1.2, angle, 0.5), "steel")


def _padded_envelope(ctx: Ctx, cx: float, cy: float, hw: float, hh: float, angle: float) -> None:
    """A padded mailer: paper faces with a bubble-wrap lining (a regular dotted texture)."""
    c = ctx.canvas
    _, _, u, v = shapes.local_frame(cx, cy, hw, hh, angle)
    pitch = np.float32(2 * math.pi * c.pixel_mm / ctx.u(8, 12))
    bubbles = np.maximum(np.cos(u * pitch) * np.cos(v * pitch), np.float32(0.0)) * np.float32(ctx.u(4, 8))
    body = shapes.rounded_box(cx, cy, hw, hh, 1.0, angle, ctx.px(10))
    ctx.add(shapes.Patch(body.y0, body.x0, (body.mm * (1.0 + bubbles)).astype(np.float32)), "polyethylene")
    ctx.add(body.scaled(0.6), "paper")


def build_parcel(ctx: Ctx, with_threat: bool) -> None:
    """One to three cartons or padded envelopes, each with packing and contents confined inside it."""
    c = ctx.canvas
    n = int(ctx.rng.choice([1, 2, 3], p=[0.6, 0.3, 0.1]))
    threat_in = int(ctx.rng.integers(n))
    for k in range(n):
        envelope = ctx.chance(0.3)
        span = c.width * c.pixel_mm / n
        w_mm = min(ctx.u(260, 600), span * 0.92)
        h_mm = min(ctx.u(200, 450), c.height * c.pixel_mm * 0.88)
        if envelope:
            w_mm, h_mm = min(w_mm, 380), min(h_mm, 280)
        hw, hh = ctx.px(w_mm) / 2, ctx.px(h_mm) / 2
        cx = c.width * (k + 0.5) / n + ctx.u(-0.05, 0.05) * c.width / n
        cy = c.height * ctx.u(0.4, 0.6)
        angle = ctx.u(-0.25, 0.25)
        (_padded_envelope if envelope else _carton)(ctx, cx, cy, hw, hh, angle)
        c.region = _region(ctx, _rect(cx, cy, hw - ctx.px(5), hh - ctx.px(5), angle))
        box = (cx, cy, hw * 0.9, hh * 0.9)
        _host(ctx, "parcel_padding", box, angle)
        if not envelope and ctx.chance(0.6):
            # Packing: crumpled paper or air cushions around the goods.
            x0, y0, w, h = cv2.boundingRect(c.region.astype(np.uint8))
            sub = c.region[y0 : y0 + h, x0 : x0 + w].astype(np.uint8)
            fill = shapes.field(sub, ctx.rng, ctx.px(ctx.u(30, 70)), ctx.u(10, 40), 0.9, ctx.px(10))
            ctx.add(Patch(y0, x0, fill), "paper" if ctx.chance(0.6) else "polyethylene")
        if ctx.chance(0.4):
            x, y = _inside(ctx, box, 0.3)
            ob.clothes(ctx, x, y, w_mm * 0.7, h_mm * 0.7, angle)
        _fill(ctx, box, PARCEL_ITEMS, int(ctx.rng.integers(1, 7 if not envelope else 3)), angle)
        if with_threat and k == threat_in:
            _threats(ctx, box, PARCEL_THREATS, angle)
        c.region = None


# ------------------------------------------------------------------ vehicles


def _plate_edge(ctx: Ctx, pts_px: np.ndarray, sheet_mm: float, material: str = "steel") -> None:
    """A sheet seen edge-on (roof, floor, sills): a thin line whose pixels are partly covered by metal.

    The sheet is thinner than a pixel, so the pixel keeps the transmission of its uncovered share:
    A = -ln(1 - covered share), not the sheet's full path length.
    """
    covered = min(sheet_mm / ctx.pixel_mm, 0.95)
    att = -math.log(1.0 - covered)
    mu_high = linear_attenuation_per_mm(material, ctx.canvas.spectrum)[1]
    line = shapes.polyline(pts_px, 0.6, ctx.pixel_mm)
    peak = float(line.mm.max()) if line.mm.size else 1.0
    ctx.add(line.scaled(att / mu_high / max(peak, 1e-6)), material)


def _coil(
    ctx: Ctx, x: float, y: float, length_mm: float, radius_mm: float, turns: int, angle: float, wire_mm: float
) -> None:
    """A coil spring (suspension, seat springs) seen from the side: a zigzag of steel wire."""
    t = np.linspace(0.0, 1.0, turns * 8)
    pts = np.stack([(t - 0.5) * length_mm, radius_mm * np.sin(t * turns * 2 * math.pi)], 1)
    ctx.add(
        shapes.polyline(ob.place(ctx, x, y, angle, pts), max(ctx.px(wire_mm / 2), 0.5), ctx.pixel_mm), "steel"
    )


def _wheel(ctx: Ctx, x: float, y: float, radius_mm: float, pairs: int) -> None:
    """Wheel(s) seen from the side: tyre with its steel belt, rim with spokes, brake disc, hub, spring."""
    rim_r = radius_mm * ctx.u(0.58, 0.7)
    outer = shapes.disc(x, y, ctx.px(radius_mm), 200 * pairs, edge_px=ctx.px(60))
    shapes.subtract(outer, shapes.disc(x, y, ctx.px(rim_r), 200 * pairs, edge_px=ctx.px(10)))
    ctx.add(outer, "rubber")
    belt = np.array(
        [[math.cos(t) * radius_mm * 0.93, math.sin(t) * radius_mm * 0.93] for t in np.linspace(0, 6.3, 90)]
    )
    ctx.add(
        shapes.polyline(ob.place(ctx, x, y, 0.0, belt), ctx.px(6), ctx.pixel_mm).scaled(8.0 * pairs / 12),
        "steel",
    )
    alloy = ctx.chance(0.6)
    ctx.add(shapes.disc(x, y, ctx.px(rim_r), (8 if alloy else 3) * pairs), "aluminium" if alloy else "steel")
    for k in range(int(ctx.rng.integers(5, 11)) if alloy else 0):
        a = k * 2 * math.pi / 7 + ctx.u(0, 0.2)
        spoke = np.array([[0.0, 0.0], [rim_r * 0.9, 0.0]])
        ctx.add(
            shapes.polyline(ob.place(ctx, x, y, a, spoke), ctx.px(15), ctx.pixel_mm).scaled(pairs),
            "aluminium",
        )
    ctx.add(shapes.disc(x, y, ctx.px(radius_mm * 0.45), 25 * pairs), "cast_iron")
    ctx.add(shapes.disc(x, y, ctx.px(70), 90 * pairs), "steel")
    _coil(ctx, x, y - ctx.px(radius_mm * 0.9), 300, 60, 6, math.pi / 2, 12)


def _car_side(ctx: Ctx) -> dict[str, tuple[float, float, float, float]]:
    """Side projection of a car (beam across its width); returns where concealments can go."""
    c = ctx.canvas
    length, height = ctx.u(3900, 4900), ctx.u(1400, 1800)
    width = ctx.u(1650, 1900)
    x0 = (c.width - ctx.px(length)) / 2
    ground = c.height * 0.9

    def p(xf: float, yf: float) -> tuple[float, float]:
        return x0 + ctx.px(length * xf), ground - ctx.px(height * yf)

    def arr(*points: tuple[float, float]) -> np.ndarray:
        return np.array([p(*q) for q in points], np.float32)

    sill, belt_line = 0.2, ctx.u(0.52, 0.6)
    nose = ctx.u(0.45, 0.55)
    body = arr(
        (0.0, 0.22),
        (0.01, nose),
        (0.27, nose + 0.06),
        (0.36, 0.96),
        (0.44, 1.0),
        (0.78, 1.0),
        (0.9, belt_line + 0.07),
        (1.0, belt_line + 0.02),
        (1.0, 0.22),
        (0.97, 0.16),
        (0.03, 0.16),
    )
    ctx.add(shapes.polygon(body, 1.6, edge_px=2), "steel")
    ctx.add(
        shapes.polygon(arr((0.3, sill), (0.3, belt_line), (0.86, belt_line), (0.86, sill)), 1.4, 2), "steel"
    )
    ctx.add(
        shapes.polygon(arr((0.3, belt_line), (0.37, 0.93), (0.77, 0.95), (0.87, belt_line)), 8, 2), "glass"
    )
    _plate_edge(ctx, arr((0.36, 0.96), (0.44, 1.0), (0.78, 1.0), (0.9, belt_line + 0.07)), 0.8)
    _plate_edge(ctx, arr((0.01, nose), (0.27, nose + 0.06)), 0.8)
    _plate_edge(ctx, arr((0.05, sill), (0.95, sill)), 1.2)
    for xf in (0.3, 0.56, 0.86):
        ctx.add(
            shapes.polyline(
                arr((xf, sill), (xf + (0.06 if xf < 0.5 else -0.03 if xf > 0.8 else 0.01), 0.97)),
                ctx.px(45),
                c.pixel_mm,
            ).scaled(6 / 90),
            "steel",
        )
    for xf in (0.31, 0.57):
        hx, hy = p(xf + 0.2, belt_line - 0.04)
        ctx.add(shapes.rounded_box(hx, hy, ctx.px(60), ctx.px(12), 40, 0.0, ctx.px(4)), "zinc")
        ctx.add(
            shapes.tube(*p(xf + 0.12, 0.38), ctx.px(420), ctx.px(16), ctx.px(2), c.pixel_mm, 0.12), "steel"
        )
        ctx.add(shapes.disc(*p(xf + 0.06, 0.3), ctx.px(55), 30), "steel")
        ctx.add(shapes.rounded_box(*p(xf + 0.15, 0.45), ctx.px(60), ctx.px(40), 60, 0, ctx.px(8)), "copper")
    # Chassis rails and floor pan ribs: long box sections along the car.
    for yf in (0.13, 0.18):
        ctx.add(
            shapes.rounded_box(*p(0.5, yf), ctx.px(length * 0.42), ctx.px(35), 8, 0.0, ctx.px(5)), "steel"
        )
    # Engine bay: block with bores, head, gearbox, manifolds, battery, radiator, alternator.
    ex, ey = p(0.13, 0.36)
    block_material = "cast_iron" if ctx.chance(0.4) else "aluminium"
    block = shapes.rounded_box(
        ex, ey, ctx.px(260), ctx.px(200), 220 if block_material == "cast_iron" else 500, 0, ctx.px(30)
    )
    for k in range(4):
        shapes.subtract(
            block,
            shapes.disc(
                ex + ctx.px(-195 + 130 * k),
                ey - ctx.px(40),
                ctx.px(42),
                150 if block_material == "cast_iron" else 300,
                ctx.px(5),
            ),
        )
    ctx.add(block, block_material)
    ctx.add(
        shapes.rounded_box(ex, ey - ctx.px(250), ctx.px(250), ctx.px(60), 300, 0, ctx.px(20)), "aluminium"
    )
    ctx.add(shapes.rounded_box(*p(0.22, 0.3), ctx.px(170), ctx.px(140), 300, 0.2, ctx.px(40)), "aluminium")
    ctx.add(shapes.tube(*p(0.12, 0.52), ctx.px(260), ctx.px(30), ctx.px(3), c.pixel_mm, 0.05), "aluminium")
    ctx.add(shapes.rounded_box(*p(0.2, 0.48), ctx.px(120), ctx.px(85), 170, 0, ctx.px(10)), "lead")
    radiator = shapes.rounded_box(*p(0.035, 0.4), ctx.px(25), ctx.px(220), 600, 0, ctx.px(4))
    _, _, _, v = shapes.local_frame(*p(0.035, 0.4), ctx.px(25), ctx.px(220), 0.0)
    fins = 0.4 + 0.6 * (np.cos(v[: radiator.mm.shape[0], : radiator.mm.shape[1]] * np.float32(2.0)) > 0)
    ctx.add(
        shapes.Patch(radiator.y0, radiator.x0, (radiator.mm * fins).astype(np.float32) * np.float32(0.08)),
        "aluminium",
    )
    ctx.add(shapes.disc(*p(0.06, 0.3), ctx.px(60), 150), "copper")
    # Cabin: seats (foam, frames, springs), dashboard, steering column and wheel, wiring.
    for xf in (0.42, 0.66):
        cushion = shapes.rounded_box(*p(xf, 0.3), ctx.px(270), ctx.px(80), width * 0.8, 0.0, ctx.px(40))
        ctx.add(shapes.textured(cushion, ctx.rng, ctx.px(80), 0.2), "foam")
        back = shapes.rounded_box(
            *p(xf - 0.07, 0.52), ctx.px(70), ctx.px(290), width * 0.8, -0.22, ctx.px(40)
        )
        ctx.add(shapes.textured(back, ctx.rng, ctx.px(80), 0.2), "foam")
        ctx.add(
            shapes.polyline(
                arr((xf - 0.07, 0.25), (xf + 0.07, 0.25), (xf + 0.06, 0.21)), ctx.px(12), c.pixel_mm
            ).scaled(3),
            "steel",
        )
        for k in range(3):
            _coil(ctx, *p(xf - 0.03 + 0.03 * k, 0.3), 400, 15, 8, 0.0, 3)
    ctx.add(
        shapes.rounded_box(*p(0.3, 0.5), ctx.px(150), ctx.px(100), width * 0.9, 0, ctx.px(40)), "abs_plastic"
    )
    ctx.add(shapes.tube(*p(0.33, 0.55), ctx.px(250), ctx.px(15), ctx.px(3), c.pixel_mm, -0.6), "steel")
    wheel_x, wheel_y = p(0.36, 0.63)
    ring = np.array([[math.cos(t) * 190, math.sin(t) * 60] for t in np.linspace(0, 6.3, 40)])
    ctx.add(
        shapes.polyline(ob.place(ctx, wheel_x, wheel_y, -0.6, ring), ctx.px(12), c.pixel_mm), "polymer_grip"
    )
    c.region = _region(ctx, body)  # wiring harnesses stay inside the body
    for _ in range(int(ctx.rng.integers(3, 7))):
        start = p(ctx.u(0.1, 0.9), ctx.u(0.2, 0.6))
        pts = ob.smooth_curve(ctx, start, ctx.px(ctx.u(600, 2000)), 1.0)
        ctx.add(shapes.polyline(pts, ctx.px(ctx.u(5, 12)), c.pixel_mm), "pvc")
    c.region = None
    # Fuel tank under the rear seat, spare tyre in the boot floor, exhaust along the bottom.
    ctx.add(shapes.box_shell(*p(0.66, 0.19), ctx.px(330), ctx.px(100), 700, 1.2, c.pixel_mm), "steel")
    ctx.add(shapes.rounded_box(*p(0.66, 0.18), ctx.px(320), ctx.px(60), 650, 0, ctx.px(20)), "fuel")
    spare = shapes.rounded_box(*p(0.88, 0.27), ctx.px(320), ctx.px(90), 420, 0, ctx.px(60))
    shapes.subtract(spare, shapes.rounded_box(*p(0.88, 0.27), ctx.px(200), ctx.px(95), 300, 0, ctx.px(20)))
    ctx.add(spare, "rubber")
    ctx.add(shapes.tube(*p(0.55, 0.12), ctx.px(length * 0.4), ctx.px(25), ctx.px(1.5), c.pixel_mm), "steel")
    ctx.add(shapes.rounded_box(*p(0.85, 0.13), ctx.px(200), ctx.px(60), 250, 0, ctx.px(30)), "steel")
    for xf in (0.01, 0.99):
        ctx.add(shapes.rounded_box(*p(xf, 0.3), ctx.px(40), ctx.px(100), width, 0, ctx.px(20)), "abs_plastic")
        ctx.add(shapes.rounded_box(*p(xf, 0.3), ctx.px(15), ctx.px(50), 3 * width / 100, 0, 2), "steel")
    for xf in (0.18, 0.8):
        _wheel(ctx, *p(xf, 330 / height), 330, 2)

    def spot(xf: float, yf: float, w_mm: float, h_mm: float) -> tuple[float, float, float, float]:
        x, y = p(xf, yf)
        return x, y, ctx.px(w_mm) / 2, ctx.px(h_mm) / 2

    return {
        "false_floor": spot(0.55, 0.2, 900, 70),
        "door_panel": spot(0.44, 0.38, 500, 260),
        "fuel_tank": spot(0.66, 0.19, 500, 110),
        "spare_tyre": spot(0.88, 0.27, 360, 100),
        "bumper": spot(0.985, 0.3, 60, 160),
        "roof_lining": spot(0.6, 0.97, 1000, 35),
        "seat": spot(0.66, 0.31, 420, 110),
    }


def _car_top(ctx: Ctx) -> dict[str, tuple[float, float, float, float]]:
    """Top projection of a car: roof and floor sheets everywhere, engine, seats, wheels, tanks."""
    c = ctx.canvas
    length, width = ctx.u(3900, 4900), ctx.u(1650, 1900)
    x0 = (c.width - ctx.px(length)) / 2
    cy = c.height / 2

    def p(xf: float, yf: float) -> tuple[float, float]:
        return x0 + ctx.px(length * xf), cy + ctx.px(width * yf)

    outline = np.array(
        [
            p(0.0, -0.42),
            p(0.04, -0.5),
            p(0.96, -0.5),
            p(1.0, -0.42),
            p(1.0, 0.42),
            p(0.96, 0.5),
            p(0.04, 0.5),
            p(0.0, 0.42),
        ],
        np.float32,
    )
    ctx.add(shapes.polygon(outline, 1.8, edge_px=ctx.px(100)), "steel")
    _plate_edge(ctx, np.concatenate([outline, outline[:1]]), 1.0)
    ctx.add(shapes.rounded_box(*p(0.58, 0.0), ctx.px(length * 0.2), ctx.px(width * 0.45), 1.0, 0, 2), "steel")
    for yf in (-0.3, 0.3):
        ctx.add(shapes.rounded_box(*p(0.5, yf), ctx.px(length * 0.42), ctx.px(40), 8, 0, ctx.px(10)), "steel")
    for xf in (0.33, 0.55, 0.78):
        ctx.add(shapes.rounded_box(*p(xf, 0.0), ctx.px(30), ctx.px(width * 0.48), 4, 0, ctx.px(8)), "steel")
    ex, ey = p(0.13, 0.0)
    block_material = "cast_iron" if ctx.chance(0.4) else "aluminium"
    block = shapes.rounded_box(
        ex, ey, ctx.px(220), ctx.px(300), 200 if block_material == "cast_iron" else 450, 0, ctx.px(30)
    )
    for k in range(4):
        shapes.subtract(
            block,
            shapes.disc(
                ex,
                ey + ctx.px(-195 + 130 * k),
                ctx.px(42),
                120 if block_material == "cast_iron" else 250,
                ctx.px(5),
            ),
        )
    ctx.add(block, block_material)
    ctx.add(shapes.rounded_box(*p(0.13, 0.33), ctx.px(100), ctx.px(85), 170, 0, ctx.px(10)), "lead")
    ctx.add(shapes.rounded_box(*p(0.035, 0.0), ctx.px(25), ctx.px(600), 40, 0, ctx.px(8)), "aluminium")
    for xf in (0.42, 0.66):
        for yf in (-0.22, 0.22):
            seat = shapes.rounded_box(*p(xf, yf), ctx.px(250), ctx.px(230), 500, 0, ctx.px(60))
            ctx.add(shapes.textured(seat, ctx.rng, ctx.px(80), 0.2), "foam")
            frame = np.array(
                [
                    p(xf - 0.05, yf - 0.1),
                    p(xf + 0.05, yf - 0.1),
                    p(xf + 0.05, yf + 0.1),
                    p(xf - 0.05, yf + 0.1),
                    p(xf - 0.05, yf - 0.1),
                ],
                np.float32,
            )
            ctx.add(shapes.polyline(frame, ctx.px(8), c.pixel_mm), "steel")
            for k in range(4):
                _coil(ctx, *p(xf - 0.03 + 0.02 * k, yf), 400, 12, 8, math.pi / 2, 3)
    for xf in (0.18, 0.8):
        for yf in (-0.43, 0.43):
            ctx.add(shapes.rounded_box(*p(xf, yf), ctx.px(320), ctx.px(100), 600, 0, ctx.px(60)), "rubber")
            ctx.add(shapes.rounded_box(*p(xf, yf), ctx.px(300), ctx.px(10), 60, 0, ctx.px(4)), "steel")
            ctx.add(shapes.rounded_box(*p(xf, yf), ctx.px(200), ctx.px(40), 150, 0, ctx.px(20)), "cast_iron")
            _coil(ctx, *p(xf, yf * 0.85), 200, 60, 5, 0.0, 12)
        ctx.add(
            shapes.cylinder(*p(xf, 0.0), ctx.px(width * 0.38), ctx.px(20), c.pixel_mm, math.pi / 2), "steel"
        )
    ctx.add(shapes.box_shell(*p(0.66, 0.0), ctx.px(250), ctx.px(350), 250, 1.2, c.pixel_mm), "steel")
    ctx.add(shapes.rounded_box(*p(0.66, 0.0), ctx.px(240), ctx.px(340), 200, 0, ctx.px(20)), "fuel")
    spare = shapes.disc(*p(0.9, 0.0), ctx.px(320), 180, edge_px=ctx.px(40))
    shapes.subtract(spare, shapes.disc(*p(0.9, 0.0), ctx.px(210), 180, edge_px=ctx.px(5)))
    ctx.add(spare, "rubber")
    ctx.add(shapes.tube(*p(0.5, 0.35), ctx.px(length * 0.4), ctx.px(25), ctx.px(1.5), c.pixel_mm), "steel")
    ctx.add(shapes.cylinder(*p(0.5, 0.0), ctx.px(length * 0.25), ctx.px(35), c.pixel_mm), "steel")
    c.region = _region(ctx, outline)
    for _ in range(int(ctx.rng.integers(3, 7))):
        pts = ob.smooth_curve(ctx, p(ctx.u(0.1, 0.9), ctx.u(-0.4, 0.4)), ctx.px(ctx.u(600, 2000)), 1.0)
        ctx.add(shapes.polyline(pts, ctx.px(ctx.u(5, 12)), c.pixel_mm), "pvc")
    c.region = None

    def spot(xf: float, yf: float, w_mm: float, h_mm: float) -> tuple[float, float, float, float]:
        x, y = p(xf, yf)
        return x, y, ctx.px(w_mm) / 2, ctx.px(h_mm) / 2

    return {
        "false_floor": spot(0.55, 0.0, 900, 600),
        "door_panel": spot(0.5, -0.46, 700, 60),
        "fuel_tank": spot(0.66, 0.0, 350, 500),
        "spare_tyre": spot(0.9, 0.0, 280, 280),
        "bumper": spot(0.985, 0.0, 60, 1000),
        "roof_lining": spot(0.55, 0.0, 1200, 900),
        "seat": spot(0.66, 0.22, 350, 350),
    }


def _conceal(ctx: Ctx, spot: tuple[float, float, float, float], where: str) -> None:
    """Build a hidden compartment in a void and fill it with contraband.

    The ``concealment`` instance is the whole anomalous mass: the compartment's added walls or plates and
    its load. The load is also labelled with its own class (narcotics, cash, cigarettes), which wins over
    ``concealment`` in the class map, so the compartment shows as a rim around it.
    """
    c = ctx.canvas
    cx, cy, hw, hh = spot
    conceal = c.new_instance("concealment")
    wall_material = "steel" if ctx.chance(0.7) else "wood"
    wall_mm = ctx.u(1.0, 2.5) if wall_material == "steel" else ctx.u(8, 15)
    depth = ctx.u(60, 160) * (3 if where in ("door_panel", "bumper") else 1)
    ctx.add(
        shapes.box_shell(cx, cy, hw * 1.1, hh * 1.1, depth + 2 * wall_mm, wall_mm, c.pixel_mm),
        wall_material,
        conceal,
    )
    if where in ("false_floor", "bumper", "door_panel") and ctx.chance(0.6):
        # A welded-in double floor or panel: an extra sheet over the whole void.
        ctx.add(shapes.rounded_box(cx, cy, hw * 1.15, hh * 1.15, 2.0, 0, 2), "steel", conceal)
    content = _weighted(ctx, {"narcotics": 0.55, "cash": 0.2, "cigarettes": 0.25})
    material = {
        "narcotics": str(ctx.rng.choice(["cocaine", "heroin", "cannabis"])),
        "cash": "banknote",
        "cigarettes": "tobacco",
    }[content]
    inst = c.new_instance(content)
    fill = ctx.u(0.55, 1.0)
    cols = max(int(hw * 2 * fill / ctx.px(200)), 1)
    rows = max(int(hh * 2 / ctx.px(110)), 1)
    x_start = cx - hw
    for i in range(cols):
        for j in range(rows):
            x = x_start + (i + 0.5) * 2 * hw * fill / cols
            y = cy - hh + (j + 0.5) * 2 * hh / rows
            brick = shapes.rounded_box(x, y, hw * fill / cols * 0.92, hh / rows * 0.92, depth, 0, ctx.px(10))
            ctx.add(shapes.textured(brick, ctx.rng, ctx.px(60), 0.1), material, [inst, conceal])


def build_vehicle(ctx: Ctx, with_threat: bool) -> None:
    """A car in side or top projection; with a threat, contraband hidden in one or two voids."""
    spots = _car_side(ctx) if ctx.chance(0.6) else _car_top(ctx)
    for name, spot in spots.items():
        _host(ctx, name, spot)
    if with_threat:
        names = list(spots)
        for k in ctx.rng.choice(len(names), size=int(ctx.rng.choice([1, 2], p=[0.75, 0.25])), replace=False):
            _conceal(ctx, spots[names[int(k)]], names[int(k)])


BUILDERS: dict[str, Callable[[Ctx, bool], None]] = {
    "parcel": build_parcel,
    "luggage": build_luggage,
    "vehicle": build_vehicle,
}

__all__ = ["PROFILES", "HostRegion", "Inserter", "Scan", "ScanInstance", "generate", "pick_profile"]
