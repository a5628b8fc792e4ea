"""What every scene builder shares: where contraband may hide (host regions), filling a box with
clutter and threats, and the outlines that keep clutter inside a bag or a car body."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import cv2
import numpy as np

from vision.synth import objects as ob
from vision.synth.objects import Ctx

# A rotated rectangle as (centre x, centre y, half width, half height) in pixels.
Box = tuple[float, float, float, float]


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
class SceneCtx(Ctx):
    """The builders' context, also collecting the host regions a scene offers (no random draws)."""

    hosts: dict[str, list[HostRegion]] = field(default_factory=dict)


def add_host_region(ctx: Ctx, name: str, box: tuple[float, float, float, float], angle: float = 0.0) -> None:
    if isinstance(ctx, SceneCtx):
        ctx.hosts.setdefault(name, []).append(HostRegion(*box, angle))


def pick_weighted(ctx: Ctx, weights: dict[str, float]) -> str:
    names = list(weights)
    p = np.array([weights[n] for n in names], float)
    return names[int(ctx.rng.choice(len(names), p=p / p.sum()))]


def draw_threat_count(ctx: Ctx) -> int:
    return int(ctx.rng.choice([1, 2, 3], p=[0.72, 0.22, 0.06]))


def point_inside(ctx: Ctx, box: Box, margin: float = 0.1) -> tuple[float, float]:
    cx, cy, hw, hh = box
    return (cx + ctx.u(-1 + margin, 1 - margin) * hw, cy + ctx.u(-1 + margin, 1 - margin) * hh)


def fill_with_items(ctx: Ctx, box: Box, items: dict[str, float], count: int, angle: float) -> None:
    for _ in range(count):
        name = pick_weighted(ctx, items)
        x, y = point_inside(ctx, box, 0.15)
        a = angle + (
            ctx.u(-0.4, 0.4) + (math.pi / 2 if ctx.chance(0.3) else 0.0)
            if ctx.chance(0.7)
            else ctx.u(0, math.pi)
        )
        ob.BENIGN[name](ctx, x, y, a)


def place_threats(ctx: Ctx, box: Box, weights: dict[str, float], angle: float) -> None:
    for _ in range(draw_threat_count(ctx)):
        name = pick_weighted(ctx, weights)
        x, y = point_inside(ctx, box, 0.25)
        a = angle + ctx.u(-math.pi, math.pi)
        ob.THREATS[name](ctx, x, y, a)


def outline_mask(ctx: Ctx, outline_px: np.ndarray) -> np.ndarray:
    """A float32 H×W interior mask (1 inside ``outline_px``) to confine contents."""
    c = ctx.canvas
    mask = np.zeros((c.height, c.width), np.uint8)
    cv2.fillPoly(mask, [np.round(outline_px * 4).astype(np.int32)], 1, lineType=cv2.LINE_8, shift=2)
    return mask.astype(np.float32)


def rect_outline(cx: float, cy: float, hw: float, hh: float, angle: float) -> np.ndarray:
    ca, sa = math.cos(angle), math.sin(angle)
    corners = np.array([[-hw, -hh], [hw, -hh], [hw, hh], [-hw, hh]], np.float64)
    return (corners @ np.array([[ca, sa], [-sa, ca]]) + np.array([cx, cy])).astype(np.float32)


def ellipse_outline(
    cx: float, cy: float, hw: float, hh: float, angle: float, squareness: float
) -> np.ndarray:
    t = np.linspace(0, 2 * math.pi, 64, endpoint=False)
    ct, st = np.cos(t), np.sin(t)
    e = 2.0 / (2.0 + 6.0 * squareness)
    x = hw * np.sign(ct) * np.abs(ct) ** e
    y = hh * np.sign(st) * np.abs(st) ** e
    ca, sa = math.cos(angle), math.sin(angle)
    return np.stack([cx + ca * x - sa * y, cy + sa * x + ca * y], 1).astype(np.float32)
