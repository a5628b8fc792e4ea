"""Benign clutter and look-alikes: what fills bags and parcels around (and on top of) a threat."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from vision.synth import shapes
from vision.synth.objects.base import Ctx, at, circle, place, smooth_curve
from vision.synth.projector import Instance
from vision.synth.shapes import Patch


def clothes(ctx: Ctx, cx: float, cy: float, w_mm: float, h_mm: float, angle: float) -> None:
    """A garment: a folded stack (layers with crisp edges) or a crumpled lump, with folds and seams.

    Cloth is smooth at the pixel scale, so big garments are rendered on a grid twice as coarse.
    """
    f = 2 if min(w_mm, h_mm) > 60 * ctx.pixel_mm else 1
    cx_f, cy_f = cx / f, cy / f
    hw, hh = ctx.px(w_mm) / 2 / f, ctx.px(h_mm) / 2 / f
    material = "textile" if ctx.chance(0.85) else "leather"
    parts: list[Patch] = []
    if ctx.chance(0.4):
        # Folded: 1-4 slightly offset layers of cloth, each a thin slab with a small rounded edge.
        for _ in range(int(ctx.rng.integers(1, 5))):
            x = cx_f + ctx.u(-0.08, 0.08) * hw
            y = cy_f + ctx.u(-0.08, 0.08) * hh
            layer = shapes.rounded_box(
                x,
                y,
                hw * ctx.u(0.75, 1.0),
                hh * ctx.u(0.75, 1.0),
                ctx.u(6, 18),
                angle + ctx.u(-0.15, 0.15),
                radius_px=ctx.px(ctx.u(3, 25)) / f,
            )
            parts.append(shapes.textured(layer, ctx.rng, ctx.px(ctx.u(15, 40)) / f, 0.35))
    else:
        base = shapes.blob(cx_f, cy_f, hw, hh, ctx.u(10, 40), angle, ctx.rng, jitter=0.3, softness=0.25)
        parts.append(shapes.textured(base, ctx.rng, ctx.px(ctx.u(15, 50)) / f, 0.6))
    for _ in range(int(ctx.rng.integers(1, 5))):
        # Folds and seams: thin ridges of doubled cloth.
        start = (cx_f + ctx.u(-0.6, 0.6) * hw, cy_f + ctx.u(-0.6, 0.6) * hh)
        pts = smooth_curve(ctx, start, ctx.u(0.4, 1.2) * max(hw, hh), 0.8, steps=8)
        fold = shapes.polyline(pts, max(ctx.px(ctx.u(2, 8)) / f, 0.8), ctx.pixel_mm * f)
        parts.append(fold.scaled(ctx.u(0.4, 1.0)))
    ctx.add(shapes.upsample(shapes.merge(parts), f), material)
    if ctx.chance(0.3):
        for k in range(int(ctx.rng.integers(3, 7))):
            x, y = at(ctx, cx, cy, angle, -w_mm * 0.3 + k * w_mm * 0.12, ctx.u(-5, 5))
            ctx.add(
                shapes.disc(x, y, ctx.px(ctx.u(5, 8)), ctx.u(2, 3)),
                "brass" if ctx.chance(0.3) else "abs_plastic",
            )
    if ctx.chance(0.35):
        zip_row(ctx, cx, cy, angle + ctx.u(-0.3, 0.3), ctx.u(120, 300))


def zip_row(ctx: Ctx, cx: float, cy: float, angle: float, length_mm: float) -> None:
    """Zip teeth: a row of small metal dots with a slider (rows of blue dots on real screens)."""
    material = "brass" if ctx.chance(0.5) else "aluminium"
    bend = ctx.u(-0.15, 0.15)
    t = np.linspace(-0.5, 0.5, 12)
    pts = place(ctx, cx, cy, angle, np.stack([t * length_mm, bend * length_mm * (t * t - 0.25)], 1))
    ctx.add(
        shapes.dashed(pts, max(ctx.px(2.0), 0.8), max(ctx.px(1.5), 0.8), max(ctx.px(6), 1.0), 2.5), material
    )
    x, y = float(pts[-1][0]), float(pts[-1][1])
    ctx.add(shapes.rounded_box(x, y, ctx.px(10), ctx.px(5), 4.0, angle, 1.0), "zinc")


def cable(ctx: Ctx, cx: float, cy: float, length_mm: float) -> None:
    """A charger cable: PVC sheath and copper cores, wandering; sometimes a plug at one end."""
    pts = smooth_curve(ctx, (cx, cy), ctx.px(length_mm), ctx.u(1.5, 5.0))
    radius = ctx.u(1.5, 3.5)
    ctx.add(shapes.polyline(pts, ctx.px(radius), ctx.pixel_mm), "pvc")
    ctx.add(shapes.polyline(pts, ctx.px(radius * 0.35), ctx.pixel_mm), "copper")
    if ctx.chance(0.6):
        x, y = float(pts[-1][0]), float(pts[-1][1])
        a = ctx.u(0, math.pi)
        ctx.add(shapes.rounded_box(x, y, ctx.px(12), ctx.px(7), 12, a, ctx.px(2)), "abs_fr")
        ctx.add(shapes.rounded_box(x, y, ctx.px(4), ctx.px(3), 3, a, 1), "steel")


def pcb(ctx: Ctx, cx: float, cy: float, w_mm: float, h_mm: float, angle: float) -> None:
    """A circuit board with chips, connectors and screws: the fine texture of electronics."""
    parts: dict[str, list[Patch]] = {"pcb": [], "ceramic": [], "copper": [], "steel": []}
    parts["pcb"].append(shapes.rounded_box(cx, cy, ctx.px(w_mm) / 2, ctx.px(h_mm) / 2, 1.6, angle, 1))
    for _ in range(int(ctx.rng.integers(6, 20))):
        x, y = at(ctx, cx, cy, angle, ctx.u(-0.45, 0.45) * w_mm, ctx.u(-0.45, 0.45) * h_mm)
        cw, ch = ctx.u(2, 14), ctx.u(2, 14)
        chip = shapes.rounded_box(x, y, ctx.px(cw) / 2, ctx.px(ch) / 2, ctx.u(1, 3), angle, 0.7)
        parts["ceramic" if ctx.chance(0.5) else "pcb"].append(chip)
        if ctx.chance(0.4):
            parts["copper"].append(chip.scaled(0.15))
    for _ in range(int(ctx.rng.integers(2, 6))):
        x, y = at(ctx, cx, cy, angle, ctx.u(-0.48, 0.48) * w_mm, ctx.u(-0.48, 0.48) * h_mm)
        parts["steel"].append(shapes.disc(x, y, ctx.px(1.5), 5))
    # One canvas update per material: boards carry dozens of tiny parts.
    for material, patches in parts.items():
        ctx.add(shapes.merge(patches), material)


def laptop(ctx: Ctx, cx: float, cy: float, angle: float) -> None:
    """A laptop: aluminium or plastic shell, board, battery cells, keyboard, hinge and screws."""
    w, h = ctx.u(280, 360), ctx.u(190, 250)
    shell = "aluminium" if ctx.chance(0.5) else "abs_fr"
    ctx.add(shapes.box_shell(cx, cy, ctx.px(w) / 2, ctx.px(h) / 2, 18, 1.2, ctx.pixel_mm, angle), shell)
    ctx.add(shapes.rounded_box(cx, cy, ctx.px(w) / 2 - 2, ctx.px(h) / 2 - 2, 2.5, angle, 1), "glass")
    bx, by = at(ctx, cx, cy, angle, 0, h * 0.25)
    cells = int(ctx.rng.integers(3, 7))
    for k in range(cells):
        x, y = at(ctx, bx, by, angle, (k - (cells - 1) / 2) * w * 0.8 / cells * 1.0, 0)
        ctx.add(shapes.rounded_box(x, y, ctx.px(w * 0.8 / cells) / 2 - 1, ctx.px(30), 6, angle, 1), "battery")
    px_, py_ = at(ctx, cx, cy, angle, ctx.u(-0.1, 0.1) * w, -h * 0.15)
    pcb(ctx, px_, py_, w * 0.5, h * 0.3, angle)
    for k in range(2):
        x, y = at(ctx, cx, cy, angle, (k - 0.5) * w * 0.6, -h / 2 + 8)
        ctx.add(shapes.cylinder(x, y, ctx.px(15), ctx.px(4), ctx.pixel_mm, angle), "steel")


def power_bank(ctx: Ctx, cx: float, cy: float, angle: float) -> None:
    """A power bank or phone: battery block, small board, plastic or aluminium case."""
    w, h = ctx.u(70, 150), ctx.u(40, 75)
    ctx.add(
        shapes.rounded_box(cx, cy, ctx.px(w) / 2, ctx.px(h) / 2, ctx.u(8, 20), angle, ctx.px(5)), "battery"
    )
    ctx.add(
        shapes.box_shell(cx, cy, ctx.px(w) / 2 + 1, ctx.px(h) / 2 + 1, 22, 1.0, ctx.pixel_mm, angle),
        "aluminium" if ctx.chance(0.4) else "abs_fr",
    )
    x, y = at(ctx, cx, cy, angle, w * 0.42, 0)
    pcb(ctx, x, y, w * 0.12, h * 0.8, angle)


def bottle(
    ctx: Ctx, cx: float, cy: float, angle: float, content: str = "water", instance: Instance | None = None
) -> None:
    """A bottle lying in the bag: plastic or glass wall, liquid fill, neck and cap."""
    length, radius = ctx.u(150, 280), ctx.u(28, 42)
    glass = ctx.chance(0.35)
    wall = 3.0 if glass else 0.4
    body = shapes.tube(cx, cy, ctx.px(length) / 2, ctx.px(radius), ctx.px(wall), ctx.pixel_mm, angle)
    ctx.add(body, "glass" if glass else "polyethylene")
    fill = ctx.u(0.6, 0.97)
    liquid = shapes.cylinder(
        cx, cy, ctx.px(length) / 2, ctx.px(radius - wall) * fill, ctx.pixel_mm, angle, round_ends=False
    )
    ctx.add(liquid, content, instance)
    nx, ny = at(ctx, cx, cy, angle, length / 2 + 20, 0)
    ctx.add(
        shapes.tube(nx, ny, ctx.px(20), ctx.px(12), ctx.px(wall), ctx.pixel_mm, angle),
        "glass" if glass else "polyethylene",
    )
    cx2, cy2 = at(ctx, cx, cy, angle, length / 2 + 44, 0)
    ctx.add(
        shapes.rounded_box(cx2, cy2, ctx.px(6), ctx.px(14), 28, angle, 2),
        "aluminium" if glass and ctx.chance(0.5) else "polyethylene",
    )


def toiletries(ctx: Ctx, cx: float, cy: float) -> None:
    """A wash bag: small bottles, a toothbrush, a razor, an aerosol can, in a textile pouch."""
    ctx.add(
        shapes.textured(
            shapes.ellipsoid(cx, cy, ctx.px(120), ctx.px(70), 12, ctx.u(0, 3.14)), ctx.rng, ctx.px(30), 0.3
        ),
        "textile",
    )
    for _ in range(int(ctx.rng.integers(2, 5))):
        x, y = cx + ctx.px(ctx.u(-80, 80)), cy + ctx.px(ctx.u(-45, 45))
        a = ctx.u(0, math.pi)
        ln, r = ctx.u(50, 110), ctx.u(12, 25)
        ctx.add(shapes.tube(x, y, ctx.px(ln) / 2, ctx.px(r), ctx.px(0.8), ctx.pixel_mm, a), "polyethylene")
        ctx.add(
            shapes.cylinder(x, y, ctx.px(ln) / 2, ctx.px(r - 1), ctx.pixel_mm, a),
            str(ctx.rng.choice(["shampoo", "cosmetic", "toothpaste", "water"])),
        )
    if ctx.chance(0.5):
        x, y, a = cx + ctx.px(ctx.u(-60, 60)), cy + ctx.px(ctx.u(-30, 30)), ctx.u(0, math.pi)
        ctx.add(shapes.tube(x, y, ctx.px(70), ctx.px(25), ctx.px(0.5), ctx.pixel_mm, a), "aluminium")
        ctx.add(shapes.disc(*at(ctx, x, y, a, 70, 0), ctx.px(10), 8), "abs_plastic")
    x, y, a = cx + ctx.px(ctx.u(-60, 60)), cy + ctx.px(ctx.u(-30, 30)), ctx.u(0, math.pi)
    ctx.add(shapes.rounded_box(x, y, ctx.px(90), ctx.px(6), 8, a, ctx.px(2)), "abs_plastic")
    if ctx.chance(0.6):
        ctx.add(shapes.rounded_box(*at(ctx, x, y, a, 80, 0), ctx.px(8), ctx.px(18), 0.3, a, 0.5), "steel")


def shoe(ctx: Ctx, cx: float, cy: float, angle: float) -> None:
    """A shoe: rubber sole, leather upper, sometimes a steel shank and eyelets."""
    length, width = ctx.u(240, 300), ctx.u(80, 105)
    pts = np.array(
        [
            [-length / 2, -width * 0.3],
            [-length * 0.3, -width / 2],
            [length * 0.2, -width / 2],
            [length / 2, -width * 0.15],
            [length / 2, width * 0.15],
            [length * 0.2, width / 2],
            [-length * 0.3, width * 0.45],
            [-length / 2, width * 0.3],
        ]
    )
    ctx.add(
        shapes.polygon(place(ctx, cx, cy, angle, pts), ctx.u(20, 35), edge_px=ctx.px(10)),
        "rubber_filled" if ctx.chance(0.6) else "rubber",
    )
    ctx.add(
        shapes.textured(
            shapes.ellipsoid(cx, cy, ctx.px(length * 0.45), ctx.px(width * 0.45), 40, angle),
            ctx.rng,
            ctx.px(30),
            0.3,
        ),
        "leather",
    )
    if ctx.chance(0.4):
        x, y = at(ctx, cx, cy, angle, -length * 0.1, 0)
        ctx.add(shapes.rounded_box(x, y, ctx.px(50), ctx.px(6), 1.5, angle, 1), "steel")
    if ctx.chance(0.5):
        for k in range(5):
            for side in (-1, 1):
                x, y = at(ctx, cx, cy, angle, length * 0.05 + k * 12, side * 15)
                ctx.add(shapes.disc(x, y, ctx.px(2.5), 1.5), "brass")


def book(ctx: Ctx, cx: float, cy: float, angle: float) -> None:
    """A book or magazine: a dense paper block (look-alike of banknote bundles)."""
    w, h = ctx.u(130, 240), ctx.u(180, 300)
    ctx.add(
        shapes.rounded_box(cx, cy, ctx.px(w) / 2, ctx.px(h) / 2, ctx.u(8, 45), angle, ctx.px(3)),
        "magazine" if ctx.chance(0.35) else "paper",
    )


def hair_dryer(ctx: Ctx, cx: float, cy: float, angle: float) -> None:
    """A hair dryer: plastic body and handle, a motor with copper windings, a heating coil."""
    ctx.add(shapes.tube(cx, cy, ctx.px(90), ctx.px(38), ctx.px(2.5), ctx.pixel_mm, angle), "polycarbonate")
    hx, hy = at(ctx, cx, cy, angle, -20, 90)
    ctx.add(shapes.rounded_box(hx, hy, ctx.px(18), ctx.px(65), 30, angle, ctx.px(8)), "polycarbonate")
    mx, my = at(ctx, cx, cy, angle, -40, 0)
    ctx.add(shapes.cylinder(mx, my, ctx.px(16), ctx.px(17), ctx.pixel_mm, angle).scaled(0.35), "copper")
    ctx.add(shapes.cylinder(mx, my, ctx.px(22), ctx.px(19), ctx.pixel_mm, angle), "steel")
    coil = np.array([[20 + k * 2.5, 28 * math.sin(k * 1.3)] for k in range(30)])
    ctx.add(shapes.polyline(place(ctx, cx, cy, angle, coil), ctx.px(0.4), ctx.pixel_mm), "stainless_steel")
    cable(ctx, hx, hy + ctx.px(60), ctx.u(300, 700))


def pliers(ctx: Ctx, cx: float, cy: float, angle: float) -> None:
    """Pliers or a wrench: steel tool shapes (look-alike of blades and gun parts)."""
    if ctx.chance(0.5):
        length = ctx.u(150, 220)
        for side in (-1, 1):
            pts = np.array(
                [
                    [-length / 2, side * 4],
                    [0, side * 9],
                    [length * 0.35, side * 3],
                    [length / 2, side * 1],
                    [length / 2, side * 6],
                    [0, side * 14],
                    [-length / 2, side * 10],
                ]
            )
            a = angle + side * 0.06
            ctx.add(shapes.polygon(place(ctx, cx, cy, a, pts), 7, edge_px=ctx.px(2)), "steel")
            x, y = at(ctx, cx, cy, a, -length * 0.25, side * 8)
            ctx.add(shapes.rounded_box(x, y, ctx.px(length * 0.25), ctx.px(8), 12, a, ctx.px(4)), "pvc")
        ctx.add(shapes.disc(cx, cy, ctx.px(6), 12), "steel")
    else:
        length = ctx.u(120, 250)
        ctx.add(shapes.rounded_box(cx, cy, ctx.px(length) / 2, ctx.px(7), 6, angle, ctx.px(2)), "steel")
        for end in (-1, 1):
            x, y = at(ctx, cx, cy, angle, end * length / 2, 0)
            ring = shapes.disc(x, y, ctx.px(14), 7)
            ctx.add(ring, "steel")


def screwdriver(ctx: Ctx, cx: float, cy: float, angle: float) -> None:
    """A screwdriver: steel shaft and a plastic handle."""
    shaft = ctx.u(60, 150)
    ctx.add(shapes.cylinder(cx, cy, ctx.px(shaft) / 2, ctx.px(3), ctx.pixel_mm, angle), "steel")
    hx, hy = at(ctx, cx, cy, angle, -shaft / 2 - 50, 0)
    ctx.add(shapes.cylinder(hx, hy, ctx.px(50), ctx.px(14), ctx.pixel_mm, angle), "abs_plastic")


def keys_and_coins(ctx: Ctx, cx: float, cy: float) -> None:
    """A key ring and loose coins: small dense metal pieces."""
    for k in range(int(ctx.rng.integers(1, 5))):
        a = ctx.u(0, 2 * math.pi)
        pts = np.array(
            [
                [0, -10],
                [12, -12],
                [14, -3],
                [55, -3],
                [55, 3],
                [48, 3],
                [46, 6],
                [40, 3],
                [14, 3],
                [12, 12],
                [0, 10],
            ]
        )
        ctx.add(shapes.polygon(place(ctx, cx, cy, a, pts), 2.0, edge_px=1), "brass" if k % 2 else "steel")
    ctx.add(shapes.polyline(smooth_curve(ctx, (cx, cy), ctx.px(90), 6), ctx.px(0.8), ctx.pixel_mm), "steel")
    for _ in range(int(ctx.rng.integers(0, 8))):
        x, y = cx + ctx.px(ctx.u(-60, 60)), cy + ctx.px(ctx.u(-60, 60))
        ctx.add(
            shapes.disc(x, y, ctx.px(ctx.u(9, 14)), ctx.u(1.5, 2.5)),
            "brass" if ctx.chance(0.5) else "stainless_steel",
        )


def food_tin(ctx: Ctx, cx: float, cy: float, angle: float) -> None:
    """A food tin seen from the side or the end: thin steel shell full of food."""
    if ctx.chance(0.5):
        r = ctx.u(35, 50)
        ctx.add(shapes.disc(cx, cy, ctx.px(r), ctx.u(60, 110)), "food")
        ctx.add(shapes.disc(cx, cy, ctx.px(r), 0.5), "steel")
        for k in (1.0, 0.92):
            ring = shapes.polyline(circle(cx, cy, ctx.px(r * k)), ctx.px(1.0), ctx.pixel_mm)
            ctx.add(ring.scaled(30), "steel")
    else:
        length, r = ctx.u(90, 120), ctx.u(35, 50)
        ctx.add(shapes.tube(cx, cy, ctx.px(length) / 2, ctx.px(r), ctx.px(0.3), ctx.pixel_mm, angle), "steel")
        ctx.add(
            shapes.cylinder(cx, cy, ctx.px(length) / 2, ctx.px(r - 0.3), ctx.pixel_mm, angle, False), "food"
        )


def soap_or_chocolate(ctx: Ctx, cx: float, cy: float, angle: float) -> None:
    """Soap bars or chocolate slabs (look-alikes of drug bricks)."""
    if ctx.chance(0.5):
        ctx.add(
            shapes.rounded_box(
                cx, cy, ctx.px(ctx.u(35, 50)), ctx.px(ctx.u(22, 32)), ctx.u(20, 30), angle, ctx.px(8)
            ),
            "soap",
        )
    else:
        n = int(ctx.rng.integers(1, 4))
        for k in range(n):
            x, y = at(ctx, cx, cy, angle, 0, k * 12)
            ctx.add(shapes.rounded_box(x, y, ctx.px(80), ctx.px(40), 10, angle, ctx.px(2)), "chocolate")


def umbrella(ctx: Ctx, cx: float, cy: float, angle: float) -> None:
    """A folded umbrella: a long metal shaft, thin ribs, fabric, a handle."""
    length = ctx.u(250, 550)
    ctx.add(shapes.tube(cx, cy, ctx.px(length) / 2, ctx.px(5), ctx.px(0.8), ctx.pixel_mm, angle), "aluminium")
    ctx.add(
        shapes.textured(
            shapes.ellipsoid(cx, cy, ctx.px(length * 0.42), ctx.px(22), 30, angle), ctx.rng, ctx.px(20), 0.4
        ),
        "textile",
    )
    for k in range(6):
        off = (k - 2.5) * 5
        pts = place(ctx, cx, cy, angle, np.array([[-length * 0.4, off * 0.3], [length * 0.4, off]]))
        ctx.add(shapes.polyline(pts, ctx.px(0.6), ctx.pixel_mm), "steel")
    hx, hy = at(ctx, cx, cy, angle, -length / 2 - 40, 0)
    ctx.add(shapes.cylinder(hx, hy, ctx.px(40), ctx.px(13), ctx.pixel_mm, angle), "abs_plastic")


def belt(ctx: Ctx, cx: float, cy: float) -> None:
    """A leather belt with a steel buckle."""
    pts = smooth_curve(ctx, (cx, cy), ctx.px(ctx.u(400, 900)), 4)
    ctx.add(shapes.polyline(pts, ctx.px(17), ctx.pixel_mm).scaled(4 / 34), "leather")
    x, y = float(pts[0][0]), float(pts[0][1])
    ctx.add(shapes.box_shell(x, y, ctx.px(25), ctx.px(22), 4, 2.0, ctx.pixel_mm, ctx.u(0, 3)), "zinc")


def charger(ctx: Ctx, cx: float, cy: float, angle: float) -> None:
    """A mains adapter: plastic box, transformer core, pins and a cable."""
    ctx.add(shapes.rounded_box(cx, cy, ctx.px(30), ctx.px(25), 30, angle, ctx.px(4)), "polycarbonate")
    ctx.add(shapes.rounded_box(cx, cy, ctx.px(10), ctx.px(9), 15, angle, 1), "steel")
    ctx.add(shapes.rounded_box(cx, cy, ctx.px(14), ctx.px(5), 10, angle, 1), "copper")
    cable(ctx, cx, cy, ctx.u(400, 1000))


def electronics_small(ctx: Ctx, cx: float, cy: float, angle: float) -> None:
    """A camera, speaker or headphones: board, battery, a magnet."""
    w, h = ctx.u(60, 140), ctx.u(40, 90)
    ctx.add(
        shapes.box_shell(cx, cy, ctx.px(w) / 2, ctx.px(h) / 2, ctx.u(25, 50), 1.5, ctx.pixel_mm, angle),
        "abs_fr",
    )
    pcb(ctx, cx, cy, w * 0.8, h * 0.7, angle)
    if ctx.chance(0.6):
        x, y = at(ctx, cx, cy, angle, w * 0.25, 0)
        ctx.add(shapes.disc(x, y, ctx.px(ctx.u(8, 16)), ctx.u(5, 10)), "steel")
    x, y = at(ctx, cx, cy, angle, -w * 0.25, 0)
    ctx.add(shapes.rounded_box(x, y, ctx.px(w * 0.2), ctx.px(h * 0.3), 8, angle, 1), "battery")


def pen(ctx: Ctx, cx: float, cy: float, angle: float) -> None:
    """A ballpoint pen: plastic or metal barrel, spring, clip and refill tip."""
    length = ctx.u(120, 150)
    metal = ctx.chance(0.3)
    ctx.add(
        shapes.tube(
            cx, cy, ctx.px(length) / 2, ctx.px(5), ctx.px(0.8 if not metal else 0.4), ctx.pixel_mm, angle
        ),
        "stainless_steel" if metal else "polycarbonate",
    )
    ctx.add(shapes.cylinder(cx, cy, ctx.px(length * 0.4), ctx.px(1.2), ctx.pixel_mm, angle), "polyethylene")
    x, y = at(ctx, cx, cy, angle, length * 0.3, 0)
    ctx.add(shapes.rounded_box(x, y, ctx.px(8), ctx.px(1.5), 3, angle, 0.5), "steel")
    x, y = at(ctx, cx, cy, angle, -length * 0.35, 6)
    ctx.add(shapes.rounded_box(x, y, ctx.px(22), ctx.px(1.5), 1.0, angle, 0.5), "stainless_steel")


def glasses(ctx: Ctx, cx: float, cy: float, angle: float) -> None:
    """Spectacles in a case: thin metal frames around two lenses, hinges; a hard case sometimes."""
    for side in (-1, 1):
        x, y = at(ctx, cx, cy, angle, side * 32, 0)
        ctx.add(
            shapes.rounded_box_ellipse(x, y, ctx.px(25), ctx.px(18), 3, angle, ctx.px(3)), "polycarbonate"
        )
        t = np.linspace(0, 2 * math.pi, 30)
        ring = place(ctx, x, y, angle, np.stack([25 * np.cos(t), 18 * np.sin(t)], 1))
        ctx.add(shapes.polyline(ring, ctx.px(1.0), ctx.pixel_mm), "stainless_steel")
    if ctx.chance(0.5):
        ctx.add(shapes.box_shell(cx, cy, ctx.px(80), ctx.px(30), 40, 1.0, ctx.pixel_mm, angle), "aluminium")


def batteries(ctx: Ctx, cx: float, cy: float, angle: float) -> None:
    """Loose AA or 18650 cells: small dense cylinders, bright blue-black dots on screens."""
    big = ctx.chance(0.3)
    for _ in range(int(ctx.rng.integers(1, 6))):
        x, y = cx + ctx.px(ctx.u(-30, 30)), cy + ctx.px(ctx.u(-30, 30))
        a = angle + ctx.u(-0.3, 0.3)
        ctx.add(
            shapes.tube(
                x, y, ctx.px(32 if big else 25), ctx.px(9 if big else 7), ctx.px(0.4), ctx.pixel_mm, a
            ),
            "steel",
        )
        ctx.add(
            shapes.cylinder(x, y, ctx.px(31 if big else 24), ctx.px(8.5 if big else 6.5), ctx.pixel_mm, a),
            "battery" if big else "zinc",
        )


def watch(ctx: Ctx, cx: float, cy: float, angle: float) -> None:
    """A wrist watch: steel case, movement, bracelet links or a strap."""
    ctx.add(shapes.disc(cx, cy, ctx.px(20), 10, edge_px=ctx.px(3)), "stainless_steel")
    ctx.add(shapes.disc(cx, cy, ctx.px(14), 4), "brass")
    for side in (-1, 1):
        pts = place(
            ctx, cx, cy, angle, np.array([[0, side * 20], [side * 10, side * 70], [side * 30, side * 110]])
        )
        if ctx.chance(0.5):
            ctx.add(shapes.dashed(pts, ctx.px(5), ctx.px(1), ctx.px(18), 3.5), "stainless_steel")
        else:
            ctx.add(shapes.polyline(pts, ctx.px(9), ctx.pixel_mm).scaled(0.2), "leather")


def hanger(ctx: Ctx, cx: float, cy: float, angle: float) -> None:
    """A wire coat hanger: a long thin steel triangle with a hook."""
    w = ctx.u(350, 420)
    pts = np.array([[-w / 2, 80], [0, 0], [w / 2, 80], [-w / 2, 80]])
    ctx.add(shapes.polyline(place(ctx, cx, cy, angle, pts), ctx.px(1.2), ctx.pixel_mm), "steel")
    arc = [[12 * math.sin(t), -42 + 12 * math.cos(t)] for t in np.linspace(math.pi, 2.0 * math.pi, 8)]
    hook = np.array([[0.0, 0.0], [0.0, -30.0], *arc])
    ctx.add(shapes.polyline(place(ctx, cx, cy, angle, hook), ctx.px(1.2), ctx.pixel_mm), "steel")


def food_pack(ctx: Ctx, cx: float, cy: float, angle: float) -> None:
    """Packed food: a bag of sweets, a jar, cheese or sausage: soft organic lumps."""
    style = ctx.rng.choice(["bag", "jar", "slab"])
    if style == "bag":
        patch = shapes.blob(
            cx, cy, ctx.px(ctx.u(50, 110)), ctx.px(ctx.u(40, 80)), ctx.u(15, 45), angle, ctx.rng
        )
        ctx.add(shapes.textured(patch, ctx.rng, ctx.px(12), 0.5), "food")
    elif style == "jar":
        r = ctx.u(35, 50)
        ctx.add(shapes.disc(cx, cy, ctx.px(r), ctx.u(80, 120), edge_px=ctx.px(4)), "food")
        ring = np.array([[r * math.cos(t), r * math.sin(t)] for t in np.linspace(0, 2 * math.pi, 40)])
        ctx.add(shapes.polyline(place(ctx, cx, cy, 0, ring), ctx.px(4), ctx.pixel_mm).scaled(8), "glass")
        ctx.add(shapes.disc(cx, cy, ctx.px(r + 1), 0.3), "steel")
    else:
        ctx.add(
            shapes.blob(
                cx,
                cy,
                ctx.px(ctx.u(60, 120)),
                ctx.px(ctx.u(25, 45)),
                ctx.u(30, 60),
                angle,
                ctx.rng,
                jitter=0.1,
                softness=0.5,
            ),
            "food",
        )


def cutlery(ctx: Ctx, cx: float, cy: float, angle: float) -> None:
    """A fork, spoon or table knife with a rounded blade (look-alikes of blades)."""
    length = ctx.u(150, 210)
    style = ctx.rng.choice(["fork", "spoon", "table_knife"])
    handle = np.array([[-length / 2, -5], [0, -3], [0, 3], [-length / 2, 5]])
    ctx.add(shapes.polygon(place(ctx, cx, cy, angle, handle), 2.5, edge_px=1), "stainless_steel")
    head = length * 0.4
    if style == "spoon":
        x, y = at(ctx, cx, cy, angle, head / 2 + 5, 0)
        ctx.add(
            shapes.rounded_box_ellipse(x, y, ctx.px(head / 2), ctx.px(20), 1.2, angle, ctx.px(2)),
            "stainless_steel",
        )
    elif style == "fork":
        base = np.array([[0, -10], [head * 0.4, -11], [head * 0.4, 11], [0, 10]])
        ctx.add(shapes.polygon(place(ctx, cx, cy, angle, base), 2.0, edge_px=1), "stainless_steel")
        for k in range(4):
            tine = np.array([[head * 0.4, -9 + 6 * k], [head, -9 + 6 * k]])
            ctx.add(
                shapes.polyline(place(ctx, cx, cy, angle, tine), ctx.px(1.0), ctx.pixel_mm), "stainless_steel"
            )
    else:
        blade = np.array([[0, -8], [head * 1.3, -7], [head * 1.4, 0], [head * 1.3, 6], [0, 8]])
        ctx.add(shapes.polygon(place(ctx, cx, cy, angle, blade), 1.5, edge_px=1), "stainless_steel")


def scissors(ctx: Ctx, cx: float, cy: float, angle: float) -> None:
    """Scissors: two thin steel blades crossing at a screw, plastic finger loops."""
    length = ctx.u(120, 200)
    for side in (-1, 1):
        a = angle + side * ctx.u(0.04, 0.2)
        blade = np.array([[0, -4], [length * 0.55, -1.5 * side], [length * 0.55, 1.0 * side], [0, 5]])
        ctx.add(shapes.polygon(place(ctx, cx, cy, a, blade), 1.8, edge_px=1), "stainless_steel")
        x, y = at(ctx, cx, cy, a, -length * 0.3, side * 14)
        shank = np.array([[0.0, 0.0], [-length * 0.18, side * 9.0]])
        ctx.add(shapes.polyline(place(ctx, cx, cy, a, shank), ctx.px(3), ctx.pixel_mm), "stainless_steel")
        loop = shapes.rounded_box_ellipse(x, y, ctx.px(22), ctx.px(14), 7, a, ctx.px(3))
        shapes.subtract(loop, shapes.rounded_box_ellipse(x, y, ctx.px(15), ctx.px(8), 7, a, ctx.px(1)))
        ctx.add(loop, "abs_plastic")
    ctx.add(shapes.disc(cx, cy, ctx.px(3), 6), "steel")


def drill(ctx: Ctx, cx: float, cy: float, angle: float) -> None:
    """A cordless drill: motor (copper windings and magnets), gearbox, chuck, battery pack, plastic housing.

    Gun-shaped, so a hard negative for firearms.
    """
    flip = -1.0 if ctx.chance(0.5) else 1.0
    body = np.array(
        [[-90, -30], [80, -30], [80, 20], [-20, 20], [-10, 140], [-60, 140], [-70, 20], [-90, 10]]
    )
    ctx.add(
        shapes.polygon(place(ctx, cx, cy, angle, body * np.array([1, flip])), 45, edge_px=ctx.px(8)), "abs_fr"
    )
    mx, my = at(ctx, cx, cy, angle, -40, -5 * flip)
    # Windings fill about a third of the motor: an effective 12 mm of copper.
    ctx.add(shapes.rounded_box(mx, my, ctx.px(30), ctx.px(20), 12, angle, ctx.px(6)), "copper")
    ctx.add(shapes.rounded_box(mx, my, ctx.px(34), ctx.px(22), 6, angle, ctx.px(3)), "steel")
    gx, gy = at(ctx, cx, cy, angle, 30, -5 * flip)
    ctx.add(shapes.cylinder(gx, gy, ctx.px(25), ctx.px(18), ctx.pixel_mm, angle).scaled(0.4), "zinc")
    chx, chy = at(ctx, cx, cy, angle, 100, -5 * flip)
    ctx.add(shapes.cylinder(chx, chy, ctx.px(22), ctx.px(14), ctx.pixel_mm, angle), "steel")
    bx, by = at(ctx, cx, cy, angle, -40, 150 * flip)
    ctx.add(shapes.rounded_box(bx, by, ctx.px(55), ctx.px(35), 40, angle, ctx.px(8)), "battery")


def stapler(ctx: Ctx, cx: float, cy: float, angle: float) -> None:
    """A stapler: folded steel channels and a spring, plastic top."""
    length = ctx.u(120, 180)
    ctx.add(shapes.box_shell(cx, cy, ctx.px(length) / 2, ctx.px(14), 40, 0.8, ctx.pixel_mm, angle), "steel")
    ctx.add(shapes.rounded_box(cx, cy, ctx.px(length) / 2, ctx.px(18), 20, angle, ctx.px(5)), "abs_plastic")
    ctx.add(shapes.rounded_box(cx, cy, ctx.px(length * 0.35), ctx.px(3), 6, angle, 1), "steel")


def jeans(ctx: Ctx, cx: float, cy: float, angle: float) -> None:
    """Folded jeans: thick denim with rivets, a button and a brass zip."""
    w, h = ctx.u(250, 380), ctx.u(200, 300)
    clothes(ctx, cx, cy, w, h, angle)
    for _ in range(int(ctx.rng.integers(3, 7))):
        x, y = at(ctx, cx, cy, angle, ctx.u(-0.4, 0.4) * w, ctx.u(-0.4, 0.4) * h)
        ctx.add(shapes.disc(x, y, ctx.px(4), 4), "brass")
    x, y = at(ctx, cx, cy, angle, ctx.u(-0.3, 0.3) * w, -h * 0.35)
    ctx.add(shapes.disc(x, y, ctx.px(8), 5), "zinc")
    zip_row(ctx, x, y + ctx.px(60), angle + math.pi / 2, ctx.u(100, 180))


def earphones(ctx: Ctx, cx: float, cy: float, angle: float) -> None:
    """Wired earphones: a thin copper lead splitting to two buds with small magnets."""
    lead = smooth_curve(ctx, (cx, cy), ctx.px(ctx.u(400, 900)), 6.0)
    ctx.add(shapes.polyline(lead, ctx.px(0.8), ctx.pixel_mm), "pvc")
    ctx.add(shapes.polyline(lead, ctx.px(0.3), ctx.pixel_mm), "copper")
    for k in (1, -1):
        end = lead[-1] + np.array([k * ctx.px(20), ctx.px(15)], np.float32)
        branch = np.stack([lead[-1], (lead[-1] + end) / 2 + ctx.px(5), end]).astype(np.float32)
        ctx.add(shapes.polyline(branch, ctx.px(0.5), ctx.pixel_mm), "copper")
        ctx.add(shapes.disc(float(end[0]), float(end[1]), ctx.px(7), 10), "abs_plastic")
        ctx.add(shapes.disc(float(end[0]), float(end[1]), ctx.px(4), 3), "steel")


def toy_gun(ctx: Ctx, cx: float, cy: float, angle: float) -> None:
    """A plastic toy or water pistol: a gun outline with a spring and screws (hard negative)."""
    s = ctx.u(0.8, 1.3)
    flip = -1.0 if ctx.chance(0.5) else 1.0
    outline = (
        np.array(
            [
                [-90, -30],
                [95, -30],
                [95, -5],
                [-20, -5],
                [-5, 20],
                [-20, 22],
                [-30, 0],
                [-40, 100],
                [-85, 100],
                [-90, 0],
            ]
        )
        * s
    )
    ctx.add(
        shapes.polygon(place(ctx, cx, cy, angle, outline * np.array([1, flip])), 30, ctx.px(8)), "abs_plastic"
    )
    spring = np.array([[-60 + 4 * k, (-18 if k % 2 else -12) * flip] for k in range(20)]) * s
    ctx.add(shapes.polyline(place(ctx, cx, cy, angle, spring), ctx.px(0.5), ctx.pixel_mm), "steel")
    for _ in range(int(ctx.rng.integers(2, 6))):
        x, y = at(ctx, cx, cy, angle, ctx.u(-80, 80) * s, ctx.u(-25, -10) * s * flip)
        ctx.add(shapes.disc(x, y, ctx.px(2), 8), "steel")


BENIGN: dict[str, Callable[[Ctx, float, float, float], None]] = {
    "laptop": laptop,
    "power_bank": power_bank,
    "bottle": lambda ctx, x, y, a: bottle(ctx, x, y, a, "water" if ctx.chance(0.7) else "shampoo"),
    "toiletries": lambda ctx, x, y, a: toiletries(ctx, x, y),
    "shoe": shoe,
    "book": book,
    "hair_dryer": hair_dryer,
    "pliers": pliers,
    "screwdriver": screwdriver,
    "keys_and_coins": lambda ctx, x, y, a: keys_and_coins(ctx, x, y),
    "food_tin": food_tin,
    "soap_or_chocolate": soap_or_chocolate,
    "umbrella": umbrella,
    "belt": lambda ctx, x, y, a: belt(ctx, x, y),
    "charger": charger,
    "electronics_small": electronics_small,
    "cable": lambda ctx, x, y, a: cable(ctx, x, y, ctx.u(300, 1200)),
    "pen": pen,
    "glasses": glasses,
    "batteries": batteries,
    "watch": watch,
    "hanger": hanger,
    "food_pack": food_pack,
    "cutlery": cutlery,
    "scissors": scissors,
    "drill": drill,
    "stapler": stapler,
    "jeans": jeans,
    "earphones": earphones,
    "toy_gun": toy_gun,
}
