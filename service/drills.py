"""Operator drills: fictional threats projected into real scans, and how each operator does on them.

Threat image projection (TIP) keeps screeners sharp: now and then the service lays a threat from its
library into a real bag (in transmission space, :mod:`vision.tip`, so it looks like the station's own
scanner) and shows the operator that image and the model's verdict on it, in the shape of any scan. When
the operator decides, the drill is revealed: a threat found (``confirmed``, or ``missed`` with a box on
it) is a **hit**; a scan cleared (``false_alarm``, ``cleared``) or boxed elsewhere is a **miss**. The scan
then continues as the original: it is judged again by the model on the real image and the operator
decides on it as on any scan.

What keeps drills apart from the real traffic:

- the original image is stored as always; the drill keeps the patch the projection changed, laid over
  the original wherever the scan is shown (``/image``, ``/overlay.png``; the record's ``image_sha256``
  names the shown image) only until the reveal;
- feedback on a drill is marked and left out of ``triage feedback export`` and of station calibration,
  and a drill's verdict is not counted by the drift watch (its original's is, at the reveal);
- the draw uses the operating system's randomness: nothing in a request tells a drill is coming.

Settings are per station (``*`` for every station without its own); they are read on the scan path from
an in-memory copy refreshed on every change (no query per scan).
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import io
import logging
import pathlib
import secrets
import threading
import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session, undefer

from service.store.db import Store
from service.store.drills import ALL_STATIONS, Drill, DrillSettingsRow
from service.store.tables import ApiKey, Feedback, Scan
from vision.classes import SCENE_KINDS
from vision.errors import VisionError
from vision.tip import (
    ThreatCutout,
    TipError,
    corner_over_bag,
    load_library,
    place,
    project_with_detector,
)

logger = logging.getLogger("triage.drills")

# The library shipped with the service: simulated luggage and parcel threats (see its library.json).
BUNDLED_LIBRARY = pathlib.Path(__file__).with_name("drill_library")
# Inputs a threat can be projected into: false colour, as shown and as the model sees it.
DRILLED_MODALITIES = ("false-colour", "dual-energy")
# Size bands of a projected threat, by its share of the image's pixels (reports).
# Drills are placed on every _PLACE_STEP-th pixel of the bag, both ways (a coarse grid is enough for a place).
_PLACE_STEP = 4
SIZE_BANDS: tuple[tuple[str, float], ...] = (("small", 0.003), ("medium", 0.015), ("large", 1.0))


class DrillError(VisionError):
    """Drill settings that cannot be applied (unknown class or kind, a rate out of range, no library)."""


@dataclass(frozen=True)
class DrillPolicy:
    """The drill settings that apply to one station."""

    station: str
    enabled: bool = False
    rate: float = 0.02
    classes: tuple[str, ...] = ()
    kinds: tuple[str, ...] = ()
    updated: dt.datetime | None = None

    def covers(self, kind: str | None, modality: str | None) -> bool:
        """Whether a scan of this kind and modality may get a drill under these settings."""
        if not self.enabled or modality not in DRILLED_MODALITIES:
            return False
        return not self.kinds or kind in self.kinds


@dataclass(frozen=True)
class Projection:
    """A threat laid into one scan: the image shown, the window it changed, and what was laid.

    Attributes:
        composite: the whole image shown (and judged by the model).
        patch: ``composite`` inside the window the threat landed in; the original outside it.
        origin: the window's corner ``(x, y)`` in image pixels.
        footprint: the window's pixels the projection changed (bool, the patch's size).
        label: the threat's class.
        box: ``x0, y0, x1, y1`` of the threat in image pixels.
        area_share: the threat's pixels over the image's.
        outline: the threat's outline, polygons of ``[x, y]`` in image pixels.
        library_file: the library entry laid.
    """

    composite: np.ndarray
    patch: np.ndarray
    origin: tuple[int, int]
    footprint: np.ndarray
    label: str
    box: tuple[int, int, int, int]
    area_share: float
    outline: list[list[list[int]]]
    library_file: str


def encode_png(image: np.ndarray) -> bytes:
    """An RGB or single-channel uint8 image as PNG (fast compression: these are written per scan)."""
    data = cv2.cvtColor(image, cv2.COLOR_RGB2BGR) if image.ndim == 3 else image
    ok, png = cv2.imencode(".png", data, [cv2.IMWRITE_PNG_COMPRESSION, 1])
    if not ok:
        raise ValueError("could not encode the image as PNG")
    return png.tobytes()


def size_band(area_share: float) -> str:
    """``small``, ``medium`` or ``large``: the band of :data:`SIZE_BANDS` a threat's share falls in."""
    return next(name for name, upper in SIZE_BANDS if area_share < upper or upper >= 1.0)


