"""Per-camera screening settings and the strict camera config file (YAML or JSON).

Every model forbids unknown keys (in the manner of Frigate's config), so a typo such as ``min_aera`` is an
error at load time instead of a silently ignored setting. Polygons (masks and zones) are given in
normalised coordinates, ``[x, y]`` with 0..1 across the frame's width and height, so one config serves any
stream resolution.

Example file::

    cameras:
      trail-3:
        subtractor: {kind: mog2, var_threshold: 16}
        masks: [[[0, 0], [1, 0], [1, 0.08], [0, 0.08]]]   # the timestamp overlay
        zones:
          path: [[0.2, 0.5], [0.8, 0.5], [0.9, 1], [0.1, 1]]
        min_area: 0.004
"""

from __future__ import annotations

import json
import pathlib
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from vision.errors import VisionError


class CameraConfigError(VisionError):
    """A camera config file or entry is unreadable or invalid."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Mog2Params(_Strict):
    """``cv2.createBackgroundSubtractorMOG2`` (Zivkovic's adaptive Gaussian mixture)."""

    kind: Literal["mog2"] = "mog2"
    history: int = Field(default=500, ge=2)
    var_threshold: float = Field(default=16.0, gt=0)
    detect_shadows: bool = True
    n_mixtures: int = Field(default=5, ge=1, le=8)


class KnnParams(_Strict):
    """``cv2.createBackgroundSubtractorKNN`` (per-pixel K nearest neighbours over recent samples)."""

    kind: Literal["knn"] = "knn"
    history: int = Field(default=500, ge=2)
    dist2_threshold: float = Field(default=400.0, gt=0)
    detect_shadows: bool = True


class GsocParams(_Strict):
    """``cv2.bgsegm.createBackgroundSubtractorGSOC`` (opencv-contrib; strong on traffic, fires on trees).

    ``n_samples`` is 14 rather than OpenCV's 20: GSOC's time falls with it (bare, on 320 x 180 frames of
    the busy benchmark clip: 0.79x at 14, 0.68x at 10) and the default pipeline's whole path (decode and
    screening) to 0.90x, on the busy and the quiet clip alike, while the real sequences hardly move (the
    default pipeline, fall / pedestrians F: 20 samples 0.961 / 0.926, 14 0.962 / 0.924, 10 0.961 / 0.922,
    the synthetic scenes the same to 0.002).
    """

    kind: Literal["gsoc"] = "gsoc"
    n_samples: int = Field(default=14, ge=2)
    replace_rate: float = Field(default=0.003, gt=0, le=1)
    propagation_rate: float = Field(default=0.01, ge=0, le=1)
    hits_threshold: int = Field(default=32, ge=1)


class CntParams(_Strict):
    """``cv2.bgsegm.createBackgroundSubtractorCNT`` (pixel stability counting; very cheap)."""

    kind: Literal["cnt"] = "cnt"
    min_pixel_stability: int = Field(default=15, ge=1)
    max_pixel_stability: int = Field(default=15 * 60, ge=1)
    use_history: bool = True


class LsbpParams(_Strict):
    """``cv2.bgsegm.createBackgroundSubtractorLSBP`` (opencv-contrib; local SVD binary patterns, slow)."""

    kind: Literal["lsbp"] = "lsbp"
    n_samples: int = Field(default=20, ge=2)
    lsbp_radius: int = Field(default=16, ge=1)


SubtractorParams = Annotated[
    Mog2Params | KnnParams | GsocParams | CntParams | LsbpParams, Field(discriminator="kind")
]

Point = tuple[float, float]


def _check_polygon(points: list[Point]) -> list[Point]:
    if len(points) < 3:
        raise ValueError("a polygon needs at least 3 points")
    for x, y in points:
        if not (0.0 <= x <= 1.0 and 0.0 <= y <= 1.0):
            raise ValueError(
                f"polygon point ({x}, {y}) is outside 0..1 (coordinates are fractions of the frame)"
            )
    return points


class SceneChangeConfig(_Strict):
    """Recognising whole-frame changes (IR day/night switch, sudden lighting, camera shake).

    A frame is a whole-frame change when, against the previous screened frame, more than
    ``changed_share`` of a small thumbnail's pixels moved by more than ``pixel_delta`` grey levels, or the
    picture's colourfulness collapsed (colour to IR grey) or appeared, or the subtractor marks more than
    ``foreground_share`` of the frame (shake on textured ground). Such a frame never feeds an event: the
    background is relearnt from it and screening resumes after ``relearn_frames`` frames (None: as many as
    the subtractor needs to settle, 3 for KNN, 5 for MOG2, ``min_pixel_stability`` for CNT).
    """

    enabled: bool = True
    changed_share: float = Field(default=0.5, gt=0, le=1)
    pixel_delta: float = Field(default=18.0, gt=0, le=255)
    foreground_share: float = Field(default=0.45, gt=0, le=1)
    chroma_ratio: float = Field(default=3.0, gt=1)
    relearn_frames: int | None = Field(default=None, ge=0, le=100)


class StabiliseConfig(_Strict):
    """Camera shake compensation, switched on only while shake is measured.

    The global shift between screened frames is estimated by phase correlation on the small grey frame
    (about 0.5 ms at 320 px; every other frame while the camera is steady, every frame while aligning).
    When the median shift over the last ``window`` estimates reaches
    ``trigger_px`` (pixels of the processing frame), the background is relearnt and each frame is aligned
    to that moment's frame before subtraction; the band brought in from outside the picture is ignored.
    When the median falls under half the trigger, alignment stops and the background is relearnt again. A
    steady camera pays the estimate only. A shift over ``max_shift`` of the width, or one the correlation
    is unsure of, is not trusted: the background is relearnt from that frame.
    """

    trigger_px: float = Field(default=1.5, gt=0, le=50)
    window: int = Field(default=10, ge=3, le=100)
    max_shift: float = Field(default=0.15, gt=0, le=0.5)


class ConfirmConfig(_Strict):
    """A second, cheap cue that the main subtractor's foreground must agree with.

    The confirming subtractor runs on the small frame shrunk by ``scale``; its cleaned blobs of at least
    the camera's ``min_area`` each (one blob at a time: a cloud of leaf specks does not add up) mark where
    something sizeable moves, and only the main subtractor's foreground within ``reach`` of them is kept.
    A subtractor that draws people whole but fires on swaying trees (GSOC) is then held to the places a
    subtractor that is calm on trees (MOG2) also sees movement.

    Attributes:
        subtractor: the confirming subtractor and its parameters.
        scale: its frame size relative to the processing frame (cost falls with the square).
        min_width: ... but never narrower than this many pixels (or the processing frame): a walker a few
            pixels wide vanishes in the cue's cleanup below it (measured on 160-pixel synthetic scenes).
        reach: how far the main foreground may reach past a confirming blob, as a share of the
            processing width (25 px at 320).
        seed_jitter: seed the confirming MOG2 with shifted copies of the frame after a (re)start, as the
            main subtractor is (``CameraConfig.seed_jitter_px``). Off by default: the cue's blobs must each
            reach ``min_area``, and a jitter-seeded MOG2 sees only fragments of a walker for tens of frames
            after a lighting change, so the walker went unconfirmed (the main subtractor keeps the
            seeding, which is what keeps the IR switch in wind quiet). Measured (pedestrians / fall F):
            on 0.927 / 0.920, off 0.925 / 0.908; the synthetic lighting scene needs it off.
        quiet_update_every: on a frame where the cue holds no sizeable blob, every pixel of the main
            subtractor's foreground would be dropped, so the main subtractor is not run to screen it; it
            only keeps learning the background, from every n-th such frame (1: from every frame, as
            without the cue). The main subtractor is the expensive half (GSOC: ~7-8 ms of a 10.5 ms
            frame at 320 px), and a trail camera is quiet most of the day. A background rebuilt from one
            frame learns from every frame for its first 50 (see the screener's ``_YOUNG_FRAMES``). With
            ``tiles``, the same holds per tile: a tile the cue's blobs do not reach learns from every
            n-th frame it sits idle.
        flicker_suppression: the cue ignores pixels that its own foreground held in more than this share
            of the camera's last ``flicker_window`` frames (1: off): a per-pixel adaptive threshold.
            Leaves that sway in one place keep their pixels foreground often; a walker or a car crosses
            each pixel in a few frames. Measured on the real sequences (fall / pedestrians F): off 0.905
            / 0.924, 0.3 0.962 / 0.929, 0.15 0.869 / 0.817 (a walker's path held too); the synthetic
            scenes unchanged at 0.3. A cue made less sensitive everywhere did as well on fall but lost a
            dim walker: MOG2's ``var_threshold`` 32 (0.966 / 0.924), or the cue run in YCrCb (a trial,
            not kept: 0.972 / 0.933), where a change of brightness weighs about half what it does in BGR;
            either lost the 160×120 synthetic walker after the lighting dims. The map is kept across
            relearns (an IR switch or a jolt does not move the trees).
        tiles: columns and rows of the grid the main subtractor is split into, one instance per tile. Only
            the main foreground near the cue's blobs is kept, so on a busy frame only the tiles that
            region touches are screened; the others learn as on a quiet frame. (1, 1): one instance for
            the whole frame. Measured (``python -m benchmarks.motion --quick``, one core): 4 x 3 tiles
            cost 0.77x the whole frame's screening time on the busy clip, 1.07x on the quiet one; real fall /
            pedestrians F 0.961 / 0.926 against 0.962 / 0.929 whole, the synthetic scenes within 0.005.
            A tile loses GSOC's propagation across its border, which did not show in these figures.
    """

    subtractor: SubtractorParams = Field(default_factory=Mog2Params)
    scale: float = Field(default=0.5, gt=0.1, le=1.0)
    min_width: int = Field(default=160, ge=16, le=1920)
    reach: float = Field(default=0.08, ge=0, le=0.25)
    seed_jitter: bool = False
    quiet_update_every: int = Field(default=4, ge=1, le=100)
    flicker_suppression: float = Field(default=0.3, gt=0, le=1)
    tiles: tuple[Annotated[int, Field(ge=1, le=32)], Annotated[int, Field(ge=1, le=32)]] = (4, 3)


class CameraConfig(_Strict):
    """How one camera is screened.

    Attributes:
        subtractor: background subtractor kind and its parameters (default GSOC).
        confirm: a second cue the subtractor's foreground must agree with (:class:`ConfirmConfig`;
            default MOG2 at half size), or None for the subtractor alone (the default when a config
            names its subtractor and no ``confirm``).
        processing_width: width in pixels of the small frame the screener works on.
        colour: subtract on the small colour frame rather than grey; costlier, but shadow detection
            needs colour (on grey, every darker object looks like a shadow).
        masks: polygons whose pixels are ignored (timestamp overlays, a road, a waving flag).
        zones: named polygons; a region belongs to the zone holding the bottom centre of its box.
        require_zone: when zones are set, ignore movement outside every zone.
        min_area: smallest moving blob, as a share of the frame, that can become an event.
        opening_px: side of the square opening that removes speckle (0 turns it off).
        median_px: side of the median filter after the opening (0 or 1 turns it off).
        closing_px: side of the square closing after the median, which joins a blob's broken rim (0: off).
        fill_holes: fill the inside of each blob (windscreens and grey panels that match the background).
        flicker_suppression: share of recent frames above which a pixel counts as flickering (vegetation,
            water) and its foreground is ignored; the adaptive per-pixel threshold. 1 turns it off.
        flicker_window: number of screened frames the flicker rate averages over.
        consistency: consecutive screened frames a pixel must be foreground before it counts (temporal
            consistency: leaves swing back within a frame or two, a walker's body stays; 1 turns it off).
            Off by default: on the real CDnet sequences (fall / pedestrians F, every frame) the default
            gives 0.908 / 0.925, with 2 frames 0.882 / 0.913 and with 3 0.841 / 0.827; MOG2 alone falls
            from 0.623 / 0.856 to 0.512 / 0.655 with 3. A moving body's leading edge is new in every
            frame, so recall pays more than the trees give back once the confirming cue has quietened them.
        persistence: consecutive screened frames a blob (overlapping itself) must last to count.
        min_travel: motion coherence: how far, as a share of the frame width, a blob's track must have
            moved from where it began before it counts (leaves and a flag swing in place; people and
            vehicles move through); until then its pixels are not reported moving once it has lasted
            ``persistence`` frames. Once moved, a track counts for as long as it lasts, so a walker who
            stops stays found. 0 turns it off, the default: on the real sequences (fall / pedestrians F)
            off 0.962 / 0.929, 0.03 0.960 / 0.909, 0.06 0.932 / 0.896, the synthetic scenes' events
            unchanged and their F lower. Once the cue ignores flickering pixels little of the trees is
            left for it to remove, and what it removes is the first frames of every body's track.
        cooldown_s: seconds without movement that end an event.
        max_event_s: an event longer than this is closed and a new one opened.
        scene_change: whole-frame change recognition.
        stabilise: camera shake compensation while shake is measured (None turns it off).
        seed_jitter_px: a relearnt MOG2 background is seeded with the frame shifted by up to this
            many pixels, so swaying leaves and slight shake are background from the start (0 turns it off).
        snapshot_quality: JPEG quality of the event snapshot.
    """

    # The default pipeline: GSOC, confirmed by MOG2 at half size. Picked on the real sequences (CDnet 2014
    # pedestrians / fall: people; trees in wind with cars), pixel F through `triage motion-eval`, all with
    # the same cleanup (python -m benchmarks.motion prints the whole table): MOG2 alone 0.856 / 0.623, KNN
    # 0.844 / 0.432, GSOC alone 0.919 / 0.226, GSOC confirmed by MOG2 0.925 / 0.908. GSOC draws people and
    # cars whole but fires on swaying trees; MOG2 is calm on trees but draws people in pieces; the
    # confirmed pipeline keeps GSOC's foreground near MOG2's sizeable blobs. Where the cue sees nothing
    # sizeable, GSOC only learns, from every 4th such frame once its background is 50 frames old
    # (ConfirmConfig.quiet_update_every): 0.924 / 0.905, the same within noise, at under half the cost on
    # a quiet trail. The cue then ignores its own pixels that were foreground in over 0.3 of the last 50
    # frames (ConfirmConfig.flicker_suppression: leaves swaying in place): 0.929 / 0.962. GSOC with 10
    # samples instead of 20 gives 0.922 / 0.962, too near the pedestrians floor; with 14 (the default now,
    # 0.90x the whole path's cost) 0.924 / 0.962. The
    # pipeline also keeps the synthetic scenes' promises (no event from trees alone or the IR switch in
    # wind, the walker found again after a lighting change). Its one loss there: GSOC has no shadow test,
    # so a walker's box takes in the shadow at its feet (IoU 0.43 with the walker alone, 0.83 for MOG2
    # alone); dropping what MOG2 calls shadow cost real recall (pedestrians 0.97 -> 0.86), and so did
    # cutting to MOG2's boxes.
    # A camera that names its subtractor runs it alone unless it also names a ``confirm``.
    subtractor: SubtractorParams = Field(default_factory=GsocParams)
    confirm: ConfirmConfig | None = Field(default_factory=ConfirmConfig)
    processing_width: int = Field(default=320, ge=32, le=1920)
    colour: bool = True
    masks: list[list[Point]] = Field(default_factory=list)
    zones: dict[str, list[Point]] = Field(default_factory=dict)
    require_zone: bool = False
    min_area: float = Field(default=0.003, gt=0, lt=1)
    opening_px: int = Field(default=3, ge=0, le=15)
    median_px: int = Field(default=5, ge=0, le=15)
    closing_px: int = Field(default=0, ge=0, le=15)
    fill_holes: bool = True
    flicker_suppression: float = Field(default=1.0, gt=0, le=1)
    flicker_window: int = Field(default=50, ge=2)
    consistency: int = Field(default=1, ge=1, le=25)
    persistence: int = Field(default=3, ge=1, le=100)
    min_travel: float = Field(default=0.0, ge=0, le=0.5)
    cooldown_s: float = Field(default=2.0, ge=0)
    max_event_s: float = Field(default=300.0, gt=0)
    scene_change: SceneChangeConfig = Field(default_factory=SceneChangeConfig)
    stabilise: StabiliseConfig | None = Field(default_factory=StabiliseConfig)
    seed_jitter_px: int = Field(default=1, ge=0, le=3)
    snapshot_quality: int = Field(default=85, ge=10, le=100)

    @model_validator(mode="before")
    @classmethod
    def _named_subtractor_runs_alone(cls, data: Any) -> Any:
        """A config naming its subtractor and no ``confirm`` gets that subtractor alone, not confirmed by
        the default's cue (which is chosen for GSOC)."""
        if isinstance(data, dict) and "subtractor" in data and "confirm" not in data:
            return {**data, "confirm": None}
        return data

    @field_validator("masks")
    @classmethod
    def _masks_are_polygons(cls, masks: list[list[Point]]) -> list[list[Point]]:
        return [_check_polygon(polygon) for polygon in masks]

    @field_validator("zones")
    @classmethod
    def _zones_are_polygons(cls, zones: dict[str, list[Point]]) -> dict[str, list[Point]]:
        for name in zones:
            if not name or len(name) > 64:
                raise ValueError(f"zone name {name!r} must have 1 to 64 characters")
        return {name: _check_polygon(polygon) for name, polygon in zones.items()}

    @field_validator("median_px")
    @classmethod
    def _median_is_odd(cls, size: int) -> int:
        if size > 1 and size % 2 == 0:
            raise ValueError("median_px must be odd (or 0 to turn it off)")
        return size


class CamerasFile(_Strict):
    """The camera config file: ``cameras`` maps a camera id to its settings."""

    cameras: dict[str, CameraConfig] = Field(default_factory=dict)

    @field_validator("cameras")
    @classmethod
    def _ids_are_sane(cls, cameras: dict[str, CameraConfig]) -> dict[str, CameraConfig]:
        for camera_id in cameras:
            check_camera_id(camera_id)
        return cameras


def check_camera_id(camera_id: str) -> str:
    """Refuse camera ids that are empty, long, or unsafe in URLs and file names.

    Raises:
        ValueError: the id is not 1 to 64 of ``A-Z a-z 0-9 . _ -`` (not starting with a dot).
    """
    allowed = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")
    if not (1 <= len(camera_id) <= 64) or not set(camera_id) <= allowed or camera_id.startswith("."):
        raise ValueError(f"camera id {camera_id!r} must be 1 to 64 of A-Z a-z 0-9 . _ - (no leading dot)")
    return camera_id


def _format_validation_error(error: ValidationError) -> str:
    problems = []
    for item in error.errors():
        where = ".".join(str(part) for part in item["loc"]) or "(top level)"
        problems.append(f"{where}: {item['msg']}")
    return "; ".join(problems)


def parse_camera_config(data: Any) -> CameraConfig:
    """Validate one camera's settings given as plain data (a dict from JSON or YAML).

    Raises:
        CameraConfigError: unknown keys or invalid values, all named in one message.
    """
    try:
        return CameraConfig.model_validate(data if data is not None else {})
    except ValidationError as error:
        raise CameraConfigError(f"invalid camera config: {_format_validation_error(error)}") from None


def load_cameras_file(path: str | pathlib.Path) -> dict[str, CameraConfig]:
    """Read a strict camera config file (``.yaml``, ``.yml`` or ``.json``).

    Returns:
        Camera id to its settings.

    Raises:
        CameraConfigError: unreadable file, bad syntax, unknown keys or invalid values.
    """
    path = pathlib.Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise CameraConfigError(f"cannot read camera config {path}: {error.strerror or error}") from None
    try:
        data = json.loads(text) if path.suffix.lower() == ".json" else yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as error:
        raise CameraConfigError(
            f"camera config {path} is not valid {path.suffix or 'YAML'}: {error}"
        ) from None
    try:
        return CamerasFile.model_validate(data if data is not None else {}).cameras
    except ValidationError as error:
        raise CameraConfigError(f"camera config {path}: {_format_validation_error(error)}") from None
