"""Bags, trays and parcels: the containers of luggage and parcel scans, filled with clutter and threats."""

from __future__ import annotations

import math

import cv2
import numpy as np

from vision.synth import objects as ob
from vision.synth import shapes
from vision.synth.layout import (
    add_host_region,
    ellipse_outline,
    fill_with_items,
    outline_mask,
    place_threats,
    point_inside,
    rect_outline,
)
from vision.synth.objects import Ctx
from vision.synth.shapes import Patch

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
    path = rect_outline(cx, cy, hw - inset, hh - inset, angle)
    path = np.concatenate([path, path[:1]])
    ctx.add(
        shapes.dashed(path, max(ctx.px(2.5), 1.0), max(ctx.px(1.5), 1.0), max(ctx.px(5), 1.0), 3.0),
        "brass" if ctx.chance(0.4) else "aluminium",
    )
    if not hard:
        ctx.add(shapes.polyline(path, ctx.px(2.0), c.pixel_mm), "steel")
    return rect_outline(cx, cy, hw - ctx.px(4), hh - ctx.px(4), angle)


def _soft_bag(ctx: Ctx, cx: float, cy: float, hw: float, hh: float, angle: float) -> np.ndarray:
    """Backpack or duffel: textile shell, straps, buckles, zips; returns its interior outline."""
    c = ctx.canvas
    outline = ellipse_outline(cx, cy, hw, hh, angle, ctx.u(0.2, 0.8))
    region = outline_mask(ctx, outline)
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
        x, y = point_inside(ctx, (cx, cy, hw, hh), 0.2)
        a = angle + ctx.u(-0.3, 0.3) + (math.pi / 2 if ctx.chance(0.5) else 0)
        ob.zip_row(ctx, x, y, a, ctx.u(150, 450))
    c.region = None
    for _ in range(int(ctx.rng.integers(1, 4))):
        x, y = point_inside(ctx, (cx, cy, hw, hh), 0.0)
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
    return ellipse_outline(cx, cy, hw - wall_px, hh - wall_px, angle, 0.5)


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
    return rect_outline(cx, cy, hw - ctx.px(6), hh - ctx.px(6), angle)


def build_tray(ctx: Ctx, with_threat: bool) -> None:
    """A checkpoint tray with loose items (laptop, shoes, belt, jacket, liquids bag, keys)."""
    c = ctx.canvas
    cx, cy = c.width * ctx.u(0.44, 0.56), c.height * ctx.u(0.44, 0.56)
    hw = min(ctx.px(ctx.u(280, 330)), c.width * 0.47)
    hh = min(ctx.px(ctx.u(190, 240)), c.height * 0.46)
    angle = ctx.u(-0.08, 0.08)
    c.region = outline_mask(ctx, _tray(ctx, cx, cy, hw, hh, angle))
    box = (cx, cy, hw * 0.92, hh * 0.92)
    add_host_region(ctx, "bag_lining", box, angle)
    if ctx.chance(0.5):
        x, y = point_inside(ctx, box, 0.3)
        ob.clothes(ctx, x, y, ctx.u(300, 500), ctx.u(250, 380), angle)
    fill_with_items(ctx, box, TRAY_ITEMS, int(ctx.rng.integers(2, 7)), angle)
    if with_threat:
        place_threats(ctx, box, LUGGAGE_THREATS, angle)
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
    region = outline_mask(ctx, interior)
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
    add_host_region(ctx, "bag_lining", (cx, cy, hw * 0.95, hh * 0.95), angle)
    # How full a bag is scales with its floor area: about 20 items in a 600 x 400 mm case.
    area_m2 = 4 * hw * hh * (c.pixel_mm / 1000.0) ** 2
    for _ in range(max(int(area_m2 * ctx.u(10, 32)), 2)):
        x, y = point_inside(ctx, box, 0.2)
        ob.clothes(
            ctx,
            x,
            y,
            ctx.u(0.3, 0.8) * hw * 2 * c.pixel_mm,
            ctx.u(0.3, 0.8) * hh * 2 * c.pixel_mm,
            angle + ctx.u(-0.5, 0.5),
        )
    fill_with_items(ctx, box, LUGGAGE_ITEMS, max(int(area_m2 * ctx.u(40, 95)), 4), angle)
    for _ in range(int(ctx.rng.integers(0, 5))):
        ob.cable(ctx, *point_inside(ctx, box, 0.2), ctx.u(300, 1000))
    if with_threat:
        place_threats(ctx, box, LUGGAGE_THREATS, angle)
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
        x, y = point_inside(ctx, (cx, cy, hw * 0.97, hh * 0.97), 0.0)
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
        c.region = outline_mask(ctx, rect_outline(cx, cy, hw - ctx.px(5), hh - ctx.px(5), angle))
        box = (cx, cy, hw * 0.9, hh * 0.9)
        add_host_region(ctx, "parcel_padding", box, angle)
        if not envelope and ctx.chance(0.6):
            # Packing: crumpled paper or air cushions around the goods.
            x0, y0, w, h = cv2.boundingRect(c.region.astype(np.uint8))
            sub = c.region[y0 : y0 + h, x0 : x0 + w].astype(np.uint8)
            fill = shapes.field(sub, ctx.rng, ctx.px(ctx.u(30, 70)), ctx.u(10, 40), 0.9, ctx.px(10))
            ctx.add(Patch(y0, x0, fill), "paper" if ctx.chance(0.6) else "polyethylene")
        if ctx.chance(0.4):
            x, y = point_inside(ctx, box, 0.3)
            ob.clothes(ctx, x, y, w_mm * 0.7, h_mm * 0.7, angle)
        fill_with_items(ctx, box, PARCEL_ITEMS, int(ctx.rng.integers(1, 7 if not envelope else 3)), angle)
        if with_threat and k == threat_in:
            place_threats(ctx, box, PARCEL_THREATS, angle)
        c.region = None
