"""Vehicles seen by a cargo scanner: car side and top projections with their structure (body, chassis,
engine, cabin, tanks, wheels) and the places where concealments are built (false floors, door panels,
fuel tank, spare tyre, bumpers, roof lining, seats)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from vision.physics.materials import linear_attenuation_per_mm
from vision.synth import objects as ob
from vision.synth import shapes
from vision.synth.layout import (
    add_host_region,
    outline_mask,
    pick_weighted,
)
from vision.synth.objects import Ctx


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


@dataclass(frozen=True)
class _CarSide:
    """A car seen from the side: its size in mm, where it stands on the canvas, and the profile lines
    (sill, belt line, bonnet) that its parts are placed by, as fractions of length and height."""

    ctx: Ctx
    length: float
    height: float
    width: float
    x0: float
    ground: float
    sill: float
    belt_line: float
    nose: float

    def p(self, xf: float, yf: float) -> tuple[float, float]:
        """Canvas pixel of the point ``xf`` along the car and ``yf`` up from the ground."""
        return self.x0 + self.ctx.px(self.length * xf), self.ground - self.ctx.px(self.height * yf)

    def arr(self, *points: tuple[float, float]) -> np.ndarray:
        """Canvas pixels of several such points, as an ``N x 2`` float32 outline."""
        return np.array([self.p(*q) for q in points], np.float32)


def _car_side(ctx: Ctx) -> dict[str, tuple[float, float, float, float]]:
    """Side projection of a car (beam across its width); returns where concealments can go."""
    c = ctx.canvas
    length, height = ctx.u(3900, 4900), ctx.u(1400, 1800)
    width = ctx.u(1650, 1900)
    x0 = (c.width - ctx.px(length)) / 2
    sill, belt_line = 0.2, ctx.u(0.52, 0.6)
    nose = ctx.u(0.45, 0.55)
    car = _CarSide(ctx, length, height, width, x0, c.height * 0.9, sill, belt_line, nose)
    body = _side_body(car)
    _side_engine(car)
    _side_cabin(car, body)
    _side_underbody(car)
    return _side_spots(car)


def _side_body(car: _CarSide) -> np.ndarray:
    """Body shell, doors, glass, pillars, door furniture and chassis rails; returns the body outline."""
    ctx, c = car.ctx, car.ctx.canvas
    body = car.arr(
        (0.0, 0.22),
        (0.01, car.nose),
        (0.27, car.nose + 0.06),
        (0.36, 0.96),
        (0.44, 1.0),
        (0.78, 1.0),
        (0.9, car.belt_line + 0.07),
        (1.0, car.belt_line + 0.02),
        (1.0, 0.22),
        (0.97, 0.16),
        (0.03, 0.16),
    )
    ctx.add(shapes.polygon(body, 1.6, edge_px=2), "steel")
    ctx.add(
        shapes.polygon(
            car.arr((0.3, car.sill), (0.3, car.belt_line), (0.86, car.belt_line), (0.86, car.sill)), 1.4, 2
        ),
        "steel",
    )
    ctx.add(
        shapes.polygon(
            car.arr((0.3, car.belt_line), (0.37, 0.93), (0.77, 0.95), (0.87, car.belt_line)), 8, 2
        ),
        "glass",
    )
    _plate_edge(ctx, car.arr((0.36, 0.96), (0.44, 1.0), (0.78, 1.0), (0.9, car.belt_line + 0.07)), 0.8)
    _plate_edge(ctx, car.arr((0.01, car.nose), (0.27, car.nose + 0.06)), 0.8)
    _plate_edge(ctx, car.arr((0.05, car.sill), (0.95, car.sill)), 1.2)
    for xf in (0.3, 0.56, 0.86):
        ctx.add(
            shapes.polyline(
                car.arr((xf, car.sill), (xf + (0.06 if xf < 0.5 else -0.03 if xf > 0.8 else 0.01), 0.97)),
                ctx.px(45),
                c.pixel_mm,
            ).scaled(6 / 90),
            "steel",
        )
    for xf in (0.31, 0.57):
        hx, hy = car.p(xf + 0.2, car.belt_line - 0.04)
        ctx.add(shapes.rounded_box(hx, hy, ctx.px(60), ctx.px(12), 40, 0.0, ctx.px(4)), "zinc")
        ctx.add(
            shapes.tube(*car.p(xf + 0.12, 0.38), ctx.px(420), ctx.px(16), ctx.px(2), c.pixel_mm, 0.12),
            "steel",
        )
        ctx.add(shapes.disc(*car.p(xf + 0.06, 0.3), ctx.px(55), 30), "steel")
        ctx.add(
            shapes.rounded_box(*car.p(xf + 0.15, 0.45), ctx.px(60), ctx.px(40), 60, 0, ctx.px(8)), "copper"
        )
    # Chassis rails and floor pan ribs: long box sections along the car.
    for yf in (0.13, 0.18):
        ctx.add(
            shapes.rounded_box(*car.p(0.5, yf), ctx.px(car.length * 0.42), ctx.px(35), 8, 0.0, ctx.px(5)),
            "steel",
        )
    return body


def _side_engine(car: _CarSide) -> None:
    """Engine bay: block with bores, head, gearbox, manifolds, battery, radiator, alternator."""
    ctx, c = car.ctx, car.ctx.canvas
    # Engine bay: block with bores, head, gearbox, manifolds, battery, radiator, alternator.
    ex, ey = car.p(0.13, 0.36)
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
    ctx.add(
        shapes.rounded_box(*car.p(0.22, 0.3), ctx.px(170), ctx.px(140), 300, 0.2, ctx.px(40)), "aluminium"
    )
    ctx.add(
        shapes.tube(*car.p(0.12, 0.52), ctx.px(260), ctx.px(30), ctx.px(3), c.pixel_mm, 0.05), "aluminium"
    )
    ctx.add(shapes.rounded_box(*car.p(0.2, 0.48), ctx.px(120), ctx.px(85), 170, 0, ctx.px(10)), "lead")
    radiator = shapes.rounded_box(*car.p(0.035, 0.4), ctx.px(25), ctx.px(220), 600, 0, ctx.px(4))
    _, _, _, v = shapes.local_frame(*car.p(0.035, 0.4), ctx.px(25), ctx.px(220), 0.0)
    fins = 0.4 + 0.6 * (np.cos(v[: radiator.mm.shape[0], : radiator.mm.shape[1]] * np.float32(2.0)) > 0)
    ctx.add(
        shapes.Patch(radiator.y0, radiator.x0, (radiator.mm * fins).astype(np.float32) * np.float32(0.08)),
        "aluminium",
    )
    ctx.add(shapes.disc(*car.p(0.06, 0.3), ctx.px(60), 150), "copper")


def _side_cabin(car: _CarSide, body: np.ndarray) -> None:
    """Cabin: seats (foam, frames, springs), dashboard, steering column and wheel, wiring in the body."""
    ctx, c = car.ctx, car.ctx.canvas
    # Cabin: seats (foam, frames, springs), dashboard, steering column and wheel, wiring.
    for xf in (0.42, 0.66):
        cushion = shapes.rounded_box(
            *car.p(xf, 0.3), ctx.px(270), ctx.px(80), car.width * 0.8, 0.0, ctx.px(40)
        )
        ctx.add(shapes.textured(cushion, ctx.rng, ctx.px(80), 0.2), "foam")
        back = shapes.rounded_box(
            *car.p(xf - 0.07, 0.52), ctx.px(70), ctx.px(290), car.width * 0.8, -0.22, ctx.px(40)
        )
        ctx.add(shapes.textured(back, ctx.rng, ctx.px(80), 0.2), "foam")
        ctx.add(
            shapes.polyline(
                car.arr((xf - 0.07, 0.25), (xf + 0.07, 0.25), (xf + 0.06, 0.21)), ctx.px(12), c.pixel_mm
            ).scaled(3),
            "steel",
        )
        for k in range(3):
            _coil(ctx, *car.p(xf - 0.03 + 0.03 * k, 0.3), 400, 15, 8, 0.0, 3)
    ctx.add(
        shapes.rounded_box(*car.p(0.3, 0.5), ctx.px(150), ctx.px(100), car.width * 0.9, 0, ctx.px(40)),
        "abs_plastic",
    )
    ctx.add(shapes.tube(*car.p(0.33, 0.55), ctx.px(250), ctx.px(15), ctx.px(3), c.pixel_mm, -0.6), "steel")
    wheel_x, wheel_y = car.p(0.36, 0.63)
    ring = np.array([[math.cos(t) * 190, math.sin(t) * 60] for t in np.linspace(0, 6.3, 40)])
    ctx.add(
        shapes.polyline(ob.place(ctx, wheel_x, wheel_y, -0.6, ring), ctx.px(12), c.pixel_mm), "polymer_grip"
    )
    c.region = outline_mask(ctx, body)  # wiring harnesses stay inside the body
    for _ in range(int(ctx.rng.integers(3, 7))):
        start = car.p(ctx.u(0.1, 0.9), ctx.u(0.2, 0.6))
        pts = ob.smooth_curve(ctx, start, ctx.px(ctx.u(600, 2000)), 1.0)
        ctx.add(shapes.polyline(pts, ctx.px(ctx.u(5, 12)), c.pixel_mm), "pvc")
    c.region = None


def _side_underbody(car: _CarSide) -> None:
    """Fuel tank under the rear seat, spare tyre in the boot floor, exhaust, bumpers and wheels."""
    ctx, c = car.ctx, car.ctx.canvas
    # Fuel tank under the rear seat, spare tyre in the boot floor, exhaust along the bottom.
    ctx.add(shapes.box_shell(*car.p(0.66, 0.19), ctx.px(330), ctx.px(100), 700, 1.2, c.pixel_mm), "steel")
    ctx.add(shapes.rounded_box(*car.p(0.66, 0.18), ctx.px(320), ctx.px(60), 650, 0, ctx.px(20)), "fuel")
    spare = shapes.rounded_box(*car.p(0.88, 0.27), ctx.px(320), ctx.px(90), 420, 0, ctx.px(60))
    shapes.subtract(
        spare, shapes.rounded_box(*car.p(0.88, 0.27), ctx.px(200), ctx.px(95), 300, 0, ctx.px(20))
    )
    ctx.add(spare, "rubber")
    ctx.add(
        shapes.tube(*car.p(0.55, 0.12), ctx.px(car.length * 0.4), ctx.px(25), ctx.px(1.5), c.pixel_mm),
        "steel",
    )
    ctx.add(shapes.rounded_box(*car.p(0.85, 0.13), ctx.px(200), ctx.px(60), 250, 0, ctx.px(30)), "steel")
    for xf in (0.01, 0.99):
        ctx.add(
            shapes.rounded_box(*car.p(xf, 0.3), ctx.px(40), ctx.px(100), car.width, 0, ctx.px(20)),
            "abs_plastic",
        )
        ctx.add(
            shapes.rounded_box(*car.p(xf, 0.3), ctx.px(15), ctx.px(50), 3 * car.width / 100, 0, 2), "steel"
        )
    for xf in (0.18, 0.8):
        _wheel(ctx, *car.p(xf, 330 / car.height), 330, 2)


def _side_spots(car: _CarSide) -> dict[str, tuple[float, float, float, float]]:
    """Where concealments are built into a car seen from the side (centre and half sizes in pixels)."""
    ctx = car.ctx

    def spot(xf: float, yf: float, w_mm: float, h_mm: float) -> tuple[float, float, float, float]:
        x, y = car.p(xf, yf)
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
    c.region = outline_mask(ctx, outline)
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
    content = pick_weighted(ctx, {"narcotics": 0.55, "cash": 0.2, "cigarettes": 0.25})
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
        add_host_region(ctx, name, spot)
    if with_threat:
        names = list(spots)
        for k in ctx.rng.choice(len(names), size=int(ctx.rng.choice([1, 2], p=[0.75, 0.25])), replace=False):
            _conceal(ctx, spots[names[int(k)]], names[int(k)])
