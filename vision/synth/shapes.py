"""Thickness maps (mm of material along each ray) of solid shapes, rendered in their bounding box only.

Every function returns a ``Patch``: the top-left pixel of the box and a float32 thickness map. Shapes are
described in output pixels (position, size) and millimetres (depth along the beam). Edges are round, so a
projected object is thick in the middle and thin at its rim, never a flat stamp.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np


@dataclass
class Patch:
    """Thickness ``mm`` (float32, H×W) whose top-left pixel is (``y0``, ``x0``) in the canvas."""

    y0: int
    x0: int
    mm: np.ndarray

    def scaled(self, factor: float) -> Patch:
        """The same patch with thickness multiplied by ``factor``."""
        return Patch(self.y0, self.x0, (self.mm * np.float32(factor)).astype(np.float32, copy=False))


EMPTY = Patch(0, 0, np.zeros((0, 0), np.float32))


def _pos(x: np.ndarray) -> np.ndarray:
    """max(x, 0) in place (cheaper than np.clip on the many small arrays of a scene)."""
    return np.maximum(x, np.float32(0.0), out=x)


def _unit(x: np.ndarray) -> np.ndarray:
    """x clipped to [0, 1] in place."""
    np.maximum(x, np.float32(0.0), out=x)
    return np.minimum(x, np.float32(1.0), out=x)


def _round_edge(f: np.ndarray) -> np.ndarray:
    """Chord profile of a round rim: sqrt(f·(2 - f)) for f in [0, 1] (1 well inside)."""
    return np.sqrt(f * (np.float32(2.0) - f))


def local_frame(
    cx: float, cy: float, half_w: float, half_h: float, angle: float
) -> tuple[int, int, np.ndarray, np.ndarray]:
    """Pixel box around a rotated rectangle and the local (u along, v across) coordinates of its pixels."""
    c, s = math.cos(angle), math.sin(angle)
    ext_x = abs(c) * half_w + abs(s) * half_h + 1.5
    ext_y = abs(s) * half_w + abs(c) * half_h + 1.5
    x0, x1 = math.floor(cx - ext_x), math.ceil(cx + ext_x)
    y0, y1 = math.floor(cy - ext_y), math.ceil(cy + ext_y)
    xs = np.arange(x0, x1, dtype=np.float32) + 0.5 - np.float32(cx)
    ys = np.arange(y0, y1, dtype=np.float32) + 0.5 - np.float32(cy)
    u = xs[None, :] * np.float32(c) + ys[:, None] * np.float32(s)
    v = -xs[None, :] * np.float32(s) + ys[:, None] * np.float32(c)
    return y0, x0, u, v


def ellipsoid(
    cx: float, cy: float, half_w: float, half_h: float, depth_mm: float, angle: float = 0.0
) -> Patch:
    """An ellipsoid (or a soft blob): chord length 2c·sqrt(1 - (u/a)² - (v/b)²)."""
    y0, x0, u, v = local_frame(cx, cy, half_w, half_h, angle)
    r2 = (u / np.float32(max(half_w, 0.5))) ** 2 + (v / np.float32(max(half_h, 0.5))) ** 2
    mm = np.float32(depth_mm) * np.sqrt(_pos(1.0 - r2))
    return Patch(y0, x0, mm.astype(np.float32, copy=False))


def rounded_box(
    cx: float,
    cy: float,
    half_w: float,
    half_h: float,
    depth_mm: float,
    angle: float = 0.0,
    radius_px: float = 3.0,
) -> Patch:
    """A box with round edges of ``radius_px``: full depth inside, a circular falloff at the rim."""
    y0, x0, u, v = local_frame(cx, cy, half_w, half_h, angle)
    inside = np.minimum(np.float32(half_w) - np.abs(u), np.float32(half_h) - np.abs(v))
    r = np.float32(max(min(radius_px, half_w, half_h), 0.5))
    f = _unit(inside / r)
    mm = np.float32(depth_mm) * _round_edge(f)
    return Patch(y0, x0, mm.astype(np.float32, copy=False))


def box_shell(
    cx: float,
    cy: float,
    half_w: float,
    half_h: float,
    depth_mm: float,
    wall_mm: float,
    pixel_mm: float,
    angle: float = 0.0,
) -> Patch:
    """A closed hollow box (carton, case): two faces everywhere plus the side walls seen edge-on."""
    outer = rounded_box(cx, cy, half_w, half_h, depth_mm, angle, radius_px=1.5)
    wall_px = max(wall_mm / pixel_mm, 0.6)
    inner = rounded_box(
        cx,
        cy,
        max(half_w - wall_px, 0.5),
        max(half_h - wall_px, 0.5),
        max(depth_mm - 2 * wall_mm, 0.0),
        angle,
        radius_px=1.5,
    )
    subtract(outer, inner)
    return outer


def cylinder(
    cx: float,
    cy: float,
    half_length: float,
    radius: float,
    pixel_mm: float,
    angle: float = 0.0,
    round_ends: bool = True,
) -> Patch:
    """A solid cylinder lying across the beam (rods, bottles, batteries): chord 2·sqrt(r² - v²)."""
    y0, x0, u, v = local_frame(cx, cy, half_length + radius, radius, angle)
    if round_ends:
        du = _pos(np.abs(u) - np.float32(half_length))
        d2 = v * v + du * du
    else:
        d2 = np.where(np.abs(u) <= half_length, v * v, np.float32(1e9))
    mm = np.float32(2.0 * pixel_mm) * np.sqrt(_pos(np.float32(radius * radius) - d2))
    return Patch(y0, x0, mm.astype(np.float32, copy=False))


def tube(
    cx: float,
    cy: float,
    half_length: float,
    radius: float,
    wall_px: float,
    pixel_mm: float,
    angle: float = 0.0,
) -> Patch:
    """A hollow tube lying across the beam (trolley rails, handle tubes, umbrella shafts)."""
    outer = cylinder(cx, cy, half_length, radius, pixel_mm, angle, round_ends=False)
    inner = cylinder(cx, cy, half_length, max(radius - wall_px, 0.0), pixel_mm, angle, round_ends=False)
    subtract(outer, inner)
    return outer


def disc(cx: float, cy: float, radius: float, depth_mm: float, edge_px: float = 1.5) -> Patch:
    """A cylinder standing along the beam (coins, cans seen end-on, wheels): flat top, round rim."""
    return rounded_box_ellipse(cx, cy, radius, radius, depth_mm, 0.0, edge_px)


def rounded_box_ellipse(
    cx: float, cy: float, half_w: float, half_h: float, depth_mm: float, angle: float, edge_px: float
) -> Patch:
    """An elliptic slab with a round rim of ``edge_px``."""
    y0, x0, u, v = local_frame(cx, cy, half_w, half_h, angle)
    rho = np.sqrt((u / np.float32(half_w)) ** 2 + (v / np.float32(half_h)) ** 2)
    inside = (1.0 - rho) * np.float32(min(half_w, half_h))
    f = _unit(inside / np.float32(max(edge_px, 0.5)))
    mm = np.float32(depth_mm) * _round_edge(f)
    return Patch(y0, x0, mm.astype(np.float32, copy=False))


def polygon(points: np.ndarray, depth_mm: float, edge_px: float = 2.0) -> Patch:
    """An extruded polygon (blades, gun frames, tools) whose thickness rounds off over ``edge_px``."""
    pts = np.asarray(points, np.float32)
    x0, y0 = math.floor(pts[:, 0].min()) - 2, math.floor(pts[:, 1].min()) - 2
    x1, y1 = math.ceil(pts[:, 0].max()) + 3, math.ceil(pts[:, 1].max()) + 3
    mask = np.zeros((y1 - y0, x1 - x0), np.uint8)
    local = np.round((pts - np.array([x0, y0], np.float32)) * 4).astype(np.int32)
    cv2.fillPoly(mask, [local], 255, lineType=cv2.LINE_8, shift=2)
    dist = cv2.distanceTransform(mask, cv2.DIST_L2, 3)
    f = _unit(dist / np.float32(max(edge_px, 0.5)))
    mm = np.float32(depth_mm) * _round_edge(f)
    return Patch(y0, x0, mm.astype(np.float32, copy=False))


def wedge_polygon(points: np.ndarray, spine_mm: float, edge_mm: float, spine_side: np.ndarray) -> Patch:
    """A blade: an extruded polygon whose thickness tapers from ``spine_mm`` to ``edge_mm``.

    ``spine_side`` is a unit vector in the image pointing from the cutting edge towards the spine.
    """
    patch = polygon(points, 1.0, edge_px=1.0)
    h, w = patch.mm.shape
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    proj = (xs + patch.x0) * np.float32(spine_side[0]) + (ys + patch.y0) * np.float32(spine_side[1])
    pts = np.asarray(points, np.float32)
    p = pts @ np.asarray(spine_side, np.float32)
    frac = np.clip((proj - p.min()) / max(float(p.max() - p.min()), 1e-3), 0.0, 1.0)
    thick = np.float32(edge_mm) + np.float32(spine_mm - edge_mm) * frac
    return Patch(patch.y0, patch.x0, (patch.mm * thick).astype(np.float32))


def polyline(points: np.ndarray, radius_px: float, pixel_mm: float) -> Patch:
    """A round wire or cable along ``points`` (N×2 pixels): chord 2·sqrt(r² - d²) from the centre line."""
    pts = np.asarray(points, np.float32)
    pad = math.ceil(radius_px) + 2
    x0, y0 = math.floor(pts[:, 0].min()) - pad, math.floor(pts[:, 1].min()) - pad
    x1, y1 = math.ceil(pts[:, 0].max()) + pad + 1, math.ceil(pts[:, 1].max()) + pad + 1
    local = np.round((pts - np.array([x0, y0], np.float32)) * 4).astype(np.int32)
    if radius_px < 2.5:
        # Thin wires: an antialiased line carrying the wire's cross-section area per unit length.
        line = np.zeros((y1 - y0, x1 - x0), np.uint8)
        width = max(round(2 * radius_px), 1)
        cv2.polylines(line, [local], False, 255, width, lineType=cv2.LINE_AA, shift=2)
        mean_chord_mm = math.pi * radius_px * radius_px * pixel_mm / width
        return Patch(y0, x0, line.astype(np.float32) * np.float32(mean_chord_mm / 255.0))
    line = np.full((y1 - y0, x1 - x0), 255, np.uint8)
    cv2.polylines(line, [local], False, 0, 1, lineType=cv2.LINE_8, shift=2)
    dist = cv2.distanceTransform(line, cv2.DIST_L2, 3)
    r = np.float32(radius_px)
    mm = np.float32(2.0 * pixel_mm) * np.sqrt(_pos(r * r - dist * dist))
    return Patch(y0, x0, mm.astype(np.float32, copy=False))


def subtract(outer: Patch, inner: Patch) -> None:
    """Subtract ``inner`` from ``outer`` in place (inner lies within outer's box)."""
    oy, ox = inner.y0 - outer.y0, inner.x0 - outer.x0
    h, w = inner.mm.shape
    ys, xs = max(oy, 0), max(ox, 0)
    ye, xe = min(oy + h, outer.mm.shape[0]), min(ox + w, outer.mm.shape[1])
    if ye <= ys or xe <= xs:
        return
    region = outer.mm[ys:ye, xs:xe]
    region -= inner.mm[ys - oy : ye - oy, xs - ox : xe - ox]
    np.maximum(region, 0.0, out=region)


def low_frequency_noise(shape: tuple[int, int], rng: np.random.Generator, cell_px: float) -> np.ndarray:
    """Smooth random field in about [-1, 1] with features of ``cell_px`` pixels (wrinkles, density)."""
    h, w = shape
    gh, gw = max(2, round(h / cell_px) + 2), max(2, round(w / cell_px) + 2)
    grid = rng.standard_normal((gh, gw)).astype(np.float32)
    field = cv2.resize(grid, (w, h), interpolation=cv2.INTER_CUBIC)
    return np.clip(field * np.float32(0.6), -1.0, 1.0)


def textured(patch: Patch, rng: np.random.Generator, cell_px: float, amount: float) -> Patch:
    """Thickness modulated by smooth noise (folds of clothes, uneven fill)."""
    if patch.mm.size == 0:
        return patch
    noise = low_frequency_noise(patch.mm.shape, rng, cell_px)
    mm = patch.mm * (1.0 + np.float32(amount) * noise)
    return Patch(patch.y0, patch.x0, _pos(mm.astype(np.float32, copy=False)))


def dashed(points: np.ndarray, dash_px: float, gap_px: float, width_px: float, depth_mm: float) -> Patch:
    """Rows of small pieces along a path (zip teeth, studs, chain links) as one patch."""
    pts = np.asarray(points, np.float32)
    seg = np.diff(pts, axis=0)
    lengths = np.hypot(seg[:, 0], seg[:, 1])
    cum = np.concatenate([[0.0], np.cumsum(lengths)])
    starts = np.arange(0.0, float(cum[-1]), dash_px + gap_px)
    a = np.stack([np.interp(starts, cum, pts[:, k]) for k in range(2)], 1)
    b = np.stack([np.interp(np.minimum(starts + dash_px, cum[-1]), cum, pts[:, k]) for k in range(2)], 1)
    pad = math.ceil(width_px) + 2
    x0, y0 = math.floor(pts[:, 0].min()) - pad, math.floor(pts[:, 1].min()) - pad
    x1, y1 = math.ceil(pts[:, 0].max()) + pad + 1, math.ceil(pts[:, 1].max()) + pad + 1
    mask = np.zeros((y1 - y0, x1 - x0), np.uint8)
    off = np.array([x0, y0], np.float32)
    segments = np.round((np.stack([a, b], 1) - off) * 4).astype(np.int32)
    lines = list(segments)
    cv2.polylines(mask, lines, False, 255, max(round(width_px), 1), lineType=cv2.LINE_8, shift=2)
    mm = mask.astype(np.float32) * np.float32(depth_mm / 255.0)
    return Patch(y0, x0, mm)


def blob(
    cx: float,
    cy: float,
    half_w: float,
    half_h: float,
    depth_mm: float,
    angle: float,
    rng: np.random.Generator,
    jitter: float = 0.25,
    softness: float = 0.35,
) -> Patch:
    """An irregular soft lump (garments, food, pouches): a jittered outline with a wide round rim."""
    n = 14
    t = np.linspace(0, 2 * math.pi, n, endpoint=False)
    r = 1.0 + jitter * rng.uniform(-1, 1, n)
    r = (r + np.roll(r, 1) + np.roll(r, -1)) / 3.0
    x, y = half_w * r * np.cos(t), half_h * r * np.sin(t)
    c, s = math.cos(angle), math.sin(angle)
    pts = np.stack([cx + c * x - s * y, cy + s * x + c * y], 1)
    return polygon(pts, depth_mm, edge_px=max(softness * min(half_w, half_h), 1.0))


def field(
    mask: np.ndarray, rng: np.random.Generator, cell_px: float, depth_mm: float, amount: float, edge_px: float
) -> np.ndarray:
    """A lumpy fill of the region ``mask`` (uint8): thickness falling off over ``edge_px`` at its border."""
    dist = cv2.distanceTransform(mask, cv2.DIST_L2, 3)
    f = _unit(dist / np.float32(max(edge_px, 0.5)))
    base = np.sqrt(f * (2.0 - f))
    coarse = low_frequency_noise(mask.shape, rng, cell_px)
    fine = low_frequency_noise(mask.shape, rng, cell_px / 4)
    mod = np.clip(1.0 + np.float32(amount) * (coarse + 0.4 * fine), 0.05, None)
    return (base * mod * np.float32(depth_mm)).astype(np.float32)


def merge(patches: list[Patch]) -> Patch:
    """Sum patches into one over the union of their boxes (one canvas update instead of many)."""
    live = [p for p in patches if p.mm.size]
    if not live:
        return EMPTY
    y0 = min(p.y0 for p in live)
    x0 = min(p.x0 for p in live)
    y1 = max(p.y0 + p.mm.shape[0] for p in live)
    x1 = max(p.x0 + p.mm.shape[1] for p in live)
    acc = np.zeros((y1 - y0, x1 - x0), np.float32)
    for p in live:
        acc[p.y0 - y0 : p.y0 - y0 + p.mm.shape[0], p.x0 - x0 : p.x0 - x0 + p.mm.shape[1]] += p.mm
    return Patch(y0, x0, acc)


def upsample(patch: Patch, factor: int) -> Patch:
    """A patch rendered on a grid ``factor`` times coarser, brought back to canvas pixels.

    Smooth, large objects (garments, bag fills) are rendered coarse: a quarter of the work at half size.
    """
    if factor == 1 or patch.mm.size == 0:
        return patch
    h, w = patch.mm.shape
    mm = cv2.resize(patch.mm, (w * factor, h * factor), interpolation=cv2.INTER_LINEAR)
    return Patch(patch.y0 * factor, patch.x0 * factor, mm)
