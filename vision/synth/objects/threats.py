"""Threats: blades, firearms and their parts, ammunition, narcotics, cigarettes, cash, wildlife and gems.

Each generator adds its parts to a labelled instance (its class), so the simulator's masks and boxes come
from the same geometry that attenuates the beam.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from vision.synth import shapes
from vision.synth.objects.base import Ctx, at, place
from vision.synth.objects.clutter import bottle
from vision.synth.shapes import Patch


def knife(ctx: Ctx, cx: float, cy: float, angle: float, length_mm: float) -> None:
    """A knife (kitchen, folding, dagger, box cutter): tapered steel blade, handle, tang, rivets."""
    if ctx.chance(0.15):
        multitool(ctx, cx, cy, angle, min(max(length_mm * 0.6, 60.0), 110.0))
        return
    inst = ctx.canvas.new_instance("blade")
    style = ctx.rng.choice(["kitchen", "folding", "dagger", "utility"])
    blade_len = length_mm * (0.55 if style != "utility" else 0.3)
    handle_len = length_mm - blade_len
    h = ctx.u(16, 45) if style == "kitchen" else ctx.u(14, 28)
    if style == "dagger":
        pts = np.array(
            [[0, -h / 2], [blade_len * 0.8, -h * 0.3], [blade_len, 0], [blade_len * 0.8, h * 0.3], [0, h / 2]]
        )
        spine = 1.0 * (ctx.u(3.0, 5.0)), 0.3
    elif style == "utility":
        pts = np.array([[0, -h * 0.35], [blade_len * 0.7, -h * 0.35], [blade_len, h * 0.35], [0, h * 0.35]])
        spine = 0.6, 0.3
    else:
        tip = ctx.u(-0.5, -0.2)
        pts = np.array(
            [
                [0, -h / 2],
                [blade_len * 0.75, -h / 2],
                [blade_len, h * tip],
                [blade_len * 0.85, h * 0.05],
                [blade_len * 0.55, h * 0.4],
                [0, h / 2],
            ]
        )
        spine = ctx.u(1.5, 3.0), 0.25
    world = place(ctx, cx, cy, angle, pts)
    spine_dir = np.array([math.sin(angle), -math.cos(angle)])
    if style == "dagger":
        ctx.add(shapes.polygon(world, spine[0], edge_px=ctx.px(h / 2)), "stainless_steel", inst)
    else:
        ctx.add(shapes.wedge_polygon(world, spine[0], spine[1], spine_dir), "stainless_steel", inst)
    hx, hy = at(ctx, cx, cy, angle, -handle_len / 2, 0)
    hh = ctx.u(10, 14)
    if style == "folding" and ctx.chance(0.5):
        ctx.add(
            shapes.rounded_box(hx, hy, ctx.px(handle_len) / 2, ctx.px(hh), 4, angle, ctx.px(3)),
            "aluminium",
            inst,
        )
        ctx.add(
            shapes.rounded_box(hx, hy, ctx.px(handle_len) / 2 - 2, ctx.px(hh) - 1, 1.5, angle, 1),
            "stainless_steel",
            inst,
        )
    else:
        material = str(ctx.rng.choice(["polymer_grip", "wood", "abs_plastic"]))
        ctx.add(
            shapes.rounded_box(hx, hy, ctx.px(handle_len) / 2, ctx.px(hh), ctx.u(14, 22), angle, ctx.px(6)),
            material,
            inst,
        )
        ctx.add(
            shapes.rounded_box(hx, hy, ctx.px(handle_len * 0.45), ctx.px(hh * 0.4), 2.0, angle, 1),
            "stainless_steel",
            inst,
        )
        for k in range(int(ctx.rng.integers(0, 4))):
            x, y = at(ctx, cx, cy, angle, -handle_len * (0.2 + 0.25 * k), 0)
            ctx.add(shapes.disc(x, y, ctx.px(2.5), 20), "brass", inst)


def multitool(ctx: Ctx, cx: float, cy: float, angle: float, length_mm: float) -> None:
    """A pocket multitool (Swiss-army style): stacked steel blades and liners between plastic scales.

    Closed it is a dense rounded bar; often one blade is opened out of the end.
    """
    inst = ctx.canvas.new_instance("blade")
    width = ctx.u(18, 26)
    ctx.add(
        shapes.rounded_box(cx, cy, ctx.px(length_mm) / 2, ctx.px(width) / 2, 16, angle, ctx.px(6)),
        "abs_plastic",
        inst,
    )
    ctx.add(
        shapes.rounded_box(
            cx, cy, ctx.px(length_mm) / 2 - 1, ctx.px(width) / 2 - 1, ctx.u(4, 9), angle, ctx.px(5)
        ),
        "stainless_steel",
        inst,
    )
    for end in (-1, 1):
        x, y = at(ctx, cx, cy, angle, end * length_mm * 0.4, 0)
        ctx.add(shapes.disc(x, y, ctx.px(2.5), 20), "brass", inst)
    if ctx.chance(0.5):
        blade = length_mm * ctx.u(0.6, 0.8)
        pts = np.array(
            [
                [0, -width * 0.35],
                [blade * 0.8, -width * 0.35],
                [blade, 0],
                [blade * 0.7, width * 0.3],
                [0, width * 0.3],
            ]
        ) + np.array([length_mm * 0.45, 0])
        spine = np.array([math.sin(angle), -math.cos(angle)])
        ctx.add(
            shapes.wedge_polygon(place(ctx, cx, cy, angle, pts), 2.5, 0.3, spine), "stainless_steel", inst
        )


def pistol(ctx: Ctx, cx: float, cy: float, angle: float, label: str = "firearm") -> None:
    """A semi-automatic pistol in side view.

    Steel slide with the barrel and recoil spring inside, a polymer or steel frame, a grip raked back
    with a loaded steel magazine in it, trigger guard and trigger. Local frame: x towards the muzzle,
    y down towards the grip; ``flip`` mirrors it (gun lying on its other side).
    """
    inst = ctx.canvas.new_instance(label)
    s = ctx.u(0.8, 1.15)  # compact to full size
    length, slide_h = 185 * s, 30 * s
    flip = -1.0 if ctx.chance(0.5) else 1.0
    rake = math.radians(ctx.u(14, 22))

    def pt(x: float, y: float) -> tuple[float, float]:
        return at(ctx, cx, cy, angle, x, flip * y)

    def poly(points: list[tuple[float, float]]) -> np.ndarray:
        return place(ctx, cx, cy, angle, np.array(points) * np.array([1.0, flip]))

    steel_frame = ctx.chance(0.3)
    frame_material = "steel" if steel_frame else "polymer_grip"
    # Slide: a hollow steel block, thick where its side walls are seen edge-on.
    sx, sy = pt(0, -slide_h / 2)
    ctx.add(
        shapes.rounded_box(sx, sy, ctx.px(length) / 2, ctx.px(slide_h) / 2, ctx.u(9, 13), angle, ctx.px(3)),
        "steel",
        inst,
    )
    ctx.add(
        shapes.box_shell(sx, sy, ctx.px(length) / 2, ctx.px(slide_h) / 2, 25 * s, 3.0, ctx.pixel_mm, angle),
        "steel",
        inst,
    )
    bx, by = pt(length * 0.05, -slide_h * 0.45)
    ctx.add(
        shapes.tube(bx, by, ctx.px(length * 0.45), ctx.px(7 * s), ctx.px(2.5), ctx.pixel_mm, angle),
        "steel",
        inst,
    )
    coil = [(length * (0.05 + 0.4 * k / 24), -4 * s + (2.5 if k % 2 else -2.5) * s) for k in range(25)]
    ctx.add(shapes.polyline(poly(coil), ctx.px(0.6), ctx.pixel_mm), "steel", inst)
    # Frame (dust cover and trigger area) and the raked grip.
    g0 = -length / 2 + 4 * s
    g1 = g0 + 46 * s
    drop = 105 * s
    back = drop * math.tan(rake)
    frame = [(g0, 0), (length * 0.42, 0), (length * 0.42, 12 * s), (g1 + 40 * s, 14 * s), (g1, 16 * s)]
    grip = [(g0 - 4 * s, 0), (g1, 4 * s), (g1 - back, drop), (g0 - back - 6 * s, drop)]
    depth = 12.0 if steel_frame else 30.0
    ctx.add(shapes.polygon(poly(frame), depth, edge_px=ctx.px(3)), frame_material, inst)
    ctx.add(shapes.polygon(poly(grip), depth, edge_px=ctx.px(6)), frame_material, inst)
    # Magazine in the grip: a thin steel box, cartridges stacked across it.
    mx, my = pt((g0 + g1) / 2 - back / 2 - 2 * s, drop * 0.52)
    mag_angle = angle + flip * (math.pi / 2 + rake)
    ctx.add(
        shapes.box_shell(mx, my, ctx.px(drop * 0.5), ctx.px(16 * s), 24 * s, 0.8, ctx.pixel_mm, mag_angle),
        "steel",
        inst,
    )
    rounds = int(ctx.rng.integers(0, 9))
    for k in range(rounds):
        t = -drop * 0.42 + k * 11 * s
        ox, oy = at(ctx, mx, my, mag_angle, t, (-2.5 if k % 2 else 2.5) * s)
        ctx.add(
            shapes.rounded_box(ox, oy, ctx.px(4.5 * s), ctx.px(14 * s), 9 * s, mag_angle, 1.0), "brass", inst
        )
    # Trigger guard loop and trigger.
    gx = g1 + 20 * s
    loop = [(gx + 22 * s * math.cos(t), 12 * s + 20 * s * math.sin(t)) for t in np.linspace(0, math.pi, 16)]
    ctx.add(shapes.polyline(poly(loop), ctx.px(3.0 * s), ctx.pixel_mm), frame_material, inst)
    tx, ty = pt(gx - 2 * s, 20 * s)
    ctx.add(shapes.rounded_box(tx, ty, ctx.px(2.5), ctx.px(9 * s), 6, angle + flip * 0.25, 1), "steel", inst)
    # Sights, slide stop and pins: small steel details.
    for x, y, w in ((length * 0.45, -slide_h - 2, 3), (-length * 0.42, -slide_h - 2, 5), (g1 - 5, 6, 4)):
        px_, py_ = pt(x, y)
        ctx.add(shapes.rounded_box(px_, py_, ctx.px(w * s), ctx.px(2.5 * s), 8, angle, 1), "steel", inst)


def revolver(ctx: Ctx, cx: float, cy: float, angle: float) -> None:
    """A revolver: steel frame, barrel and cylinder with chambers, wooden or rubber grip."""
    inst = ctx.canvas.new_instance("firearm")
    s = ctx.u(0.8, 1.2)
    barrel = ctx.u(60, 150) * s
    flip = -1 if ctx.chance(0.5) else 1
    bx, by = at(ctx, cx, cy, angle, barrel / 2 + 20 * s, 0)
    ctx.add(
        shapes.tube(bx, by, ctx.px(barrel) / 2, ctx.px(8 * s), ctx.px(3.5 * s), ctx.pixel_mm, angle),
        "steel",
        inst,
    )
    ctx.add(shapes.rounded_box(cx, cy, ctx.px(24 * s), ctx.px(19 * s), 20, angle, ctx.px(5)), "steel", inst)
    for k in range(3):
        x, y = at(ctx, cx, cy, angle, 0, (k - 1) * 12 * s)
        ctx.add(shapes.cylinder(x, y, ctx.px(18 * s), ctx.px(4.5 * s), ctx.pixel_mm, angle), "brass", inst)
    fr = np.array([[-45, -14], [25, -14], [25, 18], [-20, 22], [-45, 8]]) * s
    ctx.add(shapes.polygon(place(ctx, cx, cy, angle, fr * np.array([1, flip])), 14, ctx.px(3)), "steel", inst)
    grip = np.array([[-30, 8], [-55, 8], [-85, 90], [-50, 95]]) * s
    ctx.add(
        shapes.polygon(place(ctx, cx, cy, angle, grip * np.array([1, flip])), 30, ctx.px(8)),
        "wood" if ctx.chance(0.5) else "rubber",
        inst,
    )
    tg = np.array([[-10 + 16 * math.cos(t), 18 + 18 * math.sin(t)] for t in np.linspace(0, math.pi, 12)]) * s
    ctx.add(
        shapes.polyline(place(ctx, cx, cy, angle, tg * np.array([1, flip])), ctx.px(2.5), ctx.pixel_mm),
        "steel",
        inst,
    )


def rifle(ctx: Ctx, cx: float, cy: float, angle: float, label: str = "firearm") -> None:
    """A rifle or shotgun: long steel barrel, receiver, magazine, wooden or polymer stock."""
    inst = ctx.canvas.new_instance(label)
    barrel = ctx.u(300, 500)
    ctx.add(
        shapes.tube(
            *at(ctx, cx, cy, angle, barrel / 2, 0),
            ctx.px(barrel) / 2,
            ctx.px(ctx.u(8, 11)),
            ctx.px(3.5),
            ctx.pixel_mm,
            angle,
        ),
        "steel",
        inst,
    )
    ctx.add(
        shapes.rounded_box(*at(ctx, cx, cy, angle, -80, 3), ctx.px(100), ctx.px(22), 22, angle, ctx.px(4)),
        "steel",
        inst,
    )
    mag = np.array([[-60, 20], [-25, 20], [-15, 120], [-55, 125]])
    ctx.add(shapes.polygon(place(ctx, cx, cy, angle, mag), 22, ctx.px(3)), "steel", inst)
    stock = np.array([[-180, -15], [-420, -10], [-430, 60], [-380, 62], [-200, 25], [-180, 35]])
    ctx.add(
        shapes.polygon(place(ctx, cx, cy, angle, stock), 38, ctx.px(10)),
        "wood" if ctx.chance(0.5) else "polymer_grip",
        inst,
    )


def gun_part(ctx: Ctx, cx: float, cy: float, angle: float) -> None:
    """A firearm part on its own: barrel, slide, loaded magazine, or bolt."""
    inst = ctx.canvas.new_instance("firearm_part")
    kind = ctx.rng.choice(["barrel", "slide", "magazine", "bolt"])
    if kind == "barrel":
        ln = ctx.u(90, 450)
        ctx.add(
            shapes.tube(cx, cy, ctx.px(ln) / 2, ctx.px(ctx.u(6, 11)), ctx.px(3.5), ctx.pixel_mm, angle),
            "steel",
            inst,
        )
    elif kind == "slide":
        ln = ctx.u(150, 200)
        ctx.add(
            shapes.box_shell(cx, cy, ctx.px(ln) / 2, ctx.px(15), 25, 4.0, ctx.pixel_mm, angle), "steel", inst
        )
    elif kind == "magazine":
        ln = ctx.u(100, 180)
        ctx.add(
            shapes.box_shell(cx, cy, ctx.px(ln) / 2, ctx.px(13), 24, 1.0, ctx.pixel_mm, angle), "steel", inst
        )
        for k in range(int(ln / 11) - 1):
            x, y = at(ctx, cx, cy, angle, -ln / 2 + 10 + k * 11, (k % 2 - 0.5) * 4)
            ctx.add(shapes.rounded_box(x, y, ctx.px(4.5), ctx.px(11), 9, angle, 1), "brass", inst)
    else:
        ln = ctx.u(80, 140)
        ctx.add(shapes.cylinder(cx, cy, ctx.px(ln) / 2, ctx.px(10), ctx.pixel_mm, angle), "steel", inst)
        ctx.add(
            shapes.rounded_box(*at(ctx, cx, cy, angle, 0, 14), ctx.px(6), ctx.px(6), 12, angle, 1),
            "steel",
            inst,
        )


def ammunition(ctx: Ctx, cx: float, cy: float, angle: float) -> None:
    """Cartridges: loose handfuls or a box of rows, brass cases, lead or copper bullets."""
    inst = ctx.canvas.new_instance("ammunition")
    case_len, r = ctx.rng.choice([[19.0, 4.5], [22.0, 4.8], [39.0, 5.6], [51.0, 6.0], [12.0, 2.8]])
    if ctx.chance(0.5):
        rows, cols = int(ctx.rng.integers(2, 6)), int(ctx.rng.integers(3, 11))
        ctx.add(
            shapes.box_shell(
                cx,
                cy,
                ctx.px(cols * r * 2.2) / 2 + 2,
                ctx.px(rows * (case_len + 12)) / 2 + 2,
                2 * r + 4,
                1.0,
                ctx.pixel_mm,
                angle,
            ),
            "cardboard",
        )
        positions = [
            ((c - (cols - 1) / 2) * r * 2.2, (w - (rows - 1) / 2) * (case_len + 12))
            for c in range(cols)
            for w in range(rows)
        ]
        rot = angle + math.pi / 2
    else:
        positions = [(ctx.u(-30, 30), ctx.u(-30, 30)) for _ in range(int(ctx.rng.integers(3, 15)))]
        rot = None
    for x_mm, y_mm in positions:
        x, y = at(ctx, cx, cy, angle, x_mm, y_mm)
        a = rot if rot is not None else ctx.u(0, 2 * math.pi)
        ctx.add(
            shapes.tube(x, y, ctx.px(case_len) / 2, ctx.px(r), ctx.px(0.4), ctx.pixel_mm, a), "brass", inst
        )
        ctx.add(
            shapes.cylinder(x, y, ctx.px(case_len) / 2, ctx.px(r - 0.5), ctx.pixel_mm, a, False),
            "gunpowder",
            inst,
        )
        bx, by = at(ctx, x, y, a, case_len / 2 + r, 0)
        ctx.add(shapes.ellipsoid(bx, by, ctx.px(r * 1.5), ctx.px(r * 0.95), 2 * r * 0.95, a), "lead", inst)


def drug_brick(ctx: Ctx, cx: float, cy: float, angle: float, label: str = "narcotics") -> None:
    """A pressed drug brick wrapped in tape (cocaine or heroin)."""
    inst = ctx.canvas.new_instance(label)
    w, h = ctx.u(150, 250), ctx.u(100, 160)
    material = "cocaine" if ctx.chance(0.6) else "heroin"
    brick = shapes.rounded_box(cx, cy, ctx.px(w) / 2, ctx.px(h) / 2, ctx.u(30, 60), angle, ctx.px(8))
    ctx.add(shapes.textured(brick, ctx.rng, ctx.px(30), 0.08), material, inst)
    ctx.add(
        shapes.box_shell(cx, cy, ctx.px(w) / 2 + 1, ctx.px(h) / 2 + 1, 62, 0.3, ctx.pixel_mm, angle),
        "polyethylene",
    )


def drug_packets(ctx: Ctx, cx: float, cy: float, angle: float) -> None:
    """Narcotics as pellets (capsules), powder bags, a cannabis block, or a bottle of liquid drug."""
    style = ctx.rng.choice(["pellets", "powder", "cannabis", "liquid"], p=[0.35, 0.35, 0.2, 0.1])
    if style == "liquid":
        bottle(ctx, cx, cy, angle, "cocaine", ctx.canvas.new_instance("narcotics"))
        return
    inst = ctx.canvas.new_instance("narcotics")
    if style == "pellets":
        for _ in range(int(ctx.rng.integers(8, 40))):
            x, y = cx + ctx.px(ctx.u(-50, 50)), cy + ctx.px(ctx.u(-35, 35))
            ctx.add(
                shapes.ellipsoid(x, y, ctx.px(ctx.u(14, 22)), ctx.px(ctx.u(6, 9)), 15, ctx.u(0, 3.14)),
                "cocaine" if ctx.chance(0.7) else "heroin",
                inst,
            )
    elif style == "powder":
        bag = shapes.ellipsoid(cx, cy, ctx.px(ctx.u(50, 110)), ctx.px(ctx.u(40, 80)), ctx.u(20, 50), angle)
        ctx.add(shapes.textured(bag, ctx.rng, ctx.px(20), 0.3), "cocaine", inst)
    else:
        block = shapes.rounded_box(
            cx, cy, ctx.px(ctx.u(80, 160)), ctx.px(ctx.u(60, 100)), ctx.u(40, 80), angle, ctx.px(15)
        )
        ctx.add(shapes.textured(block, ctx.rng, ctx.px(15), 0.25), "cannabis", inst)


def cigarette_carton(ctx: Ctx, cx: float, cy: float, angle: float) -> None:
    """A cigarette carton: ten packs of twenty sticks, seen as fine parallel stripes of tobacco."""
    inst = ctx.canvas.new_instance("cigarettes")
    w, h = 270.0, ctx.u(85, 95)
    _y0, _x0, u, _v = shapes.local_frame(cx, cy, ctx.px(w) / 2, ctx.px(h) / 2, angle)
    base = shapes.rounded_box(cx, cy, ctx.px(w) / 2, ctx.px(h) / 2, 48, angle, ctx.px(2))
    stripes = 0.75 + 0.25 * np.cos(u * np.float32(2 * math.pi * ctx.pixel_mm / 7.8))
    packs = 0.8 + 0.2 * (np.abs(np.mod(u * ctx.pixel_mm, 54.0) - 27.0) > 1.0)
    ctx.add(Patch(base.y0, base.x0, (base.mm * stripes * packs).astype(np.float32)), "tobacco", inst)
    ctx.add(shapes.box_shell(cx, cy, ctx.px(w) / 2, ctx.px(h) / 2, 50, 0.4, ctx.pixel_mm, angle), "cardboard")


def cash_bundle(ctx: Ctx, cx: float, cy: float, angle: float) -> None:
    """A banknote bundle with a paper band (vs books and paper)."""
    inst = ctx.canvas.new_instance("cash")
    w, h = ctx.u(140, 165), ctx.u(65, 80)
    depth = ctx.u(10, 25)
    bundle = shapes.rounded_box(cx, cy, ctx.px(w) / 2, ctx.px(h) / 2, depth, angle, ctx.px(1.5))
    ctx.add(shapes.textured(bundle, ctx.rng, ctx.px(8), 0.05), "banknote", inst)
    ctx.add(shapes.rounded_box(cx, cy, ctx.px(15), ctx.px(h) / 2, 0.6, angle, 0.5), "paper")


def wildlife(ctx: Ctx, cx: float, cy: float, angle: float) -> None:
    """Ivory (tusk pieces, carvings), rhino horn (keratin cone), or pangolin scales."""
    inst = ctx.canvas.new_instance("wildlife")
    style = ctx.rng.choice(["tusk", "carving", "horn", "scales"])
    if style == "tusk":
        length, r = ctx.u(200, 600), ctx.u(20, 45)
        bend = ctx.u(0.1, 0.4)
        t = np.linspace(0, 1, 16)
        centre = np.stack([t * length - length / 2, bend * length * (t - 0.5) ** 2], 1)
        radius = r * (1 - 0.85 * t)
        outline = np.concatenate(
            [centre + np.stack([0 * t, radius], 1), (centre - np.stack([0 * t, radius], 1))[::-1]]
        )
        ctx.add(shapes.polygon(place(ctx, cx, cy, angle, outline), 2 * r, ctx.px(r)), "ivory", inst)
    elif style == "carving":
        for _ in range(int(ctx.rng.integers(1, 5))):
            x, y = cx + ctx.px(ctx.u(-60, 60)), cy + ctx.px(ctx.u(-60, 60))
            ctx.add(
                shapes.ellipsoid(
                    x, y, ctx.px(ctx.u(15, 50)), ctx.px(ctx.u(10, 25)), ctx.u(15, 40), ctx.u(0, 3.14)
                ),
                "ivory",
                inst,
            )
    elif style == "horn":
        length, base = ctx.u(200, 450), ctx.u(90, 160)
        pts = np.array(
            [
                [-length / 2, -base / 2],
                [length / 2, -base * 0.05],
                [length / 2, base * 0.05],
                [-length / 2, base / 2],
            ]
        )
        ctx.add(
            shapes.polygon(place(ctx, cx, cy, angle, pts), base * 0.8, ctx.px(base * 0.35)), "keratin", inst
        )
    else:
        for _ in range(int(ctx.rng.integers(30, 90))):
            x, y = cx + ctx.px(ctx.u(-90, 90)), cy + ctx.px(ctx.u(-60, 60))
            ctx.add(
                shapes.rounded_box_ellipse(
                    x, y, ctx.px(ctx.u(15, 28)), ctx.px(ctx.u(12, 22)), ctx.u(1.5, 3), ctx.u(0, 3.14), 1.0
                ),
                "keratin",
                inst,
            )


def gemstones(ctx: Ctx, cx: float, cy: float, angle: float) -> None:
    """A pouch or folded paper of cut and rough gemstones (corundum, beryl, diamond)."""
    inst = ctx.canvas.new_instance("gemstones")
    ctx.add(
        shapes.textured(shapes.ellipsoid(cx, cy, ctx.px(50), ctx.px(35), 6, angle), ctx.rng, ctx.px(10), 0.3),
        "textile",
    )
    material = str(ctx.rng.choice(["corundum", "beryl", "diamond"]))
    for _ in range(int(ctx.rng.integers(5, 40))):
        x, y = cx + ctx.px(ctx.u(-35, 35)), cy + ctx.px(ctx.u(-25, 25))
        size = ctx.u(3, 12)
        pts = np.array(
            [[size * math.cos(t), size * math.sin(t)] for t in np.sort(ctx.rng.uniform(0, 2 * math.pi, 6))]
        )
        ctx.add(
            shapes.polygon(place(ctx, x, y, 0.0, pts), size * 1.2, edge_px=ctx.px(size * 0.5)), material, inst
        )


THREATS: dict[str, Callable[[Ctx, float, float, float], None]] = {
    "firearm": lambda ctx, x, y, a: (pistol if ctx.chance(0.6) else revolver if ctx.chance(0.7) else rifle)(
        ctx, x, y, a
    ),
    "firearm_part": gun_part,
    "ammunition": ammunition,
    "blade": lambda ctx, x, y, a: knife(
        ctx,
        x,
        y,
        a,
        ctx.u(0.05, 0.2) * ctx.canvas.width * ctx.pixel_mm if ctx.chance(0.8) else ctx.u(90, 320),
    ),
    "narcotics": lambda ctx, x, y, a: (drug_brick if ctx.chance(0.5) else drug_packets)(ctx, x, y, a),
    "cigarettes": cigarette_carton,
    "cash": cash_bundle,
    "wildlife": wildlife,
    "gemstones": gemstones,
}
