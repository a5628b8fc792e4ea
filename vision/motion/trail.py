"""Synthetic border-trail sequences with pixel ground truth, written in the CDnet 2014 layout.

A scene is built in layers: textured ground with a trail (or a road), static rocks and trunks, tree
canopies whose texture sways under a smooth wind field, then walkers, animals or cars (with cast shadows),
and last the whole-frame effects: a sudden lighting change, the IR day/night switch (colour collapses to
grey, vegetation turns bright, brightness jumps), camera shake, rain streaks and sensor noise.

The ground truth follows CDnet 2014: 0 static, 50 hard shadow, 85 outside the region of interest,
170 unknown (a one-pixel ring around each moving object, where the boundary is ambiguous), 255 moving.
Swaying leaves, rain and the whole-frame changes are static (0): screening should stay quiet on them.

Layout written by ``write_cdnet``::

    DIR/input/in000001.jpg ...        frames
    DIR/groundtruth/gt000001.png ...  ground truth
    DIR/ROI.bmp                       255 inside the region of interest
    DIR/temporalROI.txt               "first last" (1-based) frames that are scored
    DIR/objects.json                  per frame, the boxes of moving objects (for tests)
"""

from __future__ import annotations

import json
import math
import pathlib
from collections.abc import Iterator
from dataclasses import dataclass, field, replace

import cv2
import numpy as np

Box = tuple[int, int, int, int]

GT_STATIC, GT_SHADOW, GT_OUTSIDE, GT_UNKNOWN, GT_MOVING = 0, 50, 85, 170, 255


@dataclass(frozen=True)
class Scenario:
    """What a synthetic sequence holds.

    Attributes:
        name: scenario name.
        frames: number of frames.
        width, height: frame size in pixels.
        warmup_frames: frames before the temporal region of interest (the background is learnt on them).
        walkers: people crossing along the trail, spread over the scored frames.
        walker_speed: multiplies the walkers' pace (about 3 to 4.5 px per frame at 320 px width).
        animals: four-legged animals crossing.
        cars: vehicles crossing a road (a traffic-like scene instead of a trail).
        trees: tree canopies; ``sway_px`` is their largest sway in pixels at 320 px width.
        sway_px: canopy sway amplitude.
        noise_sigma: sensor noise (grey levels, at 320 px width).
        rain: rain streaks per frame.
        lighting_frame: frame (0-based) where the light suddenly drops, or -1.
        ir_frame: frame where the camera switches to IR night mode, or -1.
        shake_frame: frame where the camera shakes for three frames, or -1.
        shake_px: a camera on a pole shaking in wind the whole time: each frame is displaced by up to
            this many pixels (at 320 px width), a sway with random jolts; 0 for a steady camera.
        seed: random seed; the same seed gives the same sequence.
    """

    name: str
    frames: int = 200
    width: int = 320
    height: int = 240
    warmup_frames: int = 50
    walkers: int = 2
    walker_speed: float = 1.0
    animals: int = 0
    cars: int = 0
    trees: int = 2
    sway_px: float = 1.0
    noise_sigma: float = 2.0
    rain: int = 0
    lighting_frame: int = -1
    ir_frame: int = -1
    shake_frame: int = -1
    shake_px: float = 0.0
    seed: int = 0