def outline_of(mask: np.ndarray, max_points: int = 200) -> list[list[list[int]]]:
    """The outer contours of ``mask`` as polygons ``[[x, y], ...]``, simplified to about a pixel."""
    contours, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    polygons = []
    for contour in sorted(contours, key=cv2.contourArea, reverse=True)[:8]:
        epsilon = 1.0
        simple = cv2.approxPolyDP(contour, epsilon, True)
        while len(simple) > max_points:
            epsilon *= 2
            simple = cv2.approxPolyDP(contour, epsilon, True)
        if len(simple) >= 3:  # a speck of one or two pixels is not an outline
            polygons.append([[int(x), int(y)] for x, y in simple.reshape(-1, 2)])
    if not polygons:  # nothing but specks: the box around them
        ys, xs = np.nonzero(mask)
        x0, y0, x1, y1 = int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1
        polygons = [[[x0, y0], [x1, y0], [x1, y1], [x0, y1]]]
    return polygons


def judge_drill(drill: Drill, outcome: str, boxes: Sequence[Sequence[float]]) -> str:
    """``hit`` or ``miss``: what an operator's feedback on a drill scan says about the projected threat.

    Flagging the bag (``confirmed``) finds it; a ``missed`` report finds it when one of its boxes touches
    the threat's; clearing (``false_alarm``, ``cleared``) misses it.
    """
    if outcome == "confirmed":
        return "hit"
    if outcome == "missed":
        x0, y0, x1, y1 = drill.box
        touches = any(b[0] < x1 and x0 < b[2] and b[1] < y1 and y0 < b[3] for b in boxes)
        return "hit" if touches else "miss"
    return "miss"


