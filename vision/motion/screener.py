"""Per-camera motion screening: small frame → background subtraction → cleanup → blobs → events.

One ``Screener`` per camera keeps that camera's background model and event state. Each frame gives a
``FrameResult`` (motion, score, regions, and the events that started or ended with it); an event carries the
camera, zone, start/end, boxes, peak score and a JPEG snapshot of the full-resolution frame at its peak.

What keeps trees, rain and the IR switch quiet, cheapest first:
- the frame is screened small (``processing_width``, decoded straight to that size from JPEG), so sensor
  noise averages out; in colour, because MOG2/KNN's shadow test needs colour;
- a 3×3 opening and a 5×5 majority (median) remove speckle and thin swaying twigs; holes inside blobs are
  filled (a windscreen that matches the road behind it);
- blobs below ``min_area`` (share of the frame) are ignored, and a blob must overlap itself for
  ``persistence`` consecutive screened frames before it counts;
- optionally, pixels that have been foreground in a large share of recent frames (leaves, water) are
  ignored: an adaptive per-pixel threshold on top of the subtractor's own per-pixel model;
- whole-frame changes (most pixels' brightness jumping, colour collapsing to IR grey, the subtractor
  marking most of the frame) are recognised: the background is rebuilt from the new picture (seeded with
  one-pixel shifts of it, so sway and shake are background at once) and the following ``relearn_frames``
  frames are not screened, so the change never becomes an event.
"""

from __future__ import annotations

import collections
import math
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

import cv2
import numpy as np

from vision.errors import ImageDecodeError
from vision.motion.config import CameraConfig, CntParams, Mog2Params, StabiliseConfig, SubtractorParams
from vision.motion.frames import FrameLimits, decode_frame, decode_frame_small
from vision.motion.subtractors import FOREGROUND_LEVEL, make_subtractor

Box = tuple[int, int, int, int]

# Width of the thumbnail that whole-frame changes are measured on: big enough for a stable share,
# small enough to cost nothing, and blurred enough by INTER_AREA that sensor noise and rain do not count.
_THUMB_WIDTH = 64
# Below this mean colourfulness (0..255) a picture counts as grey, so grey-to-grey changes never look
# like a colour switch.
_MIN_CHROMA = 6.0
# Frames a fresh subtractor needs after the frame it was built from: measured on a static noisy scene,
# KNN marks everything moving for its first 3 frames, MOG2 misses (or calls shadow) a new object for 4.
# LSBP, a sample-based model like GSOC, is given GSOC's count (not measured).
_WARMUP_FRAMES = {"knn": 3, "mog2": 5, "gsoc": 1, "cnt": 15, "lsbp": 1}
# A background rebuilt from one frame learns from every frame for this many frames (10 s at 5 fps) before
# ConfirmConfig.quiet_update_every applies. Learning sparsely from the start left GSOC brittle: a one-pixel
# camera shift marked most of the frame, the background was relearnt and the walker lost for 25 frames
# (synthetic shake scene F 0.843 -> 0.726, its event split in two; 30 frames were too few, 40 enough).
# The same sparse start raised the real CDnet fall sequence's F from 0.908 to 0.966, from its first 30
# frames alone: a gain that hangs on how one sequence begins, and shaking poles are common; not taken.
_YOUNG_FRAMES = 50
# Most blobs a frame may hold before the smallest are dropped (a frame of snow should not cost O(n²)).
_MAX_BLOBS = 64


@dataclass(frozen=True)
class Region:
    """A moving region in one frame.

    Attributes:
        box: ``(x1, y1, x2, y2)`` in pixels of the full-resolution frame.
        area: share of the frame its foreground covers.
        zone: the zone holding the bottom centre of the box, or None.
    """

    box: Box
    area: float
    zone: str | None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"box": list(self.box), "area": round(self.area, 5), "zone": self.zone}


@dataclass
class MotionEvent:
    """Something moved for a while on one camera.

    Attributes:
        id: unique id (hex).
        camera: camera id.
        start: time (seconds since the epoch) the moving object was first seen.
        end: time of the last frame with movement.
        zone: zone of the largest region at the peak, or None.
        zones: every zone the movement touched.
        boxes: boxes of the frame at the peak, full-resolution pixels.
        peak_score: highest frame score during the event.
        frames: screened frames with movement.
        snapshot: JPEG of the full-resolution frame at the peak with the boxes drawn (set when it ends).
    """

    id: str
    camera: str
    start: float
    end: float
    zone: str | None = None
    zones: list[str] = field(default_factory=list)
    boxes: list[Box] = field(default_factory=list)
    peak_score: float = 0.0
    frames: int = 0
    snapshot: bytes | None = None


@dataclass(frozen=True)
class FrameResult:
    """What screening one frame found.

    Attributes:
        motion: confirmed movement in this frame.
        score: share of the frame covered by confirmed moving regions (0..1).
        regions: the confirmed moving regions.
        event_id: id of the event this frame's movement belongs to, or None.
        scene_change: the frame was recognised as a whole-frame change (or falls in the relearning after one)
            and was not screened.
        started: the event that started with this frame, if any.
        ended: events that ended with this frame (cool-down elapsed, or split at ``max_event_s``).
        foreground: the cleaned foreground mask at processing size (255 moving), for pixel-level scoring.
    """

    motion: bool
    score: float
    regions: list[Region]
    event_id: str | None
    scene_change: bool
    started: MotionEvent | None
    ended: list[MotionEvent]
    foreground: np.ndarray


