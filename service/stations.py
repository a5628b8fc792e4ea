"""Station thresholds: site calibration from each station's cleared scans, versioned, and drift watch.

A station's scanner, palette and traffic set the false-alarm rate its operators see, not the data the
model was calibrated on. This keeps, per station and scene kind, the threshold that holds a target rate on
the station's own **cleared** scans (see :func:`cleared`), proposes it with an exact interval
(:mod:`vision.calibration`), applies it when an admin says so (a new version, logged with the key id),
rolls it back, and imports station files written offline by ``triage calibrate``.

Thresholds belong to one model: another model's scores are not comparable, so a station threshold is in
force only while the model it was computed for serves; the model's own threshold judges otherwise.

Lookups on the scan path read an in-memory map refreshed on every change (no query per scan). The drift
watch keeps each station's last ``window`` verdicts in memory and compares the live alarm rate with the
target (:func:`vision.calibration.drift`).
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import uuid
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from service.metrics import Metrics
from service.store.db import Store
from service.store.drills import Drill
from service.store.stations import ALL_KINDS, StationThresholdRow
from service.store.tables import Feedback, Scan
from vision.calibration import (
    DEFAULT_TARGET_FA,
    CalibrationError,
    Drift,
    Proposal,
    check_target,
    drift,
    propose,
    read_station_file,
)
from vision.registry import ModelCard

logger = logging.getLogger("triage.stations")

# The most recent scans a proposal is computed from: recent traffic, and a bounded query.
RECENT_SCANS = 20_000


class NothingToRollBack(LookupError):
    """The station has no earlier threshold version for that kind and model."""


def card_false_alarm_rate(predictor: Any) -> float:
    """The false-alarm rate a model's card says its threshold holds (the drift target without a station
    threshold); the default target where the card says none."""
    card = getattr(predictor, "card", None)
    rate = card.false_alarm_rate if isinstance(card, ModelCard) else None
    return rate if rate is not None and 0 < rate <= 0.5 else DEFAULT_TARGET_FA


def kind_key(kind: str | None) -> str:
    """The stored kind of a threshold: the scene kind, or :data:`ALL_KINDS`."""
    return kind or ALL_KINDS


@dataclass(frozen=True)
class Cleared:
    """A station's scans as calibration sees them: cleared scores and what was left out."""

    scores: list[float]
    confirmed: int
    undecided_alarms: int


def cleared(session: Session, station: str, kind: str | None, model: tuple[str, str]) -> Cleared:
    """Scores of the station's scans (of ``kind``, or all kinds) that the operators cleared.

    Cleared: the latest feedback says ``false_alarm`` or ``cleared``, or the scan was clear and no one
    reported it (``missed``) or confirmed a threat in it. Left out: confirmed threats and misses (not
    clean traffic), scans still showing an operator drill, decisions on drills, and alarms not judged
    yet, counted as ``undecided_alarms``; a station whose operators leave many alarms unjudged gets a
    threshold computed without its highest clean scores, which the answer makes visible.
    Only scans scored by ``model`` count, newest :data:`RECENT_SCANS` first.
    """
    query = (
        select(Scan.id, Scan.verdict, Scan.score)
        .where(Scan.station == station, Scan.model_name == model[0], Scan.model_version == model[1])
        .order_by(Scan.created.desc())
        .limit(RECENT_SCANS)
    )
    if kind is not None:
        query = query.where(Scan.kind == kind)
    rows = session.execute(query).all()
    latest: dict[uuid.UUID, str] = {}
    drilled: set[uuid.UUID] = set()
    ids = [row.id for row in rows]
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        for scan_id, outcome in session.execute(
            select(Feedback.scan_id, Feedback.outcome)
            .where(Feedback.scan_id.in_(chunk), Feedback.drill.is_not(True))
            .order_by(Feedback.created, Feedback.id)
        ):
            latest[scan_id] = outcome
        # A scan still showing an operator drill carries the score of a fictional threat: left out.
        drilled.update(
            session.scalars(select(Drill.scan_id).where(Drill.scan_id.in_(chunk), Drill.decided.is_(None)))
        )
    scores, confirmed, undecided = [], 0, 0
    for row in rows:
        judged = latest.get(row.id)
        if row.id in drilled:
            continue
        if judged in ("false_alarm", "cleared") or (judged is None and row.verdict == "clear"):
            scores.append(float(row.score))
        elif judged is None:
            undecided += 1
        else:
            confirmed += 1
    return Cleared(scores, confirmed, undecided)