class Drills:
    """Drill settings, the threat library and the draw.

    Args:
        store: the database.
        library: the threat library folder (``triage drill-library``); the bundled one by default.
    """

    def __init__(self, store: Store, library: pathlib.Path | None = None) -> None:
        self.store = store
        self.library_dir = library or BUNDLED_LIBRARY
        self._lock = threading.Lock()
        self._policies: dict[str, DrillPolicy] = {}
        self._library: list[tuple[str, ThreatCutout]] | None = None
        self._rng = np.random.default_rng(secrets.randbits(128))

    # ---- settings ----------------------------------------------------------------------------------

    def load(self) -> None:
        """Read every station's settings from the store into memory (at start, and every few seconds:
        other API processes on a shared store may have changed them)."""
        with self.store.sessions() as session:
            rows = session.scalars(select(DrillSettingsRow)).all()
        self._policies = {row.station: _policy(row) for row in rows}

    def policies(self) -> list[DrillPolicy]:
        """The stored settings, the default (``*``) first."""
        others = sorted((p for s, p in self._policies.items() if s != ALL_STATIONS), key=lambda p: p.station)
        return [self.policy_for(None), *others]

    def policy_for(self, station: str | None) -> DrillPolicy:
        """The settings that apply to ``station``: its own, else the default's, else drills off."""
        return (
            self._policies.get(station or ALL_STATIONS)
            or self._policies.get(ALL_STATIONS)
            or DrillPolicy(ALL_STATIONS)
        )

    def apply(
        self,
        station: str,
        enabled: bool,
        rate: float,
        classes: Sequence[str],
        kinds: Sequence[str],
        key_id: uuid.UUID | None,
    ) -> DrillPolicy:
        """Store a station's settings (``*``: the default) and put them in force at once.

        Raises:
            DrillError: a rate outside ``(0, 1]``, an unknown kind, or a class the library does not hold.
        """
        if not 0 < rate <= 1:
            raise DrillError(f"rate must be in (0, 1] (e.g. 0.02 for one scan in fifty), got {rate}")
        unknown_kinds = sorted(set(kinds) - set(SCENE_KINDS))
        if unknown_kinds:
            raise DrillError(f"unknown kind(s) {', '.join(unknown_kinds)}; known: {', '.join(SCENE_KINDS)}")
        held = self.library_classes() if enabled or classes else {}
        missing = sorted(set(classes) - set(held))
        if missing:
            holds = ", ".join(sorted(held)) or "nothing"
            raise DrillError(f"the threat library holds no {', '.join(missing)}; it holds {holds}")
        with self.store.session() as session:
            row = session.get(DrillSettingsRow, station) or DrillSettingsRow(station=station)
            row.enabled, row.rate = enabled, float(rate)
            row.classes, row.kinds = sorted(set(classes)), sorted(set(kinds))
            row.updated, row.key_id = dt.datetime.now(dt.UTC), key_id
            session.add(row)
            session.flush()
            policy = _policy(row)
        self._policies = {**self._policies, station: policy}
        logger.info("drill settings applied", extra={"station": station, **dataclasses.asdict(policy)})
        return policy

    # ---- the library -------------------------------------------------------------------------------

    def library(self) -> list[tuple[str, ThreatCutout]]:
        """The library's ``(file, cutout)`` pairs, read once.

        Raises:
            DrillError: the library folder holds no readable library.
        """
        with self._lock:
            if self._library is None:
                try:
                    self._library = load_library(self.library_dir)
                except TipError as error:
                    raise DrillError(f"no threat library for drills: {error}") from None
            return self._library

    def library_classes(self) -> dict[str, int]:
        """How many threats of each class the library holds."""
        counts: dict[str, int] = defaultdict(int)
        for _, cutout in self.library():
            counts[cutout.label] += 1
        return dict(counts)

    # ---- the draw ----------------------------------------------------------------------------------

    def draw(self, station: str | None, kind: str | None, modality: str | None) -> int | None:
        """The library index of the threat to project into this scan, or ``None`` for no drill."""
        policy = self.policy_for(station)
        if not policy.covers(kind, modality):
            return None
        try:
            library = self.library()
        except DrillError:
            logger.exception("drills are on but the threat library cannot be read")
            return None
        eligible = [i for i, (_, c) in enumerate(library) if not policy.classes or c.label in policy.classes]
        with self._lock:
            if not eligible or self._rng.random() >= policy.rate:
                return None
            return eligible[int(self._rng.integers(len(eligible)))]

    def project(self, rgb: np.ndarray, index: int) -> Projection:
        """Lay library threat ``index`` into ``rgb`` at a random place over the bag.

        The same projection as the training data's (:func:`vision.tip.project_random`: random size,
        turn, place over the bag, detector blur and noise), with the place drawn on a coarse grid of the
        bag's pixels and the rest computed inside the threat's window only: on the scan path a drill
        must cost no more time than a glance can tell (about 10 ms on a 1.4-megapixel scan).
        """
        file, cutout = self.library()[index]
        with self._lock:
            rng = np.random.default_rng(self._rng.integers(2**63))
        height, width = rgb.shape[:2]
        ratio, inside = place(cutout, max(height, width), rng)
        h, w = ratio.shape[:2]
        x, y = corner_over_bag(rgb, (h, w), rng, step=_PLACE_STEP)
        composite, mask = project_with_detector(rgb, ratio, (x, y), rng)
        x0, y0, x1, y1 = max(0, x), max(0, y), min(width, x + w), min(height, y + h)
        window = (slice(y0, y1), slice(x0, x1))
        landed = inside[y0 - y : y1 - y, x0 - x : x1 - x]
        threat = landed if cutout.from_box else mask[window] & landed
        footprint = np.any(composite[window] != rgb[window], axis=2) | threat
        if not threat.any():
            threat = footprint
        ys, xs = np.nonzero(threat)
        box = (x0 + int(xs.min()), y0 + int(ys.min()), x0 + int(xs.max()) + 1, y0 + int(ys.max()) + 1)
        outline = [[[px + x0, py + y0] for px, py in polygon] for polygon in outline_of(threat)]
        return Projection(
            composite=composite,
            patch=np.ascontiguousarray(composite[window]),
            origin=(x0, y0),
            footprint=footprint,
            label=cutout.label,
            box=box,
            area_share=float(threat.sum()) / (height * width),
            outline=outline,
            library_file=file,
        )


