"""What every object generator shares: the drawing context and placement in millimetres."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from vision.synth.projector import Canvas, Instance
from vision.synth.shapes import Patch


@dataclass
class Ctx:
    """What every generator needs: the canvas, the random generator and the pixel size."""

    canvas: Canvas
    rng: np.random.Generator

    @property
    def pixel_mm(self) -> float:
        """Pixel size on the object plane in mm."""
        return self.canvas.pixel_mm

    def px(self, mm: float) -> float:
        """Millimetres to pixels."""
        return mm / self.canvas.pixel_mm

    def add(self, patch: Patch, material: str, instance: Instance | Sequence[Instance] | None = None) -> None:
        """Add a part to the canvas."""
        self.canvas.add(patch, material, instance)

    def u(self, low: float, high: float) -> float:
        """Uniform random number."""
        return low + (high - low) * float(self.rng.random())

    def chance(self, p: float) -> bool:
        """True with probability ``p``."""
        return bool(self.rng.random() < p)


def place(ctx: Ctx, cx: float, cy: float, angle: float, points_mm: np.ndarray) -> np.ndarray:
    """Local points (mm, x along the object) rotated by ``angle`` and moved to pixel centre (cx, cy)."""
    pts = np.asarray(points_mm, np.float64) / ctx.pixel_mm
    c, s = math.cos(angle), math.sin(angle)
    rot = np.array([[c, -s], [s, c]])
    return (pts @ rot.T + np.array([cx, cy])).astype(np.float32)


def at(ctx: Ctx, cx: float, cy: float, angle: float, x_mm: float, y_mm: float) -> tuple[float, float]:
    """Pixel position of local point (x_mm, y_mm)."""
    p = place(ctx, cx, cy, angle, np.array([[x_mm, y_mm]]))[0]
    return float(p[0]), float(p[1])


def smooth_curve(
    ctx: Ctx, start: tuple[float, float], length_px: float, bend: float, steps: int = 24
) -> np.ndarray:
    """A wandering curve (cables, wires, straps) as N×2 pixel points.

    The heading drifts as a random walk, so curvature is continuous; two rounds of corner cutting
    (Chaikin) remove the kinks between steps.
    """
    angle = ctx.u(0, 2 * math.pi)
    turn = angle + ctx.rng.normal(0, bend, steps).cumsum() / math.sqrt(steps)
    step = length_px / steps
    moves = np.stack([np.cos(turn), np.sin(turn)], 1) * step
    pts = np.concatenate([np.zeros((1, 2)), np.cumsum(moves, 0)]) + np.asarray(start, float)
    for _ in range(2):
        q = 0.75 * pts[:-1] + 0.25 * pts[1:]
        r = 0.25 * pts[:-1] + 0.75 * pts[1:]
        pts = np.concatenate([pts[:1], np.stack([q, r], 1).reshape(-1, 2), pts[-1:]])
    return pts.astype(np.float32)


def circle(cx: float, cy: float, r: float, n: int = 48) -> np.ndarray:
    t = np.linspace(0, 2 * math.pi, n)
    return np.stack([cx + r * np.cos(t), cy + r * np.sin(t)], 1).astype(np.float32)