def _presets() -> dict[str, Scenario]:
    return {
        # People crossing a textured trail with a little vegetation: the plain case.
        "walkers": Scenario("walkers", walkers=3),
        # Cars on a road (the CDnet traffic-like case): many fast movers with shadows.
        "traffic": Scenario("traffic", walkers=0, cars=8, trees=1),
        # The same road scored after a long warm-up, as CDnet's highway (470 frames learnt first).
        "traffic_long": Scenario("traffic_long", frames=600, warmup_frames=450, walkers=0, cars=8, trees=1),
        # Strong wind in several trees, one person walking in late.
        "vegetation": Scenario("vegetation", walkers=1, trees=5, sway_px=2.5),
        # Trees only: nothing should ever move.
        "trees_only": Scenario("trees_only", walkers=0, trees=5, sway_px=2.5),
        # Rain streaks and a noisy sensor.
        "rain": Scenario("rain", walkers=2, rain=60, noise_sigma=5.0),
        # A deer and a dog crossing, and a person.
        "animals": Scenario("animals", walkers=1, animals=2),
        # A cloud: light drops suddenly by 45 %.
        "lighting": Scenario("lighting", walkers=2, lighting_frame=110),
        # Day to IR night mode while a person crosses.
        "ir_switch": Scenario("ir_switch", walkers=2, ir_frame=110),
        # Day to IR night mode and nothing else: any event is spurious.
        "ir_only": Scenario("ir_only", walkers=0, ir_frame=110),
        # The IR switch in strong wind: the relearnt background has not yet seen the trees sway.
        "ir_wind": Scenario("ir_wind", walkers=0, trees=5, sway_px=2.5, ir_frame=110),
        # Camera knocked by wind for three frames.
        "shake": Scenario("shake", walkers=2, shake_frame=110),
        # A camera on a pole shaking in wind the whole time, people crossing.
        "shaking_pole": Scenario("shaking_pole", walkers=2, shake_px=4.0),
        # The shaking pole and nothing else: any event is spurious.
        "shaking_only": Scenario("shaking_only", walkers=0, shake_px=4.0),
    }


SCENARIOS: dict[str, Scenario] = _presets()


def scenario(preset: str, **overrides: object) -> Scenario:
    """A preset scenario by name, with fields overridden (``frames``, ``width``, ``seed`` ...).

    Raises:
        ValueError: unknown scenario name.
    """
    if preset not in SCENARIOS:
        raise ValueError(f"unknown scenario {preset!r}; choose from {', '.join(SCENARIOS)}")
    spec = replace(SCENARIOS[preset], **overrides)  # type: ignore[arg-type]
    if not 0 <= spec.warmup_frames < spec.frames:
        raise ValueError(f"warmup_frames ({spec.warmup_frames}) must be below frames ({spec.frames})")
    return spec


@dataclass(frozen=True)
class TrailFrame:
    """One rendered frame.

    Attributes:
        image: BGR uint8 picture.
        groundtruth: uint8 CDnet labels.
        boxes: ``(x1, y1, x2, y2)`` of each moving object in view.
    """

    image: np.ndarray
    groundtruth: np.ndarray
    boxes: list[Box]


@dataclass
class _Mover:
    kind: str  # walker | animal | car
    start: int
    x0: float
    foot_y: float
    speed: float  # px per frame, signed
    scale: float  # height (walker), body length (animal/car) in px
    colour: tuple[int, int, int]
    colour2: tuple[int, int, int]
    phase: float = 0.0
    extra: dict[str, float] = field(default_factory=dict)