def _policy(row: DrillSettingsRow) -> DrillPolicy:
    return DrillPolicy(
        row.station,
        bool(row.enabled),
        float(row.rate),
        tuple(row.classes or ()),
        tuple(row.kinds or ()),
        row.updated,
    )


def undecided_drill(session: Session, scan_id: uuid.UUID, with_patch: bool = False) -> Drill | None:
    """The drill in ``scan_id`` that its operator has not decided yet, if any (``with_patch``: its patch
    loaded, to show it)."""
    query = select(Drill).where(Drill.scan_id == scan_id, Drill.decided.is_(None))
    if with_patch:
        query = query.options(undefer(Drill.patch_png))
    return session.scalars(query).first()


def lay_patch(rgb: np.ndarray, drill: Drill) -> np.ndarray:
    """The image shown for a drill: ``rgb`` (its scan's original) with the drill's patch laid in."""
    bgr = cv2.imdecode(np.frombuffer(drill.patch_png, np.uint8), cv2.IMREAD_COLOR)
    if bgr is None:
        raise ValueError(f"drill {drill.id}: its stored patch does not decode")
    patch = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
    shown = rgb.copy()
    shown[drill.patch_y : drill.patch_y + patch.shape[0], drill.patch_x : drill.patch_x + patch.shape[1]] = (
        patch
    )
    return shown


# ---- reports -------------------------------------------------------------------------------------------


@dataclass
class Tally:
    """Counts of one report row."""

    drills: int = 0
    hits: int = 0
    decision_s: list[float] = dataclasses.field(default_factory=list)
    by_class: dict[str, list[int]] = dataclasses.field(default_factory=lambda: defaultdict(lambda: [0, 0]))
    by_size: dict[str, list[int]] = dataclasses.field(default_factory=lambda: defaultdict(lambda: [0, 0]))
    real_decided: int = 0
    real_flagged: int = 0
    real_decision_s: list[float] = dataclasses.field(default_factory=list)

    def add_drill(self, drill: Drill) -> None:
        hit = int(drill.outcome == "hit")
        self.drills += 1
        self.hits += hit
        if drill.decision_s is not None:
            self.decision_s.append(drill.decision_s)
        for table, key in ((self.by_class, drill.label), (self.by_size, size_band(drill.area_share))):
            table[key][0] += hit
            table[key][1] += 1

    def to_dict(self) -> dict[str, Any]:
        def rate(hits: int, n: int) -> float | None:
            return round(hits / n, 4) if n else None

        def mean(values: list[float]) -> float | None:
            return round(sum(values) / len(values), 2) if values else None

        return {
            "drills": self.drills,
            "hits": self.hits,
            "misses": self.drills - self.hits,
            "hit_rate": rate(self.hits, self.drills),
            "mean_decision_s": mean(self.decision_s),
            "by_class": {
                k: {"hits": h, "drills": n, "hit_rate": rate(h, n)}
                for k, (h, n) in sorted(self.by_class.items())
            },
            "by_size": {
                k: {"hits": h, "drills": n, "hit_rate": rate(h, n)}
                for k, (h, n) in sorted(self.by_size.items())
            },
            "real_decided": self.real_decided,
            "real_flagged": self.real_flagged,
            "real_flag_rate": rate(self.real_flagged, self.real_decided),
            "real_mean_decision_s": mean(self.real_decision_s),
        }


