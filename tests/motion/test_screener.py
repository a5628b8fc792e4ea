"""Screening behaviour on synthetic trail sequences: walkers make one event, trees and the IR switch none."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import cast

import cv2
import numpy as np
import pytest

from tests.motion.conftest import run_screener
from vision.errors import ImageDecodeError
from vision.motion.config import (
    CameraConfig,
    ConfirmConfig,
    Mog2Params,
    SceneChangeConfig,
    SubtractorParams,
)
from vision.motion.screener import Screener
from vision.motion.trail import TrailFrame, render_sequence, scenario

Sequence = Callable[..., list[TrailFrame]]


def iou(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> float:
    width = max(0, min(a[2], b[2]) - max(a[0], b[0]))
    height = max(0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = width * height
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union else 0.0


def test_walker_crossing_gives_one_event_with_a_box_on_the_walker(tiny_sequence: Sequence) -> None:
    frames = tiny_sequence("walkers", frames=90, walkers=1, trees=1, walker_speed=1.5)
    events, results = run_screener(frames)
    assert len(events) == 1
    event = events[0]
    assert event.snapshot is not None and event.snapshot.startswith(b"\xff\xd8")
    assert event.end > event.start and event.peak_score > 0
    # The event's boxes are those of its peak frame; they must sit on the walker in that frame.
    peak = max(range(len(results)), key=lambda i: results[i].score)
    walker_box = frames[peak].boxes[0]
    assert len(event.boxes) == 1
    # The box covers the walker and little else. GSOC (the default's subtractor) has no shadow test, so
    # the box also takes in the shadow at the walker's feet (IoU 0.43 with the walker alone); MOG2 alone
    # frames the walker tightly.
    box = event.boxes[0]
    assert overlap(walker_box, box) >= 0.9 and area(box) <= 2.5 * area(walker_box)
    # Every frame with motion lies while the walker is in view.
    assert all(frames[i].boxes for i, r in enumerate(results) if r.motion)
    events, results = run_screener(frames, CameraConfig(subtractor=Mog2Params()))
    peak = max(range(len(results)), key=lambda i: results[i].score)
    assert len(events) == 1 and iou(events[0].boxes[0], frames[peak].boxes[0]) > 0.5


def area(box: tuple[int, int, int, int]) -> int:
    return max(0, box[2] - box[0]) * max(0, box[3] - box[1])


def overlap(inner: tuple[int, int, int, int], outer: tuple[int, int, int, int]) -> float:
    """Share of ``inner`` that ``outer`` covers."""
    width = max(0, min(inner[2], outer[2]) - max(inner[0], outer[0]))
    height = max(0, min(inner[3], outer[3]) - max(inner[1], outer[1]))
    return width * height / area(inner) if area(inner) else 0.0


CONFIRMED = CameraConfig.model_validate({"subtractor": {"kind": "gsoc"}, "confirm": {}})


def test_the_default_is_gsoc_confirmed_by_mog2_and_stays_quiet_on_trees_and_finds_the_walker(
    tiny_sequence: Sequence,
) -> None:
    assert CameraConfig() == CONFIRMED
    events, results = run_screener(tiny_sequence("trees_only", frames=80), CONFIRMED)
    assert events == [] and not any(r.motion for r in results)
    frames = tiny_sequence("walkers", frames=90, walkers=1, trees=1, walker_speed=1.5)
    events, results = run_screener(frames, CONFIRMED)
    assert len(events) == 1
    assert all(frames[i].boxes for i, r in enumerate(results) if r.motion)
    # The same frames give the same events (GSOC is run on one OpenCV thread).
    again, _ = run_screener(frames, CONFIRMED)
    assert [e.boxes for e in again] == [e.boxes for e in events]


def test_swaying_trees_alone_give_no_event(tiny_sequence: Sequence) -> None:
    events, results = run_screener(tiny_sequence("trees_only", frames=80))
    assert events == []
    assert not any(r.motion for r in results)


def test_ir_switch_gives_no_event_with_the_rule_and_events_without(tiny_sequence: Sequence) -> None:
    frames = tiny_sequence("ir_only", frames=70, ir_frame=35)
    events, results = run_screener(frames)
    assert events == []
    assert any(r.scene_change for r in results[36:40])
    # Screening resumes within a few frames of the switch.
    assert not any(r.scene_change for r in results[45:])
    without_rule = CameraConfig(scene_change=SceneChangeConfig(enabled=False))
    events_without, _ = run_screener(frames, without_rule)
    assert len(events_without) >= 1


def test_ir_switch_in_wind_gives_no_event(tiny_sequence: Sequence) -> None:
    events, _ = run_screener(tiny_sequence("ir_wind", frames=70, ir_frame=35))
    assert events == []


def test_walker_is_found_again_after_a_lighting_change(tiny_sequence: Sequence) -> None:
    frames = tiny_sequence("lighting", frames=90, walkers=1, walker_speed=1.5, lighting_frame=40)
    events, results = run_screener(frames)
    assert len(events) >= 1
    assert any(r.scene_change for r in results[40:44])
    assert any(r.motion for r in results[50:] if r is not None)


def test_masked_walker_gives_no_event(tiny_sequence: Sequence) -> None:
    frames = tiny_sequence("walkers", frames=90, walkers=1, trees=1, walker_speed=1.5)
    # The walker keeps to the trail in the lower half of the frame; mask that half out.
    masked = CameraConfig(masks=[[(0, 0.5), (1, 0.5), (1, 1), (0, 1)]])
    events, _ = run_screener(frames, masked)
    assert events == []


def test_regions_and_events_carry_the_zone_of_their_foot_point(tiny_sequence: Sequence) -> None:
    frames = tiny_sequence("walkers", frames=90, walkers=1, trees=1, walker_speed=1.5)
    halves: dict[str, list[tuple[float, float]]] = {
        "left": [(0, 0), (0.5, 0), (0.5, 1), (0, 1)],
        "right": [(0.5, 0), (1, 0), (1, 1), (0.5, 1)],
    }
    zones = CameraConfig(zones=halves)
    events, results = run_screener(frames, zones)
    assert len(events) == 1
    assert set(events[0].zones) == {"left", "right"}  # the walker crosses the whole frame
    for result in results:
        for region in result.regions:
            foot_x = (region.box[0] + region.box[2]) / 2
            assert region.zone == ("left" if foot_x < 80 else "right") or abs(foot_x - 80) < 3


def test_require_zone_ignores_movement_outside_zones(tiny_sequence: Sequence) -> None:
    frames = tiny_sequence("walkers", frames=90, walkers=1, trees=1, walker_speed=1.5)
    sky_only = CameraConfig(zones={"sky": [(0, 0), (1, 0), (1, 0.2), (0, 0.2)]}, require_zone=True)
    events, _ = run_screener(frames, sky_only)
    assert events == []


def test_cooldown_splits_two_walkers_far_apart_in_time(tiny_sequence: Sequence) -> None:
    frames = tiny_sequence("walkers", frames=90, walkers=1, trees=1, walker_speed=1.5)
    empty = [frames[5]] * 30  # thirty frames with nobody in view (6 s at 5 fps) between the two crossings
    events, _ = run_screener(frames + empty + frames[10:], CameraConfig(cooldown_s=2.0))
    assert len(events) == 2
    assert events[1].start - events[0].end > 2.0


def test_corrupt_frame_raises_and_leaves_the_state_alone(tiny_sequence: Sequence) -> None:
    frames = tiny_sequence("walkers", frames=90, walkers=1, trees=1, walker_speed=1.5)
    encoded = [cv2.imencode(".jpg", f.image)[1].tobytes() for f in frames]
    clean = Screener("a")
    disturbed = Screener("b")
    for index, data in enumerate(encoded):
        t = index / 5.0
        expected = clean.process_encoded(data, t)
        if index in (20, 40):
            with pytest.raises(ImageDecodeError):
                disturbed.process_encoded(data[: len(data) // 2], t)
            with pytest.raises(ImageDecodeError):
                disturbed.process_encoded(b"not an image at all", t)
        got = disturbed.process_encoded(data, t)
        assert got.motion == expected.motion
        assert [r.box for r in got.regions] == [r.box for r in expected.regions]
    assert disturbed.frames_seen == clean.frames_seen


def test_encoded_frames_are_screened_at_reduced_size_with_full_size_boxes() -> None:
    rng = np.random.default_rng(0)
    background = cv2.GaussianBlur(rng.integers(0, 255, (720, 1280, 3), dtype=np.uint8), (0, 0), 3)
    screener = Screener("hd")
    result = None
    for index in range(60):
        frame = background.copy()
        if index >= 48:
            x = 20 * index - 500
            cv2.rectangle(frame, (x, 300), (x + 120, 600), (30, 40, 220), -1)
        data = cv2.imencode(".jpg", frame)[1].tobytes()
        result = screener.process_encoded(data, index / 5.0)
    assert result is not None and result.motion
    assert result.foreground.shape == (180, 320)  # decoded at 1/4 scale straight from the JPEG
    x1, y1, x2, y2 = result.regions[0].box
    x = 20 * 59 - 500
    assert abs(x1 - x) <= 12 and abs(y1 - 300) <= 12 and abs(x2 - (x + 121)) <= 12 and abs(y2 - 601) <= 12


def test_long_movement_is_split_at_max_event_s(tiny_sequence: Sequence) -> None:
    frames = tiny_sequence("walkers", frames=90, walkers=1, trees=1, walker_speed=1.5)
    events, _ = run_screener(frames, CameraConfig(max_event_s=4.0))
    assert len(events) >= 2
    assert all(e.end - e.start <= 4.0 + 1e-6 for e in events)
    assert all(later.start >= earlier.end for earlier, later in itertools.pairwise(events))


def test_a_shaking_camera_is_stabilised_and_still_finds_the_walker() -> None:
    # At 320x240: a pole swaying by up to 4 px with jolts. Unaligned, GSOC calls most of each frame new,
    # the whole-frame rule relearns again and again and the walker is never seen.
    spec = {"width": 320, "height": 240, "warmup_frames": 30, "frames": 120, "shake_px": 4.0, "trees": 1}
    walker = list(render_sequence(scenario("shaking_pole", walkers=1, walker_speed=1.5, **spec)))
    on_walker = [f.boxes != [] for f in walker]
    events, results = run_screener(walker)
    hits = sum(r.motion and hit for r, hit in zip(results, on_walker, strict=True))
    assert len(events) == 1 and hits >= 0.7 * sum(on_walker)
    assert not any(r.motion and not hit for r, hit in zip(results, on_walker, strict=True))
    unaligned, results = run_screener(walker, CameraConfig(stabilise=None))
    assert unaligned == [] and not any(r.motion for r in results)
    # The shaking pole alone is no event.
    events, _ = run_screener(list(render_sequence(scenario("shaking_only", **spec))))
    assert events == []


def test_a_steady_camera_is_never_aligned(tiny_sequence: Sequence) -> None:
    screener = Screener("steady")
    frames = tiny_sequence("vegetation", frames=80)  # strong wind in the trees, a walker: no shake
    for index, frame in enumerate(frames):
        screener.process(frame.image, timestamp=1_000.0 + index / 5)
        assert not screener.stabilising, index


def painted_frames(
    count: int, paint: Callable[[np.ndarray, int, np.random.Generator], None], seed: int
) -> list[TrailFrame]:
    """``count`` 160x120 frames of a still, noisy background, each painted by ``paint(frame, index, rng)``."""
    rng = np.random.default_rng(seed)
    background = rng.integers(90, 110, (120, 160, 3), dtype=np.uint8)
    frames = []
    for index in range(count):
        frame = background.copy()
        paint(frame, index, rng)
        frames.append(TrailFrame(frame, np.zeros((120, 160), np.uint8), 0))
    return frames


def test_temporal_consistency_drops_a_blinking_patch_and_keeps_a_steady_one() -> None:
    def patches(frame: np.ndarray, index: int, rng: np.random.Generator) -> None:
        if index >= 40:
            frame[20:50, 100:130] = 230  # steady: arrives and stays
            if index % 2 == 0:
                frame[70:100, 20:50] = 230  # blinking: there every other frame, as a swinging branch

    frames = painted_frames(60, patches, seed=5)

    def foreground(consistency: int) -> tuple[int, int]:
        config = CameraConfig(subtractor=Mog2Params(), consistency=consistency, min_area=0.001, persistence=1)
        _, results = run_screener(frames, config)
        mask = results[44].foreground  # an even frame, both patches on screen, the steady one 4 frames in
        return int(np.count_nonzero(mask[70:100, 20:50])), int(np.count_nonzero(mask[20:50, 100:130]))

    blinking, steady = foreground(1)
    assert blinking > 500 and steady > 500
    blinking, steady = foreground(3)
    assert blinking == 0 and steady > 500


def test_the_cue_stops_confirming_a_patch_that_flickers_in_place_but_not_a_walker(
    tiny_sequence: Sequence,
) -> None:
    # A patch of leaves tossing in wind: new values every frame, in one place, for 40 s at 5 fps.
    def leaves(frame: np.ndarray, index: int, rng: np.random.Generator) -> None:
        frame[30:55, 60:85] = rng.integers(0, 256, (25, 25, 3), dtype=np.uint8)

    frames = painted_frames(200, leaves, seed=7)

    def moving_frames(cue_flicker: float) -> int:
        config = CameraConfig(confirm=ConfirmConfig(flicker_suppression=cue_flicker))
        _, results = run_screener(frames, config)
        return sum(r.motion for r in results[100:])  # once the flicker map has filled

    # Without it the cue confirms the patch again and again (12 of the last 100 frames); with it the
    # patch's pixels are ignored but for a blip when too few of them flickered lately (2).
    assert moving_frames(1.0) >= 10
    assert moving_frames(0.3) <= 3
    # A walker crosses each pixel in a few frames: still one event, with the suppression on.
    events, _ = run_screener(tiny_sequence("walkers", frames=90, walkers=1, trees=1, walker_speed=1.5))
    assert len(events) == 1


def test_motion_coherence_drops_a_blob_that_stays_in_place_and_keeps_a_walker(
    tiny_sequence: Sequence,
) -> None:
    def sheet(frame: np.ndarray, index: int, rng: np.random.Generator) -> None:
        if index >= 30:  # a bright sheet flapping on a line: there every frame, never going anywhere
            frame[40:70, 60:90] = 200 + 40 * (index % 2)

    frames = painted_frames(60, sheet, seed=3)
    plain = CameraConfig(subtractor=Mog2Params(), min_area=0.001)
    coherent = CameraConfig(subtractor=Mog2Params(), min_area=0.001, min_travel=0.05)
    plain_events, plain_results = run_screener(frames, plain)
    assert plain_events != [] and np.any(plain_results[34].foreground[40:70, 60:90])
    events, results = run_screener(frames, coherent)
    assert events == [] and not any(r.motion for r in results)
    assert not np.any(results[34].foreground[40:70, 60:90])  # nor are its pixels reported moving
    # A walker crosses the frame: its track moves, so it counts (as one event) with coherence on.
    walker = tiny_sequence("walkers", frames=90, walkers=1, trees=1, walker_speed=1.5)
    assert len(run_screener(walker, CameraConfig(min_travel=0.05))[0]) == 1


def test_the_main_subtractor_only_learns_from_every_nth_frame_the_cue_finds_quiet(
    tiny_sequence: Sequence, monkeypatch: pytest.MonkeyPatch
) -> None:
    import vision.motion.screener as screener_module

    make = screener_module.make_subtractor
    applied: dict[str, int] = {}

    class Counting:
        """The real subtractor, counting the frames it is given by kind."""

        def __init__(self, params: SubtractorParams) -> None:
            self.kind, self.inner = params.kind, make(params)

        def apply(self, frame: np.ndarray, *args: object, **kwargs: object) -> np.ndarray:
            applied[self.kind] = applied.get(self.kind, 0) + 1
            return cast(np.ndarray, self.inner.apply(frame, *args, **kwargs))

        def __getattr__(self, name: str) -> object:
            return getattr(self.inner, name)

    monkeypatch.setattr(screener_module, "make_subtractor", Counting)
    quiet = tiny_sequence("trees_only", frames=150)
    for every, tiles in ((1, 1), (4, 1), (4, 12)):
        applied.clear()
        grid = (4, 3) if tiles == 12 else (1, 1)
        config = CameraConfig.model_validate({"confirm": {"quiet_update_every": every, "tiles": grid}})
        events, _ = run_screener(quiet, config)
        assert events == []
        # Frame 1 builds both backgrounds and every frame feeds the cue. The trees never give the cue a
        # sizeable blob here, so after the young background's first 50 frames GSOC (each tile's) learns
        # from every n-th.
        assert applied["mog2"] == 150
        assert applied["gsoc"] == pytest.approx(tiles * (50 + 100 / every), abs=tiles)
    # With the walker the cue fires and GSOC screens the tiles near it on those frames, and the idle
    # tiles learn from every 4th frame: all 12 run on about one frame in four, not on every one.
    applied.clear()
    screener = Screener("walker", CameraConfig())
    screened, events = [], []
    for index, frame in enumerate(tiny_sequence("walkers", frames=90, walkers=1, trees=1, walker_speed=1.5)):
        before = applied.get("gsoc", 0)
        result = screener.process(frame.image, timestamp=1_000.0 + index / 5)
        events += result.ended
        if result.motion and index > 50:  # the background no longer young: idle tiles learn sparsely
            screened.append(applied["gsoc"] - before)
    events += [last] if (last := screener.flush()) is not None else []
    assert len(events) == 1  # the walker is still one event
    assert len(screened) > 10 and min(screened) >= 1 and sum(n < 12 for n in screened) > len(screened) / 2


def test_a_camera_jolt_after_sparse_quiet_learning_neither_relearns_nor_splits_the_event(
    tiny_sequence: Sequence,
) -> None:
    # The synthetic shake scene: walkers, trees, and a jolt of the camera at frame 110. GSOC learns from
    # every frame while its background is young; had it learnt sparsely from the start, the jolt marked most
    # of the frame, the background was relearnt and the walker's event split in two.
    frames = tiny_sequence("shake", width=320, height=240, warmup_frames=50)
    events, results = run_screener(frames, CameraConfig())
    assert len(events) == 1 and not any(r.scene_change for r in results)