class StationThresholds:
    """Station thresholds of the served model, their versions, proposals and the drift watch.

    Args:
        store: the database.
        metrics: where the drift gauges go.
        file: a station file (``triage calibrate --out``) imported at start and whenever it changes.
        min_scans: cleared scans a proposal needs.
        window: recent verdicts per station the drift watch keeps.
        min_window: verdicts before drift is judged at all.
    """

    def __init__(
        self,
        store: Store,
        metrics: Metrics,
        file: Path | None = None,
        min_scans: int = 300,
        window: int = 500,
        min_window: int = 100,
    ) -> None:
        self.store, self.metrics, self.file = store, metrics, file
        # A window smaller than min_window would never be judged.
        self.min_scans, self.window, self.min_window = min_scans, window, min(min_window, window)
        self._lock = threading.Lock()
        self._current: dict[tuple[str, str, str, str], StationThresholdRow] = {}
        self._recent: dict[tuple[str, str], deque[bool]] = {}
        self._drifting: set[tuple[str, str]] = set()
        self._file_stamp: tuple[int, int] | None = None
        self.reload()

    # --- lookups -------------------------------------------------------------------------------------

    def reload(self) -> None:
        """Refresh the in-memory map of versions in force from the store."""
        with self.store.sessions() as session:
            latest = (
                select(
                    StationThresholdRow.station,
                    StationThresholdRow.kind,
                    StationThresholdRow.model_name,
                    StationThresholdRow.model_version,
                    func.max(StationThresholdRow.version).label("version"),
                )
                .group_by(
                    StationThresholdRow.station,
                    StationThresholdRow.kind,
                    StationThresholdRow.model_name,
                    StationThresholdRow.model_version,
                )
                .subquery()
            )
            rows = session.scalars(
                select(StationThresholdRow).join(
                    latest,
                    (StationThresholdRow.station == latest.c.station)
                    & (StationThresholdRow.kind == latest.c.kind)
                    & (StationThresholdRow.model_name == latest.c.model_name)
                    & (StationThresholdRow.model_version == latest.c.model_version)
                    & (StationThresholdRow.version == latest.c.version),
                )
            ).all()
        with self._lock:
            self._current = {(r.station, r.kind, r.model_name, r.model_version): r for r in rows}

    def in_force(
        self, station: str | None, kind: str | None, model: tuple[str, str]
    ) -> StationThresholdRow | None:
        """The version judging ``station``'s scans of ``kind`` under ``model``: the kind's own, else the
        station's all-kinds one; ``None`` when the model's threshold judges."""
        if station is None:
            return None
        with self._lock:
            for key in (kind_key(kind), ALL_KINDS):
                row = self._current.get((station, key, *model))
                if row is not None and row.threshold is not None:
                    return row
        return None

    def threshold_for(self, station: str | None, kind: str | None, model: tuple[str, str]) -> float | None:
        """The station threshold for a scan, or ``None`` to judge it by the model's."""
        row = self.in_force(station, kind, model)
        return None if row is None else row.threshold

    # --- proposals and versions ----------------------------------------------------------------------

    def propose(
        self, station: str, kind: str | None, model: tuple[str, str], target_fa: float = DEFAULT_TARGET_FA
    ) -> tuple[Proposal, Cleared]:
        """The threshold holding ``target_fa`` on the station's cleared scans under ``model``.

        Raises:
            CalibrationError: too few cleared scans, or a target outside (0, 0.5].
        """
        check_target(target_fa)
        with self.store.sessions() as session:
            found = cleared(session, station, kind, model)
        return propose(found.scores, target_fa, self.min_scans), found

    def apply(
        self,
        station: str,
        kind: str | None,
        model: tuple[str, str],
        proposal: Proposal,
        source: str,
        key_id: uuid.UUID | None,
        note: str | None = None,
    ) -> StationThresholdRow:
        """Put ``proposal`` in force as the next version (committed before the map changes)."""
        row = self._add_version(
            station,
            kind,
            model,
            source=source,
            key_id=key_id,
            note=note,
            threshold=proposal.threshold,
            target_fa=proposal.target_fa,
            false_alarm_rate=proposal.false_alarm_rate,
            fa_low=proposal.false_alarm_interval[0],
            fa_high=proposal.false_alarm_interval[1],
            n=proposal.n,
        )
        logger.info(
            "station threshold applied",
            extra={
                "station": station,
                "kind": kind_key(kind),
                "model": "/".join(model),
                "version": row.version,
                "threshold": row.threshold,
                "source": source,
                "key_id": str(key_id) if key_id else None,
            },
        )
        return row

    def rollback(
        self, station: str, kind: str | None, model: tuple[str, str], key_id: uuid.UUID | None
    ) -> StationThresholdRow:
        """Restore the version before the one in force (the model's own threshold before the first).

        Raises:
            NothingToRollBack: if no version is in force, or the one in force is the model's.
        """
        # Versions form a stack: an applied threshold pushes, a rollback pops; the top is in force.
        stack = applied_stack(self.history(station, kind, model))
        if not stack:
            raise NothingToRollBack(f"station {station!r} ({kind_key(kind)}) has no threshold to roll back")
        stack.pop()
        earlier = stack[-1] if stack else None
        fields: dict[str, Any] = {"threshold": None}
        if earlier is not None:
            fields = {
                name: getattr(earlier, name)
                for name in ("threshold", "target_fa", "false_alarm_rate", "fa_low", "fa_high", "n")
            }
        row = self._add_version(
            station,
            kind,
            model,
            source="rollback",
            key_id=key_id,
            restores=None if earlier is None else earlier.version,
            **fields,
        )
        logger.info(
            "station threshold rolled back",
            extra={
                "station": station,
                "kind": kind_key(kind),
                "version": row.version,
                "threshold": row.threshold,
            },
        )
        return row

    def history(
        self, station: str, kind: str | None, model: tuple[str, str] | None = None
    ) -> list[StationThresholdRow]:
        """Every version of a station's threshold for ``kind`` (and ``model``), newest first."""
        query = select(StationThresholdRow).where(
            StationThresholdRow.station == station, StationThresholdRow.kind == kind_key(kind)
        )
        if model is not None:
            query = query.where(
                StationThresholdRow.model_name == model[0], StationThresholdRow.model_version == model[1]
            )
        with self.store.sessions() as session:
            return list(session.scalars(query.order_by(StationThresholdRow.version.desc())).all())

    def _add_version(
        self, station: str, kind: str | None, model: tuple[str, str], **fields: Any
    ) -> StationThresholdRow:
        with self.store.session() as session:
            last = session.scalar(
                select(func.max(StationThresholdRow.version)).where(
                    StationThresholdRow.station == station,
                    StationThresholdRow.kind == kind_key(kind),
                    StationThresholdRow.model_name == model[0],
                    StationThresholdRow.model_version == model[1],
                )
            )
            row = StationThresholdRow(
                id=uuid.uuid4(),
                station=station,
                kind=kind_key(kind),
                model_name=model[0],
                model_version=model[1],
                version=(last or 0) + 1,
                **fields,
            )
            session.add(row)
        self.reload()
        return row

    # --- station files -------------------------------------------------------------------------------

    def sync_file(self) -> int:
        """Import the station file if it changed since the last look; returns the versions added.

        An entry becomes a new version (source ``file``) unless the same threshold is already in force
        for its station, kind and model, so re-reading an unchanged file adds nothing. A file that
        cannot be read is logged and left for the next look; what is in force stays.
        """
        if self.file is None:
            return 0
        try:
            stat = self.file.stat()
        except FileNotFoundError:
            return 0
        stamp = (stat.st_mtime_ns, stat.st_size)
        if stamp == self._file_stamp:
            return 0
        try:
            entries = read_station_file(self.file)
        except CalibrationError as error:
            logger.error("station file not loaded", extra={"file": str(self.file), "error": str(error)})
            self._file_stamp = stamp
            return 0
        self._file_stamp = stamp
        added = 0
        for entry in entries:
            model = (entry.model_name, entry.model_version)
            with self._lock:
                current = self._current.get((entry.station, kind_key(entry.kind), *model))
            if current is not None and current.threshold == entry.threshold:
                continue
            self.apply(
                entry.station, entry.kind, model, entry.to_proposal(), "file", None, f"from {self.file}"
            )
            added += 1
        return added

    # --- drift ---------------------------------------------------------------------------------------

    def record(
        self, station: str | None, kind: str | None, alarmed: bool, model: tuple[str, str], target: float
    ) -> Drift | None:
        """Count one verdict of ``station`` and update its drift gauges; returns its drift state."""
        if station is None:
            return None
        key = (station, kind_key(kind))
        with self._lock:
            self._recent.setdefault(key, deque(maxlen=self.window)).append(alarmed)
        state = self.live(station, kind, model, target)
        labels = {"station": station, "kind": key[1]}
        self.metrics.station_alarm_rate.labels(**labels).set(state.rate)
        self.metrics.station_target.labels(**labels).set(state.target_fa)
        self.metrics.station_drifting.labels(**labels).set(1 if state.drifting else 0)
        if state.drifting and key not in self._drifting:
            logger.warning(
                "station alarm rate left its expected range",
                extra={
                    **labels,
                    "rate": round(state.rate, 4),
                    "target": state.target_fa,
                    "window": state.n,
                    "expected": [round(v, 4) for v in state.expected],
                },
            )
        (self._drifting.add if state.drifting else self._drifting.discard)(key)
        return state

    def live(self, station: str, kind: str | None, model: tuple[str, str], card_target: float) -> Drift:
        """The drift state of ``station`` now: its recent verdicts against the target of the threshold in
        force (``card_target``, the model's, where the station has none); judged only from
        ``min_window`` verdicts on."""
        row = self.in_force(station, kind, model)
        target = row.target_fa if row is not None and row.target_fa is not None else card_target
        with self._lock:
            recent = list(self._recent.get((station, kind_key(kind)), ()))
        state = drift(sum(recent), len(recent), target)
        return dataclasses.replace(state, drifting=state.drifting and state.n >= self.min_window)

    def seed_recent(self, model: tuple[str, str]) -> None:
        """Fill the drift windows from the store's latest scans of ``model`` (after a restart)."""
        with self.store.sessions() as session:
            rows = session.execute(
                select(Scan.station, Scan.kind, Scan.verdict)
                .where(Scan.station.is_not(None), Scan.model_name == model[0], Scan.model_version == model[1])
                .order_by(Scan.created.desc())
                .limit(self.window * 50)
            ).all()
        with self._lock:
            self._recent.clear()
            for station, kind, verdict in reversed(rows):
                self._recent.setdefault((str(station), kind_key(kind)), deque(maxlen=self.window)).append(
                    verdict == "alarm"
                )


def applied_stack(history: Sequence[StationThresholdRow]) -> list[StationThresholdRow]:
    """The applied versions still in force or restorable, oldest first, from a history (newest first):
    each applied version (a proposal or a file) is pushed, each rollback pops one."""
    stack: list[StationThresholdRow] = []
    for row in reversed(history):
        if row.source == "rollback":
            if stack:
                stack.pop()
        else:
            stack.append(row)
    return stack