@dataclass
class _Candidate:
    box: Box  # processing-frame pixels
    area_px: int
    streak: int
    since: float
    origin: tuple[float, float]  # box centre where the track began
    moved: bool  # has travelled CameraConfig.min_travel from its origin (always, with min_travel 0)


@dataclass
class _Peak:
    frame: np.ndarray | None
    encoded: bytes | None
    size: tuple[int, int]  # full-resolution (width, height)


class Screener:
    """Screens one camera's frames for movement and turns it into events.

    Not thread-safe: give each camera its own screener and feed it from one thread (or under a lock).
    """

    def __init__(self, camera: str, config: CameraConfig | None = None) -> None:
        """Create a screener for ``camera`` with ``config`` (defaults when None)."""
        self.camera = camera
        self.config = config or CameraConfig()
        self._opening = (
            cv2.getStructuringElement(cv2.MORPH_RECT, (self.config.opening_px,) * 2)
            if self.config.opening_px > 1
            else None
        )
        self._closing = (
            cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (self.config.closing_px,) * 2)
            if self.config.closing_px > 1
            else None
        )
        self._reach: np.ndarray | None = None
        self.reset()

    # ---- public API -------------------------------------------------------------------------------------

    def reset(self) -> None:
        """Forget the background, the tracks and any event in progress."""
        self._subtractor: Any = None
        self._confirmer: Any = None
        self._confirm_size: tuple[int, int] | None = None
        self._small_size: tuple[int, int] | None = None  # processing (width, height)
        self._full_size: tuple[int, int] | None = None
        self._allowed: np.ndarray | None = None  # 255 where not masked
        self._zone_map: np.ndarray | None = None  # zone index + 1 per pixel, 0 outside
        self._zone_names: list[str] = list(self.config.zones)
        self._flicker: np.ndarray | None = None
        self._cue_flicker: np.ndarray | None = None  # the cue's own (ConfirmConfig.flicker_suppression)
        self._streak: np.ndarray | None = None  # consecutive foreground frames per pixel (consistency > 1)
        self._prev_thumb: np.ndarray | None = None
        self._prev_chroma: float | None = None
        self._relearn_left = 0
        self._relearning_change = False
        self._young_until = 0  # frames_seen below which the background learns from every frame
        self._candidates: list[_Candidate] = []
        self._event: MotionEvent | None = None
        self._peak: _Peak | None = None
        self._last_motion = 0.0
        self.frames_seen = 0
        self.scene_changes = 0
        self._stabiliser = _Stabiliser(self.config.stabilise) if self.config.stabilise is not None else None

    def process(self, frame: np.ndarray, timestamp: float | None = None) -> FrameResult:
        """Screen one full-resolution frame (BGR or grey uint8).

        Args:
            frame: the picture; it is copied only when it becomes an event's peak.
            timestamp: seconds since the epoch; now when None. Must not go backwards.

        Returns:
            The frame's result.
        """
        if frame.dtype != np.uint8 or frame.ndim not in (2, 3):
            raise ImageDecodeError("a frame must be a uint8 grey or BGR image")
        height, width = frame.shape[:2]
        small, thumb, chroma = self._shrink(frame)
        return self._screen(small, thumb, chroma, (width, height), timestamp, frame=frame, encoded=None)

    def process_encoded(
        self, data: bytes, timestamp: float | None = None, limits: FrameLimits | None = None
    ) -> FrameResult:
        """Screen one encoded frame (JPEG or PNG), decoding it straight to the small size when possible.

        The frame is fully checked and decoded before any state changes, so a corrupt frame raises and
        leaves the camera's background and events as they were.

        Raises:
            ImageDecodeError, UnsupportedImageType, ImageTooLarge: see ``vision.errors``.
        """
        decoded = decode_frame_small(data, self.config.processing_width, limits)
        small, thumb, chroma = self._shrink(decoded.image)
        return self._screen(small, thumb, chroma, decoded.full_size, timestamp, frame=None, encoded=data)

    def flush(self, timestamp: float | None = None) -> MotionEvent | None:
        """End the event in progress, if any (end of a file, camera removed); returns it with its snapshot."""
        if self._event is None:
            return None
        return self._close_event()

    @property
    def stabilising(self) -> bool:
        """Whether frames are being aligned against camera shake now (``CameraConfig.stabilise``)."""
        return self._stabiliser is not None and self._stabiliser.active

    @property
    def event_in_progress(self) -> MotionEvent | None:
        """The event in progress (no snapshot yet), or None."""
        return self._event

    # ---- preparing the small frame ----------------------------------------------------------------------

    def _shrink(self, frame: np.ndarray) -> tuple[np.ndarray, np.ndarray, float | None]:
        """The small frame (grey unless ``colour``), a grey thumbnail, and colourfulness (None for grey)."""
        height, width = frame.shape[:2]
        small_width = min(self.config.processing_width, width)
        small_height = max(1, round(height * small_width / width))
        if (width, height) != (small_width, small_height):
            # INTER_AREA averages, which is what takes sensor noise out before subtraction.
            frame = cv2.resize(frame, (small_width, small_height), interpolation=cv2.INTER_AREA)
        if frame.ndim == 3 and frame.shape[2] == 4:
            frame = cv2.cvtColor(frame, cv2.COLOR_BGRA2BGR)
        thumb_size = (_THUMB_WIDTH, max(1, round(small_height * _THUMB_WIDTH / small_width)))
        grey = frame if frame.ndim == 2 else cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
        thumb = cv2.resize(grey, thumb_size, interpolation=cv2.INTER_AREA)
        if frame.ndim == 2:
            return frame, thumb, None
        # Colourfulness needs no averaging, so a plain (cheap) sample of the colour frame will do.
        chroma = _colourfulness(cv2.resize(frame, thumb_size, interpolation=cv2.INTER_NEAREST))
        return (frame if self.config.colour else grey), thumb, chroma

    def _setup(self, small_size: tuple[int, int], full_size: tuple[int, int]) -> None:
        """(Re)build the per-size state: masks, zones, flicker map, background."""
        width, height = small_size
        self._small_size, self._full_size = small_size, full_size
        self._allowed = None
        if self.config.masks:
            allowed = np.full((height, width), 255, np.uint8)
            cv2.fillPoly(allowed, [_to_pixels(polygon, width, height) for polygon in self.config.masks], 0)
            self._allowed = allowed
        self._zone_map = None
        if self.config.zones:
            zone_map = np.zeros((height, width), np.uint8)
            # Reverse order so that where zones overlap the first listed wins.
            for index in reversed(range(len(self._zone_names))):
                polygon = self.config.zones[self._zone_names[index]]
                cv2.fillPoly(zone_map, [_to_pixels(polygon, width, height)], index + 1)
            self._zone_map = zone_map
            if self.config.require_zone:
                in_zone = np.where(zone_map > 0, 255, 0).astype(np.uint8)
                self._allowed = in_zone if self._allowed is None else cv2.bitwise_and(self._allowed, in_zone)
        self._flicker = np.zeros((height, width), np.float32) if self.config.flicker_suppression < 1 else None
        self._streak = np.zeros((height, width), np.uint8) if self.config.consistency > 1 else None
        self._subtractor = None
        self._prev_thumb = None
        self._prev_chroma = None
        self._candidates = []

    # ---- screening --------------------------------------------------------------------------------------

    def _screen(
        self,
        small: np.ndarray,
        thumb: np.ndarray,
        chroma: float | None,
        full_size: tuple[int, int],
        timestamp: float | None,
        frame: np.ndarray | None,
        encoded: bytes | None,
    ) -> FrameResult:
        now = time.time() if timestamp is None else float(timestamp)
        small_size = (small.shape[1], small.shape[0])
        if small_size != self._small_size or full_size != self._full_size:
            self._setup(small_size, full_size)
        self.frames_seen += 1
        valid: np.ndarray | None = None
        if self._stabiliser is not None:
            small, valid, relearn = self._stabiliser.align(small)
            if relearn:
                self._subtractor = None  # shake began, stopped, or a shift was not trusted
        whole_frame = self._is_whole_frame_change(thumb, chroma)
        self._prev_thumb, self._prev_chroma = thumb, chroma

        if self._subtractor is None or whole_frame:
            self._relearn(small, chroma, count_as_change=whole_frame)
            return self._quiet_result(small, now, scene_change=whole_frame)

        confirming = self._apply_confirmer(small)
        if self._relearn_left > 0:
            self._subtractor.apply(small)
            self._relearn_left -= 1
            return self._quiet_result(small, now, scene_change=self._relearning_change)
        near = self._cue_near(confirming) if confirming is not None else None
        if isinstance(self._subtractor, _Tiles):
            # Only the tiles near the cue's blobs are screened; the others (all of them on a quiet frame,
            # where the cue holds no sizeable blob) learn from every n-th frame they sit idle
            # (ConfirmConfig.quiet_update_every), or every frame while the background is young.
            assert self.config.confirm is not None  # tiles exist only with a confirming cue
            young = self.frames_seen < self._young_until
            raw = self._subtractor.apply_near(small, near, self.config.confirm.quiet_update_every, young)
            if near is None:
                if self._streak is not None:
                    self._streak[:] = 0
                return self._track(np.zeros(small.shape[:2], np.uint8), [], now, frame, encoded)
        else:
            raw = self._subtractor.apply(small)

        _, moving = cv2.threshold(raw, FOREGROUND_LEVEL, 255, cv2.THRESH_BINARY)
        if valid is not None:
            moving = cv2.bitwise_and(moving, valid)  # not the band the alignment brought in from outside
        if self._streak is not None:
            moving = self._consistent(moving)
        moving_px = cv2.countNonZero(moving)
        if (
            self.config.scene_change.enabled
            and moving_px > self.config.scene_change.foreground_share * moving.size
        ):
            # Shake or a change the thumbnail test missed: the subtractor calls most of the frame new.
            self._relearn(small, chroma, count_as_change=True)
            return self._quiet_result(small, now, scene_change=True)
        contours: Sequence[np.ndarray]
        if moving_px < self._crumb_px() and self._flicker is None:
            # A quiet frame (most of a trail camera's day): cleanup could only remove pixels, so skip it.
            foreground, contours = np.zeros_like(moving), []
        else:
            foreground, contours = self._clean(moving)
            if near is not None:
                foreground, contours = self._confirmed(foreground, near)
        return self._track(foreground, contours, now, frame, encoded)

    def _consistent(self, moving: np.ndarray) -> np.ndarray:
        """``moving`` kept where each pixel has been foreground for ``consistency`` frames running."""
        assert self._streak is not None
        # Saturating +1 everywhere, then zero where the pixel is not foreground now (moving is 0 or 255).
        self._streak = cv2.bitwise_and(cv2.add(self._streak, 1), moving)
        return cv2.threshold(self._streak, self.config.consistency - 1, 255, cv2.THRESH_BINARY)[1]

    def _apply_confirmer(self, small: np.ndarray) -> np.ndarray | None:
        """The confirming subtractor's foreground (0 or 255) on the shrunk small frame, less the pixels
        that flicker (``ConfirmConfig.flicker_suppression``); None without a cue."""
        if self._confirmer is None or self._confirm_size is None:
            return None
        assert self.config.confirm is not None
        shrunk = cv2.resize(small, self._confirm_size, interpolation=cv2.INTER_AREA)
        cue = cv2.threshold(self._confirmer.apply(shrunk), FOREGROUND_LEVEL, 255, cv2.THRESH_BINARY)[1]
        rate = self.config.confirm.flicker_suppression
        if rate >= 1:
            return cast(np.ndarray, cue)
        if self._cue_flicker is None or self._cue_flicker.shape != cue.shape:
            self._cue_flicker = np.zeros(cue.shape, np.float32)
        return _drop_flickering(cue, self._cue_flicker, rate, self.config.flicker_window)

    def _cue_near(self, confirming: np.ndarray) -> np.ndarray | None:
        """Where the main foreground may be kept: within ``reach`` of the cue's blobs of at least
        ``min_area`` each, at the processing size; None where the cue holds no such blob."""
        assert self._small_size is not None
        cue = cv2.threshold(confirming, FOREGROUND_LEVEL, 255, cv2.THRESH_BINARY)[1]
        min_px = self.config.min_area * cue.size
        if cv2.countNonZero(cue) < min_px:
            return None  # cleanup only removes pixels: no blob can reach min_area
        cue, cue_contours = self._clean(cue, flicker=False, masked=False)
        sizeable = [c for c in cue_contours if cv2.contourArea(c) >= min_px]
        if not sizeable:
            return None
        near = np.zeros_like(cue)
        cv2.drawContours(near, sizeable, -1, 255, cv2.FILLED)
        if self._reach is not None:
            near = cv2.dilate(near, self._reach)
        return cast(np.ndarray, cv2.resize(near, self._small_size, interpolation=cv2.INTER_NEAREST))

    def _confirmed(self, foreground: np.ndarray, near: np.ndarray) -> tuple[np.ndarray, Sequence[np.ndarray]]:
        """``foreground`` kept only ``near`` the confirming cue's sizeable blobs (:meth:`_cue_near`)."""
        kept = cv2.bitwise_and(foreground, near)
        contours, _ = cv2.findContours(kept, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        return kept, contours

    def _crumb_px(self) -> int:
        """Blobs under a tenth of the minimum area cannot make a region on their own or by grouping much."""
        assert self._small_size is not None
        return max(2, int(0.1 * self.config.min_area * self._small_size[0] * self._small_size[1]))

    def _is_whole_frame_change(self, thumb: np.ndarray, chroma: float | None) -> bool:
        rule = self.config.scene_change
        if not rule.enabled or self._prev_thumb is None or self._prev_thumb.shape != thumb.shape:
            return False
        changed = cv2.countNonZero(
            cv2.threshold(cv2.absdiff(thumb, self._prev_thumb), rule.pixel_delta, 255, cv2.THRESH_BINARY)[1]
        )
        if changed > rule.changed_share * thumb.size:
            return True
        if chroma is not None and self._prev_chroma is not None:
            high, low = max(chroma, self._prev_chroma), min(chroma, self._prev_chroma)
            # Colour to IR grey (or back): colourfulness collapses by a large factor in one step.
            if high >= _MIN_CHROMA and high > rule.chroma_ratio * max(low, 0.5):
                return True
        return False

    def _relearn(self, small: np.ndarray, chroma: float | None, count_as_change: bool) -> None:
        """Start a fresh background from ``small``; screening resumes after ``relearn_frames`` frames."""
        colourful = small.ndim == 3 and chroma is not None and chroma >= _MIN_CHROMA
        confirm = self.config.confirm
        if confirm is None:
            self._subtractor = self._fresh_subtractor(self.config.subtractor, small, colourful)
        else:
            self._subtractor = _Tiles(
                lambda tile: self._fresh_subtractor(self.config.subtractor, tile, colourful),
                small,
                confirm.tiles,
            )
            width = min(small.shape[1], max(confirm.min_width, round(small.shape[1] * confirm.scale)))
            self._confirm_size = (width, max(8, round(small.shape[0] * width / small.shape[1])))
            # The reach is drawn at the cue's size, where the disk costs a tenth of what it does at the
            # processing size (0.25 against 2.5 ms at 160 vs 320 px, its edge within a cue pixel).
            reach = round(confirm.reach * width)
            disk = (2 * reach + 1,) * 2
            self._reach = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, disk) if reach else None
            shrunk = cv2.resize(small, self._confirm_size, interpolation=cv2.INTER_AREA)
            self._confirmer = self._fresh_subtractor(
                confirm.subtractor, shrunk, colourful, jitter=confirm.seed_jitter
            )
        self._candidates = []
        if self._flicker is not None:
            self._flicker[:] = 0
        if self._streak is not None:
            self._streak[:] = 0
        self._relearn_left = self._warmup_frames()
        self._young_until = self.frames_seen + _YOUNG_FRAMES
        self._relearning_change = count_as_change
        if count_as_change:
            self.scene_changes += 1

    def _fresh_subtractor(
        self, params: SubtractorParams, small: np.ndarray, colourful: bool, jitter: bool = True
    ) -> Any:
        """A new subtractor of ``params`` whose background is ``small`` (seeded with jitter for MOG2)."""
        subtractor = make_subtractor(params)
        if getattr(params, "detect_shadows", False):
            # The shadow test asks "darker, same colour?": on a grey picture (IR night mode, or grey
            # screening) every darker object passes it, so it would hide dark clothing and legs.
            subtractor.setDetectShadows(colourful)
        # Learning rate 1 makes this frame the whole background model at once (MOG2/KNN); a fresh model
        # then learns fast by itself because OpenCV's automatic rate starts at 1/(2·frames).
        subtractor.apply(small, learningRate=1.0)
        if jitter and self.config.seed_jitter_px > 0 and isinstance(params, Mog2Params):
            self._seed_with_jitter(subtractor, small)
        return subtractor

    def _seed_with_jitter(self, subtractor: Any, small: np.ndarray) -> None:
        """Teach a fresh MOG2 model that edges may move a pixel or so, as ViBe seeds from neighbours.

        A model built from one frame flags every leaf that sways until it has seen the sway; seeded with
        copies of the frame shifted by up to ``seed_jitter_px`` (learning rate 1/n: the running mean and
        variance), edge pixels start with a variance that accepts small displacements, so relearning after
        an IR switch in wind stays quiet. (KNN gains nothing from this: measured, see benchmarks.motion.)
        """
        jitter = self.config.seed_jitter_px
        steps = range(-jitter, jitter + 1)
        offsets = [(dx, dy) for dx in steps for dy in steps if dx or dy]
        size = (small.shape[1], small.shape[0])
        for count, (dx, dy) in enumerate(offsets, start=2):
            shift = np.array([[1, 0, dx], [0, 1, dy]], np.float32)
            shifted = cv2.warpAffine(small, shift, size, borderMode=cv2.BORDER_REPLICATE)
            subtractor.apply(shifted, learningRate=1.0 / count)

    def _warmup_frames(self) -> int:
        """Frames a fresh subtractor needs before its foreground means something (measured, see module)."""
        if self.config.scene_change.relearn_frames is not None:
            return self.config.scene_change.relearn_frames
        subtractors = [self.config.subtractor]
        if self.config.confirm is not None:
            subtractors.append(self.config.confirm.subtractor)
        return max(
            params.min_pixel_stability if isinstance(params, CntParams) else _WARMUP_FRAMES[params.kind]
            for params in subtractors
        )

    def _clean(
        self, moving: np.ndarray, flicker: bool = True, masked: bool = True
    ) -> tuple[np.ndarray, Sequence[np.ndarray]]:
        """The cleaned foreground mask and its outer contours (for ``_blobs``).

        ``flicker`` and ``masked`` apply the flicker map and the masks, which exist at the processing size
        only (the confirming cue is cleaned without them).
        """
        if self._opening is not None:
            moving = cv2.morphologyEx(moving, cv2.MORPH_OPEN, self._opening)
        if self.config.median_px > 1:
            # On a 0/255 mask the median is a majority vote, which a box filter and a threshold give
            # exactly, at a fraction of medianBlur's cost.
            size = self.config.median_px
            votes = cv2.blur(moving, (size, size), borderType=cv2.BORDER_REPLICATE)
            moving = cv2.threshold(votes, 127, 255, cv2.THRESH_BINARY)[1]
        if self._closing is not None:
            moving = cv2.morphologyEx(moving, cv2.MORPH_CLOSE, self._closing)
        if flicker and self._flicker is not None:
            moving = _drop_flickering(
                moving, self._flicker, self.config.flicker_suppression, self.config.flicker_window
            )
        if masked and self._allowed is not None:
            moving = cv2.bitwise_and(moving, self._allowed)
        # Outer contours, not connectedComponentsWithStats: the same blobs at a twentieth of the cost.
        contours, _ = cv2.findContours(moving, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        if self.config.fill_holes and contours:
            # A car's windscreen or a grey panel can match the road behind it; the blob's outline cannot.
            moving = np.zeros_like(moving)
            cv2.drawContours(moving, contours, -1, 255, cv2.FILLED)
        return moving, contours

    # ---- blobs, tracks and events ------------------------------------------------------------------------

    def _blobs(self, foreground: np.ndarray, contours: Sequence[np.ndarray]) -> list[tuple[Box, int]]:
        """Blobs (outer ``contours`` of ``foreground``) grouped with near neighbours (legs and body)."""
        if not contours:
            return []
        crumb = self._crumb_px()
        found: list[tuple[list[int], int]] = []
        for contour in contours:
            x, y, w, h = cv2.boundingRect(contour)
            if w * h < crumb:
                continue
            area = cv2.countNonZero(foreground[y : y + h, x : x + w])
            if area >= crumb:
                found.append(([x, y, x + w, y + h], area))
        found.sort(key=lambda blob: -blob[1])
        blobs = found[:_MAX_BLOBS]
        gap = max(2, foreground.shape[1] // 64)
        merged = True
        while merged and len(blobs) > 1:
            merged = False
            for i in range(len(blobs)):
                for j in range(i + 1, len(blobs)):
                    if _near(blobs[i][0], blobs[j][0], gap):
                        a, b = blobs[i][0], blobs[j][0]
                        box = [min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3])]
                        blobs[i] = (box, blobs[i][1] + blobs[j][1])
                        del blobs[j]
                        merged = True
                        break
                if merged:
                    break
        # Area = moving pixels inside the (merged) box: fragments count once, whatever the grouping.
        return [
            ((b[0], b[1], b[2], b[3]), cv2.countNonZero(foreground[b[1] : b[3], b[0] : b[2]]))
            for b, _ in blobs
        ]

    def _track(
        self,
        foreground: np.ndarray,
        contours: Sequence[np.ndarray],
        now: float,
        frame: np.ndarray | None,
        encoded: bytes | None,
    ) -> FrameResult:
        frame_px = foreground.size
        min_px = self.config.min_area * frame_px
        gap = max(2, foreground.shape[1] // 32)
        travel = self.config.min_travel * foreground.shape[1]
        candidates: list[_Candidate] = []
        for box, area_px in self._blobs(foreground, contours):
            if area_px < min_px:
                continue
            previous = [c for c in self._candidates if _near(list(c.box), list(box), gap)]
            streak = 1 + max((c.streak for c in previous), default=0)
            since = min((c.since for c in previous), default=now)
            centre = ((box[0] + box[2]) / 2, (box[1] + box[3]) / 2)
            origin = max(previous, key=lambda c: c.streak).origin if previous else centre
            moved = any(c.moved for c in previous) or (
                math.hypot(centre[0] - origin[0], centre[1] - origin[1]) >= travel
            )
            candidates.append(_Candidate(box, area_px, streak, since, origin, moved))
        self._candidates = candidates
        lasting = [c for c in candidates if c.streak >= self.config.persistence]
        confirmed = [c for c in lasting if c.moved]
        if len(confirmed) < len(lasting):
            # Motion coherence (min_travel): a lasting blob that has not moved is not reported moving.
            foreground = foreground.copy()
            for c in lasting:
                if not c.moved:
                    foreground[c.box[1] : c.box[3], c.box[0] : c.box[2]] = 0
        regions = [self._region(c, frame_px) for c in confirmed]
        score = min(1.0, sum(r.area for r in regions))

        ended: list[MotionEvent] = []
        started: MotionEvent | None = None
        if self._event is not None and (
            (not regions and now - self._last_motion >= self.config.cooldown_s)
            or (regions and now - self._event.start >= self.config.max_event_s)
        ):
            ended.append(self._close_event())
        if regions:
            if self._event is None:
                start = min(c.since for c in confirmed)
                if ended:  # split by max_event_s: the new event starts where the old one stopped
                    start = now
                self._event = MotionEvent(id=uuid.uuid4().hex, camera=self.camera, start=start, end=now)
                started = self._event
            self._update_event(regions, score, now, frame, encoded)
        event_id = self._event.id if (regions and self._event is not None) else None
        return FrameResult(
            motion=bool(regions),
            score=score,
            regions=regions,
            event_id=event_id,
            scene_change=False,
            started=started,
            ended=ended,
            foreground=foreground,
        )

    def _region(self, candidate: _Candidate, frame_px: int) -> Region:
        assert self._small_size is not None and self._full_size is not None
        sx = self._full_size[0] / self._small_size[0]
        sy = self._full_size[1] / self._small_size[1]
        x1, y1, x2, y2 = candidate.box
        zone = None
        if self._zone_map is not None:
            foot_x = min((x1 + x2) // 2, self._small_size[0] - 1)
            foot_y = min(y2 - 1, self._small_size[1] - 1)
            index = int(self._zone_map[foot_y, foot_x])
            zone = self._zone_names[index - 1] if index else None
        box = (
            int(x1 * sx),
            int(y1 * sy),
            min(self._full_size[0], round(x2 * sx)),
            min(self._full_size[1], round(y2 * sy)),
        )
        return Region(box=box, area=candidate.area_px / frame_px, zone=zone)

    def _update_event(
        self, regions: list[Region], score: float, now: float, frame: np.ndarray | None, encoded: bytes | None
    ) -> None:
        event = self._event
        assert event is not None and self._full_size is not None
        event.end = now
        event.frames += 1
        self._last_motion = now
        for region in regions:
            if region.zone is not None and region.zone not in event.zones:
                event.zones.append(region.zone)
        if score > event.peak_score or self._peak is None:
            event.peak_score = score
            event.boxes = [r.box for r in regions]
            event.zone = max(regions, key=lambda r: r.area).zone
            # Keep what is needed to draw the snapshot later: encoding a JPEG on every new peak would cost
            # more than the whole screening. The caller may reuse its frame buffer, hence the copy.
            self._peak = _Peak(
                frame=frame.copy() if frame is not None else None, encoded=encoded, size=self._full_size
            )

    def _close_event(self) -> MotionEvent:
        event = self._event
        assert event is not None
        event.snapshot = self._snapshot(event)
        self._event, self._peak = None, None
        return event

    def _snapshot(self, event: MotionEvent) -> bytes | None:
        peak = self._peak
        if peak is None:
            return None
        picture = peak.frame
        if picture is None and peak.encoded is not None:
            try:
                picture = decode_frame(peak.encoded)
            except ImageDecodeError:
                return None
        if picture is None:
            return None
        picture = cv2.cvtColor(picture, cv2.COLOR_GRAY2BGR) if picture.ndim == 2 else picture.copy()
        thickness = max(1, picture.shape[1] // 400)
        for x1, y1, x2, y2 in event.boxes:
            cv2.rectangle(picture, (x1, y1), (x2 - 1, y2 - 1), (0, 0, 255), thickness)
        ok, jpeg = cv2.imencode(".jpg", picture, [cv2.IMWRITE_JPEG_QUALITY, self.config.snapshot_quality])
        return jpeg.tobytes() if ok else None

    def _quiet_result(self, small: np.ndarray, now: float, scene_change: bool) -> FrameResult:
        ended: list[MotionEvent] = []
        if self._event is not None and now - self._last_motion >= self.config.cooldown_s:
            ended.append(self._close_event())
        return FrameResult(
            motion=False,
            score=0.0,
            regions=[],
            event_id=None,
            scene_change=scene_change,
            started=None,
            ended=ended,
            foreground=np.zeros(small.shape[:2], np.uint8),
        )


class _Tiles:
    """The main subtractor split into one instance per tile of a grid (``ConfirmConfig.tiles``).

    With a confirming cue, the main foreground counts only near the cue's sizeable blobs; a walker and
    the reach around it cover about a tenth of a 720p trail frame (measured on the busy benchmark clip:
    0.09 of it on average), so screening only the tiles that region touches skips most of the main
    subtractor's cost on a busy frame. The tiles that are not screened learn as the whole frame does
    on a quiet one.
    """

    def __init__(self, make: Callable[[np.ndarray], Any], frame: np.ndarray, grid: tuple[int, int]) -> None:
        """``make(tile)`` builds one tile's subtractor with ``tile`` as its background."""
        height, width = frame.shape[:2]
        columns, rows = min(grid[0], width), min(grid[1], height)
        xs = np.linspace(0, width, columns + 1).round().astype(int)
        ys = np.linspace(0, height, rows + 1).round().astype(int)
        self._cells = [
            (slice(int(ys[r]), int(ys[r + 1])), slice(int(xs[c]), int(xs[c + 1])))
            for r in range(rows)
            for c in range(columns)
        ]
        # OpenCV reads a tile as a view with the frame's row stride: no copy.
        self._parts = [make(frame[cell]) for cell in self._cells]
        self._idle = [0] * len(self._cells)  # frames each tile has not been screened, running
        self._shape = (height, width)

    def apply(self, frame: np.ndarray) -> np.ndarray:
        """Every tile screened (and learning) on ``frame``: the whole frame's foreground."""
        out = np.empty(self._shape, np.uint8)
        for index, (cell, part) in enumerate(zip(self._cells, self._parts, strict=True)):
            out[cell] = part.apply(frame[cell])
            self._idle[index] = 0
        return out

    def apply_near(
        self, frame: np.ndarray, near: np.ndarray | None, learn_every: int, young: bool
    ) -> np.ndarray:
        """The foreground of the tiles ``near`` touches (zero elsewhere; None touches none). An untouched
        tile learns from ``frame`` if ``young``, else from every ``learn_every``-th frame it sits idle."""
        out = np.zeros(self._shape, np.uint8)
        for index, (cell, part) in enumerate(zip(self._cells, self._parts, strict=True)):
            if near is not None and cv2.countNonZero(near[cell]):
                out[cell] = part.apply(frame[cell])
                self._idle[index] = 0
                continue
            self._idle[index] += 1
            if young or self._idle[index] % learn_every == 0:
                part.apply(frame[cell])
        return out


class _Stabiliser:
    """Measures camera shake and, while there is some, aligns frames to a reference (``StabiliseConfig``)."""

    def __init__(self, config: StabiliseConfig) -> None:
        self.config = config
        self.shifts: collections.deque[float] = collections.deque(maxlen=config.window)
        self.active = False
        self._previous: np.ndarray | None = None
        self._reference: np.ndarray | None = None
        self._window: np.ndarray | None = None
        self._frames = 0

    def align(self, small: np.ndarray) -> tuple[np.ndarray, np.ndarray | None, bool]:
        """The frame aligned to the reference while shake is measured (else as it is), the mask of its
        pixels that came from inside the picture (None: all of them), and whether to relearn."""
        self._frames += 1
        if not self.active and self._frames % 2 and self._previous is not None:
            return small, None, False  # a steady camera is sampled every other frame: half the cost
        estimate = self._estimate_frame(small)
        if self._previous is not None and self._previous.shape == estimate.shape:
            (dx, dy), _ = cv2.phaseCorrelate(self._previous, estimate, self._window)
            self.shifts.append(float(np.hypot(dx, dy)))
        else:
            self.shifts.clear()
            self.active, self._reference = False, None
        self._previous = estimate
        shake = float(np.median(self.shifts)) if len(self.shifts) == self.shifts.maxlen else 0.0
        if not self.active and shake >= self.config.trigger_px:
            self.active, self._reference = True, estimate
            return small, None, True
        if self.active and shake < self.config.trigger_px / 2:
            self.active, self._reference = False, None
            return small, None, True
        if not self.active or self._reference is None:
            return small, None, False
        (dx, dy), response = cv2.phaseCorrelate(self._reference, estimate, self._window)
        height, width = small.shape[:2]
        if np.hypot(dx, dy) > self.config.max_shift * width or response < 0.05:
            self._reference = estimate  # the view moved for good, or the scene changed: start again here
            return small, None, True
        shift = np.array([[1, 0, -dx], [0, 1, -dy]], np.float32)
        aligned = cv2.warpAffine(small, shift, (width, height), borderMode=cv2.BORDER_REPLICATE)
        valid = np.zeros((height, width), np.uint8)
        x0, x1 = max(0, int(np.ceil(-dx))), width - max(0, int(np.ceil(dx)))
        y0, y1 = max(0, int(np.ceil(-dy))), height - max(0, int(np.ceil(dy)))
        valid[y0:y1, x0:x1] = 255
        return aligned, valid, False

    def _estimate_frame(self, small: np.ndarray) -> np.ndarray:
        # At the processing size: at half size the estimate's sub-pixel error alone (up to 1.6 px over ten
        # frames of a steady synthetic scene) looked like shake; at full size it stays under 0.2 px. The
        # whole frame: its centre alone (256 x 128 of 320 x 180, a third of the DFT's time) broke the
        # synthetic IR-switch scene (4 events and F 0.39, against 2 and 0.81; not traced further).
        grey = small if small.ndim == 2 else cv2.cvtColor(small, cv2.COLOR_BGR2GRAY)
        estimate = grey.astype(np.float32)
        if self._window is None or self._window.shape != estimate.shape:
            self._window = cv2.createHanningWindow((grey.shape[1], grey.shape[0]), cv2.CV_32F)
        return estimate


def _drop_flickering(mask: np.ndarray, rates: np.ndarray, share: float, window: int) -> np.ndarray:
    """``mask`` (0 or 255) without the pixels foreground in more than ``share`` of the last ``window``
    frames. ``rates`` (float32, 0..255) is each pixel's running share, updated here with ``mask``: leaves
    and ripples sit high, a passer-by's path low."""
    cv2.accumulateWeighted(mask, rates, 1.0 / window)
    steady = rates < 255.0 * share
    return cv2.bitwise_and(mask, steady.view(np.uint8) * np.uint8(255))


def _colourfulness(bgr: np.ndarray) -> float:
    """Mean distance of the chroma (Cr, Cb) from grey, 0..~180: 0 for an IR night picture."""
    ycrcb = cv2.cvtColor(bgr, cv2.COLOR_BGR2YCrCb)
    # Distance from 128 in every channel; only Cr and Cb (channels 1 and 2) are read.
    means = cv2.mean(cv2.absdiff(ycrcb, np.full_like(ycrcb, 128)))
    return float(means[1] + means[2])


def _near(a: list[int], b: list[int], gap: int) -> bool:
    """Boxes ``[x1, y1, x2, y2]`` overlap once each is grown by ``gap`` pixels."""
    return a[0] - gap < b[2] and b[0] - gap < a[2] and a[1] - gap < b[3] and b[1] - gap < a[3]


def _to_pixels(polygon: list[tuple[float, float]], width: int, height: int) -> np.ndarray:
    return np.array([[round(x * (width - 1)), round(y * (height - 1))] for x, y in polygon], np.int32)
