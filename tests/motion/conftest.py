"""Small synthetic trail sequences for the motion tests (tiny frames, few frames)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from vision.motion.config import CameraConfig
from vision.motion.screener import FrameResult, MotionEvent, Screener
from vision.motion.trail import TrailFrame, render_sequence, scenario

FPS = 5.0


def run_screener(
    frames: list[TrailFrame], config: CameraConfig | None = None
) -> tuple[list[MotionEvent], list[FrameResult]]:
    """Screen ``frames`` at 5 fps; return every finished event (the last one flushed) and each result."""
    screener = Screener("test-cam", config)
    events: list[MotionEvent] = []
    results: list[FrameResult] = []
    for index, frame in enumerate(frames):
        result = screener.process(frame.image, timestamp=1_000.0 + index / FPS)
        events.extend(result.ended)
        results.append(result)
    last = screener.flush()
    if last is not None:
        events.append(last)
    return events, results


@pytest.fixture(scope="session")
def tiny_sequence() -> Callable[..., list[TrailFrame]]:
    """Render a preset scenario at 160×120 (cached per arguments)."""
    cache: dict[tuple[object, ...], list[TrailFrame]] = {}

    def make(preset: str, **overrides: object) -> list[TrailFrame]:
        key = (preset, *sorted(overrides.items()))
        if key not in cache:
            spec = scenario(preset, **{"width": 160, "height": 120, "warmup_frames": 10, **overrides})
            cache[key] = list(render_sequence(spec))
        return cache[key]

    return make