class _Scene:
    def __init__(self, spec: Scenario) -> None:
        self.spec = spec
        self.rng = np.random.default_rng(spec.seed)
        self.unit = spec.width / 320.0  # everything is designed at 320 px and scaled
        self.background = self._ground()
        self.foliage, self.foliage_alpha, self.foliage_ir = self._canopies()
        self.movers = self._movers()
        grid_y, grid_x = np.mgrid[0 : spec.height, 0 : spec.width].astype(np.float32)
        self.grid_x, self.grid_y = grid_x, grid_y
        self.wind_phase = self.rng.uniform(0, 2 * math.pi, size=3)

    # ---- static layers ---------------------------------------------------------------------------------

    def _noise_field(self, sigma: float, shape: tuple[int, int]) -> np.ndarray:
        field_ = cv2.GaussianBlur(self.rng.standard_normal(shape).astype(np.float32), (0, 0), sigma)
        return field_ / (field_.std() + 1e-6)

    def _ground(self) -> np.ndarray:
        spec, unit = self.spec, self.unit
        h, w = spec.height, spec.width
        base = np.empty((h, w, 3), np.float32)
        earth = np.array([70, 110, 125], np.float32)  # BGR: dry brown grass
        base[:] = earth
        base += self._noise_field(12 * unit, (h, w))[..., None] * np.array([8, 14, 14], np.float32)
        base += self._noise_field(1.0 * unit, (h, w))[..., None] * 9.0  # grain
        horizon = int(0.22 * h)
        sky = np.linspace(235, 190, horizon, dtype=np.float32)[:, None, None] * np.array([1.0, 0.93, 0.82])
        base[:horizon] = sky
        if spec.cars:
            road_top, road_bottom = int(0.45 * h), int(0.85 * h)
            base[road_top:road_bottom] = np.array([88, 90, 92], np.float32)
            base[road_top:road_bottom] += (
                self._noise_field(0.8 * unit, (road_bottom - road_top, w))[..., None] * 5
            )
            lane = (road_top + road_bottom) // 2
            for x in range(0, w, int(24 * unit)):
                cv2.rectangle(base, (x, lane - 1), (x + int(12 * unit), lane + 1), (200, 200, 200), -1)
        else:
            trail = np.array(
                [
                    [0, int(0.62 * h)],
                    [w // 3, int(0.58 * h)],
                    [w, int(0.66 * h)],
                    [w, int(0.86 * h)],
                    [w // 2, int(0.80 * h)],
                    [0, int(0.88 * h)],
                ],
                np.int32,
            )
            mask = np.zeros((h, w), np.uint8)
            cv2.fillPoly(mask, [trail], 255)
            mask_f = cv2.GaussianBlur(mask, (0, 0), 2 * unit).astype(np.float32)[..., None] / 255
            trail_colour = (
                np.array([120, 150, 165], np.float32) + self._noise_field(1.5 * unit, (h, w))[..., None] * 10
            )
            base = base * (1 - mask_f) + trail_colour * mask_f
        for _ in range(int(6 * (w * h) / (320 * 240))):  # rocks
            cx, cy = int(self.rng.uniform(0, w)), int(self.rng.uniform(0.3 * h, h))
            r = int(self.rng.uniform(2, 6) * unit) + 1
            shade = float(self.rng.uniform(90, 150))
            cv2.ellipse(base, (cx, cy), (r + 1, r), 0, 0, 360, (shade, shade, shade * 1.02), -1)
        return base

    def _canopies(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        spec, unit = self.spec, self.unit
        h, w = spec.height, spec.width
        alpha = np.zeros((h, w), np.float32)
        for index in range(spec.trees):
            # Trees stand along the edges and the back, clear of the trail's middle.
            cx = int(self.rng.uniform(0.05, 0.95) * w) if index % 2 else int(self.rng.choice([0.08, 0.9]) * w)
            base_y = int(self.rng.uniform(0.35, 0.55) * h)
            trunk_h = int(self.rng.uniform(0.10, 0.18) * h)
            cv2.rectangle(
                self.background,
                (cx - int(2 * unit), base_y - trunk_h),
                (cx + int(2 * unit), base_y),
                (40, 55, 70),
                -1,
            )
            radius = self.rng.uniform(0.08, 0.14) * h
            for _ in range(7):
                ox, oy = self.rng.normal(0, radius * 0.5, size=2)
                r = int(radius * self.rng.uniform(0.5, 0.9))
                cv2.circle(alpha, (int(cx + ox), int(base_y - trunk_h - radius * 0.5 + oy)), r, 1.0, -1)
        alpha = np.asarray(cv2.GaussianBlur(alpha, (0, 0), 1.0 * unit), np.float32)
        # Leaves: dark gaps and lit clumps, the texture that makes swaying visible.
        leaves = self._noise_field(0.9 * unit, (h, w))
        clumps = self._noise_field(3.0 * unit, (h, w))
        green = np.array([45, 105, 60], np.float32)
        foliage = green[None, None, :] * (1 + 0.22 * leaves[..., None] + 0.15 * clumps[..., None])
        # In near infrared, leaves reflect strongly: canopies glow in IR night mode.
        foliage_ir = 150 + 25 * leaves + 15 * clumps
        alpha *= np.clip(0.75 + 0.35 * leaves, 0, 1)  # sky shows through gaps
        return foliage, alpha, foliage_ir.astype(np.float32)

    def _movers(self) -> list[_Mover]:
        spec, unit, rng = self.spec, self.unit, self.rng
        scored = spec.frames - spec.warmup_frames
        movers: list[_Mover] = []
        for i in range(spec.walkers):
            start = (
                spec.warmup_frames + int(scored * (i / max(1, spec.walkers)) * 0.8) + int(rng.integers(0, 8))
            )
            foot = rng.uniform(0.70, 0.84) * spec.height
            height = (0.22 + 0.4 * (foot / spec.height - 0.6)) * spec.height
            speed = rng.uniform(3.0, 4.5) * unit * spec.walker_speed * (1 if i % 2 == 0 else -1)
            colour = tuple(int(c) for c in rng.integers(20, 200, 3))
            colour2 = tuple(int(c) for c in rng.integers(20, 120, 3))
            movers.append(_Mover("walker", start, -1.0, foot, speed, height, colour, colour2))  # type: ignore[arg-type]
        for i in range(spec.animals):
            start = spec.warmup_frames + int(scored * (0.2 + 0.4 * i)) + int(rng.integers(0, 8))
            foot = rng.uniform(0.68, 0.8) * spec.height
            length = rng.uniform(0.09, 0.14) * spec.width
            speed = rng.uniform(5.0, 7.0) * unit * (-1 if i % 2 == 0 else 1)
            brown = (int(rng.integers(40, 70)), int(rng.integers(70, 100)), int(rng.integers(100, 140)))
            movers.append(_Mover("animal", start, -1.0, foot, speed, length, brown, brown))
        for i in range(spec.cars):
            start = spec.warmup_frames + int(scored * (i / max(1, spec.cars)) * 0.9)
            direction = 1 if i % 2 == 0 else -1
            foot = (0.64 if direction > 0 else 0.82) * spec.height
            length = rng.uniform(0.16, 0.24) * spec.width
            speed = rng.uniform(6.0, 10.0) * unit * direction
            colour = tuple(int(c) for c in rng.integers(30, 230, 3))
            if i % 3 == 2:
                # A grey car barely darker or lighter than the asphalt: the camouflage case of real traffic.
                grey = int(90 + rng.choice([-1, 1]) * rng.integers(14, 24))
                colour = (grey, grey + 1, grey + 2)
            # Windows mirror the grey road and sky, so they differ little from the background behind them.
            glass = (int(rng.integers(85, 100)),) * 3
            movers.append(_Mover("car", start, -1.0, foot, speed, length, colour, glass))  # type: ignore[arg-type]
        for mover in movers:
            margin = mover.scale
            mover.x0 = -margin if mover.speed > 0 else spec.width + margin
        return movers

    # ---- per frame ---------------------------------------------------------------------------------------

    def _sway(self, t: int) -> np.ndarray:
        """The canopy layer warped by the wind at frame ``t`` (smooth in space, gusty in time)."""
        spec = self.spec
        amp = spec.sway_px * self.unit
        p = self.wind_phase
        gust = 0.6 + 0.4 * math.sin(0.05 * t + p[0])
        dx = (
            amp
            * gust
            * np.sin(0.9 * t * 0.5 + self.grid_y * 0.045 / self.unit + self.grid_x * 0.02 / self.unit + p[1])
        )
        dy = 0.4 * amp * gust * np.sin(1.3 * t * 0.5 + self.grid_x * 0.05 / self.unit + p[2])
        map_x = self.grid_x + dx.astype(np.float32)
        map_y = self.grid_y + dy.astype(np.float32)
        return np.stack([map_x, map_y])

    def render(self, t: int) -> TrailFrame:
        spec = self.spec
        h, w = spec.height, spec.width
        ir = 0 <= spec.ir_frame <= t
        image = self.background.copy()
        if ir:
            grey = image @ np.array([0.25, 0.4, 0.35], np.float32)
            image = np.repeat(grey[..., None], 3, axis=2)
        if spec.trees:
            maps = self._sway(t)
            alpha = cv2.remap(self.foliage_alpha, maps[0], maps[1], cv2.INTER_LINEAR)[..., None]
            if ir:
                leaves = cv2.remap(self.foliage_ir, maps[0], maps[1], cv2.INTER_LINEAR)
                leaves = np.repeat(leaves[..., None], 3, axis=2)
            else:
                leaves = cv2.remap(self.foliage, maps[0], maps[1], cv2.INTER_LINEAR)
            image = image * (1 - alpha) + leaves * alpha

        groundtruth: np.ndarray = np.zeros((h, w), np.uint8)
        boxes: list[Box] = []
        for mover in self.movers:
            box = self._draw_mover(mover, t, image, groundtruth, ir)
            if box is not None:
                boxes.append(box)

        if 0 <= spec.lighting_frame <= t:
            # A cloud over the sun: the light falls over two frames to 55 %.
            step = min(1.0, (t - spec.lighting_frame + 1) / 2)
            image *= 1.0 - 0.45 * step
        if ir:
            # IR night mode: the exposure jumps and the picture is flat and bright.
            image = image * 0.8 + 60
        dx, dy = 0.0, 0.0
        if 0 <= spec.shake_frame <= t < spec.shake_frame + 3:
            dx, dy = 3 * self.unit, -2 * self.unit
        if spec.shake_px > 0:
            # A pole swaying at a few tenths of a hertz (at 5 fps) with random jolts on top.
            amp = spec.shake_px * self.unit
            dx += amp * (0.6 * np.sin(0.9 * t) + 0.4 * self.rng.uniform(-1, 1))
            dy += amp * (0.4 * np.sin(1.3 * t + 1.0) + 0.3 * self.rng.uniform(-1, 1))
        if dx or dy:
            shift = np.array([[1, 0, dx], [0, 1, dy]], np.float32)
            image = cv2.warpAffine(image, shift, (w, h), borderMode=cv2.BORDER_REFLECT)
            groundtruth = cv2.warpAffine(groundtruth, shift, (w, h), flags=cv2.INTER_NEAREST)
            boxes = [self._shift_box(b, dx, dy) for b in boxes]
        if spec.rain:
            self._rain(image)
        noise = spec.noise_sigma * (1.6 if ir else 1.0)
        image += self.rng.standard_normal(image.shape[:2]).astype(np.float32)[..., None] * noise
        frame = np.clip(image, 0, 255).astype(np.uint8)
        return TrailFrame(image=frame, groundtruth=groundtruth, boxes=boxes)

    def _shift_box(self, box: Box, dx: float, dy: float) -> Box:
        x1, y1, x2, y2 = box
        w, h = self.spec.width, self.spec.height
        return (
            max(0, int(x1 + dx)),
            max(0, int(y1 + dy)),
            min(w, int(x2 + dx)),
            min(h, int(y2 + dy)),
        )

    def _rain(self, image: np.ndarray) -> None:
        spec, rng, unit = self.spec, self.rng, self.unit
        streaks = np.zeros(image.shape[:2], np.float32)
        for _ in range(spec.rain):
            x, y = int(rng.uniform(0, spec.width)), int(rng.uniform(0, spec.height))
            length = rng.uniform(4, 10) * unit
            cv2.line(streaks, (x, y), (int(x + 0.25 * length), int(y + length)), 1.0, 1)
        image += streaks[..., None] * 45.0

    def _draw_mover(
        self, mover: _Mover, t: int, image: np.ndarray, groundtruth: np.ndarray, ir: bool
    ) -> Box | None:
        if t < mover.start:
            return None
        x = mover.x0 + mover.speed * (t - mover.start)
        if x < -2 * mover.scale or x > self.spec.width + 2 * mover.scale:
            return None
        shape = np.zeros(groundtruth.shape, np.uint8)
        colours = np.zeros(image.shape, np.float32)
        shadow = np.zeros(groundtruth.shape, np.uint8)
        step = abs(mover.speed) * (t - mover.start)
        if mover.kind == "walker":
            _walker(shape, colours, shadow, x, mover, step)
        elif mover.kind == "animal":
            _animal(shape, colours, shadow, x, mover, step)
        else:
            _car(shape, colours, shadow, x, mover)
        if ir:
            grey = colours @ np.array([0.3, 0.3, 0.4], np.float32) * 1.3 + 20
            colours = np.repeat(grey[..., None], 3, axis=2)
        cast = (shadow > 0) & (shape == 0)
        image[cast] *= 0.55
        inside = shape > 0
        image[inside] = colours[inside]
        groundtruth[cast & (groundtruth == GT_STATIC)] = GT_SHADOW
        kernel = np.ones((3, 3), np.uint8)
        ring = (cv2.dilate(shape, kernel) > 0) & ~(cv2.erode(shape, kernel) > 0)
        groundtruth[inside] = GT_MOVING
        groundtruth[ring] = GT_UNKNOWN
        points = cv2.findNonZero(shape)
        if points is None:
            return None
        bx, by, bw, bh = cv2.boundingRect(points)
        return (bx, by, bx + bw, by + bh)


def _walker(
    shape: np.ndarray, colours: np.ndarray, shadow: np.ndarray, x: float, m: _Mover, step: float
) -> None:
    height, foot = m.scale, m.foot_y
    swing = math.sin(step / max(1.0, 0.35 * height) * math.pi) * 0.45
    hip = (x, foot - 0.47 * height)
    leg_w = max(1, int(0.07 * height))
    for sign in (1, -1):
        end = (int(hip[0] + sign * swing * 0.45 * height), int(foot))
        cv2.line(shape, (int(hip[0]), int(hip[1])), end, 255, leg_w)
        cv2.line(colours, (int(hip[0]), int(hip[1])), end, m.colour2, leg_w)
    torso = (int(x - 0.11 * height), int(foot - 0.82 * height), int(x + 0.11 * height), int(hip[1]))
    cv2.rectangle(shape, torso[:2], torso[2:], 255, -1)
    cv2.rectangle(colours, torso[:2], torso[2:], m.colour, -1)
    shoulder = (int(x), int(foot - 0.78 * height))
    arm_w = max(1, int(0.05 * height))
    for sign in (1, -1):
        end = (int(x - sign * swing * 0.35 * height), int(foot - 0.45 * height))
        cv2.line(shape, shoulder, end, 255, arm_w)
        cv2.line(colours, shoulder, end, m.colour, arm_w)
    head = (int(x), int(foot - 0.9 * height))
    radius = max(1, int(0.08 * height))
    cv2.circle(shape, head, radius, 255, -1)
    cv2.circle(colours, head, radius, (90, 120, 170), -1)
    cv2.ellipse(
        shadow,
        (int(x + 0.25 * height), int(foot)),
        (int(0.3 * height), max(1, int(0.05 * height))),
        0,
        0,
        360,
        255,
        -1,
    )


def _animal(
    shape: np.ndarray, colours: np.ndarray, shadow: np.ndarray, x: float, m: _Mover, step: float
) -> None:
    length, foot = m.scale, m.foot_y
    body_h = 0.35 * length
    leg_len = 0.45 * length
    body_y = foot - leg_len - body_h / 2
    cv2.ellipse(shape, (int(x), int(body_y)), (int(length / 2), int(body_h / 2)), 0, 0, 360, 255, -1)
    cv2.ellipse(colours, (int(x), int(body_y)), (int(length / 2), int(body_h / 2)), 0, 0, 360, m.colour, -1)
    direction = 1 if m.speed > 0 else -1
    neck = (int(x + direction * 0.45 * length), int(body_y - 0.1 * length))
    head = (int(x + direction * 0.62 * length), int(body_y - 0.35 * length))
    width = max(1, int(0.1 * length))
    cv2.line(shape, neck, head, 255, width)
    cv2.line(colours, neck, head, m.colour, width)
    cv2.circle(shape, head, max(1, int(0.08 * length)), 255, -1)
    cv2.circle(colours, head, max(1, int(0.08 * length)), m.colour, -1)
    swing = math.sin(step / max(1.0, 0.25 * length) * math.pi) * 0.25 * length
    leg_w = max(1, int(0.05 * length))
    for offset, sign in ((-0.35, 1), (-0.25, -1), (0.3, 1), (0.4, -1)):
        top = (int(x + offset * length), int(body_y))
        cv2.line(shape, top, (int(top[0] + sign * swing), int(foot)), 255, leg_w)
        cv2.line(colours, top, (int(top[0] + sign * swing), int(foot)), m.colour, leg_w)
    cv2.ellipse(
        shadow,
        (int(x + 0.1 * length), int(foot)),
        (int(0.6 * length), max(1, int(0.06 * length))),
        0,
        0,
        360,
        255,
        -1,
    )


def _car(shape: np.ndarray, colours: np.ndarray, shadow: np.ndarray, x: float, m: _Mover) -> None:
    length, foot = m.scale, m.foot_y
    height = 0.42 * length
    body = (int(x - length / 2), int(foot - 0.6 * height), int(x + length / 2), int(foot - 0.1 * height))
    cabin = (int(x - 0.3 * length), int(foot - height), int(x + 0.25 * length), int(foot - 0.55 * height))
    for part in (body, cabin):
        cv2.rectangle(shape, part[:2], part[2:], 255, -1)
        cv2.rectangle(colours, part[:2], part[2:], m.colour, -1)
    glass = (cabin[0] + 2, cabin[1] + 2, cabin[2] - 2, cabin[3])
    cv2.rectangle(colours, glass[:2], glass[2:], m.colour2, -1)
    wheel = max(1, int(0.09 * length))
    for wx in (x - 0.3 * length, x + 0.3 * length):
        cv2.circle(shape, (int(wx), int(foot - wheel)), wheel, 255, -1)
        cv2.circle(colours, (int(wx), int(foot - wheel)), wheel, (25, 25, 25), -1)
    cv2.ellipse(
        shadow,
        (int(x + 0.1 * length), int(foot)),
        (int(0.6 * length), max(1, int(0.12 * height))),
        0,
        0,
        360,
        255,
        -1,
    )


def render_sequence(spec: Scenario) -> Iterator[TrailFrame]:
    """Render ``spec`` frame by frame (deterministic for a given seed)."""
    scene = _Scene(spec)
    for t in range(spec.frames):
        yield scene.render(t)


def write_cdnet(spec: Scenario, out_dir: str | pathlib.Path, jpeg_quality: int = 90) -> pathlib.Path:
    """Write ``spec`` as a CDnet 2014 sequence folder (see the module docstring); returns the folder.

    Args:
        spec: the scenario.
        out_dir: the sequence folder (created).
        jpeg_quality: quality of the input JPEGs.
    """
    out = pathlib.Path(out_dir)
    (out / "input").mkdir(parents=True, exist_ok=True)
    (out / "groundtruth").mkdir(parents=True, exist_ok=True)
    objects: list[list[list[int]]] = []
    for index, frame in enumerate(render_sequence(spec), start=1):
        cv2.imwrite(
            str(out / "input" / f"in{index:06d}.jpg"), frame.image, [cv2.IMWRITE_JPEG_QUALITY, jpeg_quality]
        )
        cv2.imwrite(str(out / "groundtruth" / f"gt{index:06d}.png"), frame.groundtruth)
        objects.append([list(box) for box in frame.boxes])
    cv2.imwrite(str(out / "ROI.bmp"), np.full((spec.height, spec.width), 255, np.uint8))
    (out / "temporalROI.txt").write_text(f"{spec.warmup_frames + 1} {spec.frames}\n")
    (out / "objects.json").write_text(json.dumps({"scenario": spec.name, "boxes": objects}))
    return out


def main(argv: list[str] | None = None) -> None:
    """``python -m vision.motion.trail OUT [--scenario NAME ...] [--width W --height H --frames N]``."""
    import argparse

    parser = argparse.ArgumentParser(description="Write synthetic trail sequences in the CDnet 2014 layout.")
    parser.add_argument("out", type=pathlib.Path, help="folder; one sequence folder per scenario inside")
    parser.add_argument("--scenario", action="append", choices=sorted(SCENARIOS), help="default: all")
    parser.add_argument("--width", type=int, default=320)
    parser.add_argument("--height", type=int, default=240)
    parser.add_argument("--frames", type=int, default=None, help="default: the scenario's own")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    for name in args.scenario or list(SCENARIOS):
        overrides: dict[str, object] = {"width": args.width, "height": args.height, "seed": args.seed}
        if args.frames is not None:
            overrides["frames"] = args.frames
        spec = scenario(name, **overrides)
        print(write_cdnet(spec, args.out / name))


if __name__ == "__main__":
    main()