def week_of(when: dt.datetime) -> str:
    """The ISO week of a time, e.g. ``2026-W49``."""
    year, week, _ = when.isocalendar()
    return f"{year}-W{week:02d}"


def report(
    session: Session, since: dt.datetime | None = None, station: str | None = None
) -> list[dict[str, Any]]:
    """Decided drills and real decisions per ISO week, station and operator (key), newest week first.

    A row counts the drills its operator decided (hits, misses, by class and size band, mean time from
    the scan to the decision) and the real scans they judged: ``real_flagged`` are those they called a
    threat (``confirmed`` or ``missed``); the truth of a real scan is not known, so the share flagged is
    the operator's alarm rate on real traffic, an upper bound of their false alarms there.
    """
    drills_query = select(Drill).where(Drill.decided.is_not(None))
    real_query = (
        select(Feedback, Scan.station, Scan.created)
        .join(Scan, Feedback.scan_id == Scan.id)
        .where(Feedback.drill.is_not(True))
        .order_by(Feedback.created, Feedback.id)
    )
    if since is not None:
        drills_query = drills_query.where(Drill.decided >= since)
        real_query = real_query.where(Feedback.created >= since)
    if station is not None:
        drills_query = drills_query.where(Drill.station == station)
        real_query = real_query.where(Scan.station == station)
    names = {key.id: key.name for key in session.scalars(select(ApiKey))}
    tallies: dict[tuple[str, str, str], Tally] = defaultdict(Tally)

    def row_key(when: dt.datetime, where: str | None, key_id: uuid.UUID | None) -> tuple[str, str, str]:
        return week_of(when), where or "", str(key_id) if key_id else ""

    for drill in session.scalars(drills_query):
        assert drill.decided is not None
        tallies[row_key(drill.decided, drill.station, drill.operator_key_id)].add_drill(drill)
    # A real scan counts once, by its operator's first judgement (corrections do not make new decisions).
    seen: set[uuid.UUID] = set()
    for feedback, where, scanned in session.execute(real_query):
        if feedback.scan_id in seen:
            continue
        seen.add(feedback.scan_id)
        tally = tallies[row_key(feedback.created, where, feedback.key_id)]
        tally.real_decided += 1
        tally.real_flagged += int(feedback.outcome in ("confirmed", "missed"))
        tally.real_decision_s.append((feedback.created - scanned).total_seconds())
    rows = []
    for (week, where, key_id), tally in sorted(tallies.items(), key=lambda item: item[0], reverse=True):
        operator = names.get(uuid.UUID(key_id)) if key_id else None
        rows.append(
            {
                "week": week,
                "station": where or None,
                "key_id": key_id or None,
                "operator": operator,
                **tally.to_dict(),
            }
        )
    return rows


CSV_COLUMNS = (
    "week", "station", "key_id", "operator", "group", "drills", "hits", "misses", "hit_rate",
    "mean_decision_s", "real_decided", "real_flagged", "real_flag_rate", "real_mean_decision_s",
)  # fmt: skip


def report_csv(rows: list[dict[str, Any]]) -> str:
    """The report as CSV: per row an ``all`` line, then a line per class (``class:…``) and size band
    (``size:…``) with its drills and hits."""
    out = io.StringIO()
    writer = csv.DictWriter(out, CSV_COLUMNS, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({**row, "group": "all"})
        for prefix, table in (("class", row["by_class"]), ("size", row["by_size"])):
            for name, cell in table.items():
                writer.writerow(
                    {
                        **{k: row[k] for k in ("week", "station", "key_id", "operator")},
                        "group": f"{prefix}:{name}",
                        "drills": cell["drills"],
                        "hits": cell["hits"],
                        "misses": cell["drills"] - cell["hits"],
                        "hit_rate": cell["hit_rate"],
                    }
                )
    return out.getvalue()
