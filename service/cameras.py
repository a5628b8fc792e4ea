"""Camera screening inside the service: one ``Screener`` per camera, events stored, an optional webhook.

Cameras come from the camera config file (``TRIAGE_CAMERAS_FILE``, strict YAML/JSON, see
``vision.motion.config``) and from ``PUT /v1/cameras/{id}``, which is stored and wins over the file.
Frames of one camera are screened one at a time under that camera's lock, in arrival order; different
cameras run in parallel. An event is written when it starts (so the ``event_id`` in a frame's answer can
be looked up at once), its record is brought up to date as it grows (at most once a second), and it is
completed with its snapshot when it ends; then the webhook, if set, is posted in the background, where a
failure is logged and never reaches the camera.

An event ends when the camera's frames show no movement for its cool-down, and also on wall-clock
silence: a camera that sends no frame at all for its cool-down (it went offline, or its source ended) has
its event closed by the hub's timer, so nothing stays "going on now" waiting for a frame that never comes.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
import uuid
import weakref
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Literal

import httpx
from prometheus_client import CollectorRegistry, Counter, Histogram
from sqlalchemy import select, update

from service.settings import Settings
from service.store.base import utc_now
from service.store.camera import CameraRow, MotionEventRow
from service.store.db import Store
from vision.motion.config import CameraConfig, check_camera_id, load_cameras_file
from vision.motion.frames import FrameLimits
from vision.motion.screener import FrameResult, MotionEvent, Screener

logger = logging.getLogger("triage.cameras")

CameraSource = Literal["file", "api"]


class UnknownCamera(KeyError):
    """No camera with this id is configured (HTTP 404)."""


# How often the timer looks for cameras gone silent, and how often an open event's record is rewritten.
SILENCE_CHECK_S = 0.25
OPEN_EVENT_WRITE_S = 1.0


@dataclass
class _Camera:
    config: CameraConfig
    source: CameraSource
    screener: Screener
    lock: threading.Lock = field(default_factory=threading.Lock)
    # time.monotonic() of the last frame screened, and of the last write of the open event's record.
    last_frame: float = 0.0
    written: float = 0.0


def _time(timestamp: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(timestamp, tz=dt.UTC)


class CameraMetrics:
    """Counters of camera screening, registered in the service's own registry (once per registry)."""

    @classmethod
    def of(cls, registry: CollectorRegistry) -> CameraMetrics:
        """The camera metrics of ``registry``; an app's lifespan may run more than once (tests, reloads)."""
        if registry not in _METRICS_BY_REGISTRY:
            _METRICS_BY_REGISTRY[registry] = cls(registry)
        return _METRICS_BY_REGISTRY[registry]

    def __init__(self, registry: CollectorRegistry) -> None:
        self.frames = Counter(
            "triage_camera_frames", "Frames screened, by camera and outcome.", ["camera", "outcome"],
            registry=registry,
        )  # fmt: skip
        self.events = Counter("triage_camera_events", "Movement events finished, by camera.", ["camera"],
                              registry=registry)  # fmt: skip
        self.screening = Histogram(
            "triage_camera_screening_seconds", "Server time to decode and screen one frame.",
            buckets=(0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 1.0), registry=registry,
        )  # fmt: skip
        self.webhook_failures = Counter(
            "triage_event_webhook_failures",
            "Webhook posts that failed (logged, not retried).",
            registry=registry,
        )


_METRICS_BY_REGISTRY: weakref.WeakKeyDictionary[CollectorRegistry, CameraMetrics] = (
    weakref.WeakKeyDictionary()
)


class CameraHub:
    """All cameras of the service and their screeners.

    Args:
        store: the service's database.
        settings: camera settings.
        limits: byte and pixel limits of a posted frame.
        registry: Prometheus registry for the camera metrics.
    """

    def __init__(
        self, store: Store, settings: Settings, limits: FrameLimits, registry: CollectorRegistry
    ) -> None:
        self.store = store
        self.settings = settings
        self.limits = limits
        self.metrics = CameraMetrics.of(registry)
        self._cameras: dict[str, _Camera] = {}
        self._lock = threading.Lock()
        self._webhook_pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="event-webhook")
        self._webhook = (
            httpx.Client(timeout=settings.event_webhook_timeout_s) if settings.event_webhook_url else None
        )
        self._stop = threading.Event()
        self._timer: threading.Thread | None = None

    # ---- configuration ------------------------------------------------------------------------------------

    def load(self) -> None:
        """Load the cameras of the config file, then those stored through the API (which win).

        Raises:
            CameraConfigError: the config file is unreadable or invalid (the service does not start).
        """
        if self.settings.cameras_file is not None:
            for camera_id, config in load_cameras_file(self.settings.cameras_file).items():
                self._cameras[camera_id] = _Camera(config, "file", Screener(camera_id, config))
        with self.store.session() as session:
            rows = session.scalars(select(CameraRow)).all()
            # Events left open by a crash will never get their end from a screener: close them as they are.
            session.execute(update(MotionEventRow).where(MotionEventRow.open.is_(True)).values(open=False))
        for row in rows:
            try:
                config = CameraConfig.model_validate(row.config)
            except ValueError as error:
                # A row written by an older version whose settings no longer validate: keep serving the
                # others and say which camera needs a new PUT.
                logger.error("stored camera config is invalid; camera skipped", extra={"camera": row.id,
                             "error": str(error)})  # fmt: skip
                continue
            self._cameras[row.id] = _Camera(config, "api", Screener(row.id, config))
        self._timer = threading.Thread(target=self._watch_silence, name="camera-silence", daemon=True)
        self._timer.start()

    def put(self, camera_id: str, config: CameraConfig) -> bool:
        """Create or replace a camera's settings (stored); returns True when it was created.

        Replacing settings restarts the camera's screening; an event in progress is closed first.
        """
        check_camera_id(camera_id)
        with self.store.session() as session:
            row = session.get(CameraRow, camera_id)
            if row is None:
                session.add(CameraRow(id=camera_id, config=config.model_dump(mode="json")))
            else:
                row.config = config.model_dump(mode="json")
                row.updated = utc_now()
        with self._lock:
            previous = self._cameras.get(camera_id)
            self._cameras[camera_id] = _Camera(config, "api", Screener(camera_id, config))
        if previous is not None:
            with previous.lock:
                self._finish(previous.screener.flush())
        return previous is None

    def delete(self, camera_id: str) -> None:
        """Remove a camera configured through the API (file cameras are changed in the file).

        Raises:
            UnknownCamera: no such camera.
            ValueError: the camera comes from the config file.
        """
        with self._lock:
            camera = self._cameras.get(camera_id)
            if camera is None:
                raise UnknownCamera(camera_id)
            if camera.source == "file":
                raise ValueError(f"camera {camera_id!r} comes from the config file; change it there")
            del self._cameras[camera_id]
        with self.store.session() as session:
            row = session.get(CameraRow, camera_id)
            if row is not None:
                session.delete(row)
        with camera.lock:
            self._finish(camera.screener.flush())

    def cameras(self) -> list[tuple[str, CameraConfig, CameraSource]]:
        """Every camera's id, settings and where they come from, by id."""
        with self._lock:
            return sorted((cid, cam.config, cam.source) for cid, cam in self._cameras.items())

    def camera(self, camera_id: str) -> tuple[CameraConfig, CameraSource]:
        """One camera's settings and source.

        Raises:
            UnknownCamera: no such camera.
        """
        camera = self._get(camera_id)
        return camera.config, camera.source

    def _get(self, camera_id: str) -> _Camera:
        with self._lock:
            camera = self._cameras.get(camera_id)
        if camera is None:
            raise UnknownCamera(camera_id)
        return camera

    def exists(self, camera_id: str) -> bool:
        """Whether ``camera_id`` is configured."""
        with self._lock:
            return camera_id in self._cameras

    # ---- screening ----------------------------------------------------------------------------------------

    def screen(self, camera_id: str, data: bytes, timestamp: float | None = None) -> FrameResult:
        """Screen one encoded frame of ``camera_id`` (blocking; run it in a worker thread).

        Args:
            camera_id: the camera.
            data: JPEG or PNG bytes.
            timestamp: capture time in seconds since the epoch; arrival time when None.

        Raises:
            UnknownCamera: no such camera.
            ImageDecodeError, UnsupportedImageType, ImageTooLarge: a bad frame; the camera's background and
                events are untouched.
        """
        camera = self._get(camera_id)
        began = time.perf_counter()
        with camera.lock:
            try:
                result = camera.screener.process_encoded(data, timestamp, self.limits)
            except Exception:
                self.metrics.frames.labels(camera_id, "refused").inc()
                raise
            camera.last_frame = time.monotonic()
            for event in result.ended:
                self._finish(event)
            if result.started is not None:
                self._open(result.started)
                camera.written = camera.last_frame
            elif result.event_id is not None and camera.last_frame - camera.written >= OPEN_EVENT_WRITE_S:
                self._write_open(camera.screener.event_in_progress)
                camera.written = camera.last_frame
        self.metrics.screening.observe(time.perf_counter() - began)
        self.metrics.frames.labels(camera_id, "motion" if result.motion else "quiet").inc()
        return result

    def end_event(self, camera_id: str) -> MotionEvent | None:
        """Close the camera's event in progress now (its source ended); returns it, or None if none was open.

        Raises:
            UnknownCamera: no such camera.
        """
        camera = self._get(camera_id)
        with camera.lock:
            event = camera.screener.flush()
            self._finish(event)
        return event

    def close_silent(self, now: float | None = None) -> int:
        """Close the events of cameras that sent no frame for their cool-down (wall clock, monotonic
        ``now``); returns how many were closed."""
        now = time.monotonic() if now is None else now
        with self._lock:
            cameras = list(self._cameras.values())
        closed = 0
        for camera in cameras:
            if camera.screener.event_in_progress is None:
                continue
            with camera.lock:  # checked again: a frame may have arrived meanwhile
                if (
                    camera.screener.event_in_progress is None
                    or now - camera.last_frame < camera.config.cooldown_s
                ):
                    continue
                self._finish(camera.screener.flush())
                closed += 1
        return closed

    def _watch_silence(self) -> None:
        while not self._stop.wait(SILENCE_CHECK_S):
            try:
                self.close_silent()
            except Exception:  # a store hiccup must not end the timer; the next round tries again
                logger.exception("closing silent cameras' events failed")

    def close(self) -> None:
        """Close every event in progress (service shutdown) and stop the timer and the webhook workers."""
        self._stop.set()
        if self._timer is not None:
            self._timer.join()
        with self._lock:
            cameras = list(self._cameras.values())
        for camera in cameras:
            with camera.lock:
                self._finish(camera.screener.flush())
        self._webhook_pool.shutdown(wait=True)
        if self._webhook is not None:
            self._webhook.close()

    # ---- events -------------------------------------------------------------------------------------------

    def _open(self, event: MotionEvent) -> None:
        with self.store.session() as session:
            session.add(
                MotionEventRow(
                    id=uuid.UUID(event.id), camera=event.camera, start=_time(event.start),
                    end=_time(event.end), open=True, zone=event.zone, zones=list(event.zones),
                    boxes=[list(b) for b in event.boxes], peak_score=event.peak_score, frames=event.frames,
                )
            )  # fmt: skip

    def _write_open(self, event: MotionEvent | None) -> None:
        """Bring the record of an event in progress up to date (it stays open, without its snapshot)."""
        if event is None:
            return
        with self.store.session() as session:
            row = session.get(MotionEventRow, uuid.UUID(event.id))
            if row is not None and row.open:
                _copy_event(event, row)

    def _finish(self, event: MotionEvent | None) -> None:
        if event is None:
            return
        with self.store.session() as session:
            row = session.get(MotionEventRow, uuid.UUID(event.id))
            if row is None:  # started before a restart of this hub: write it whole
                row = MotionEventRow(id=uuid.UUID(event.id), camera=event.camera, start=_time(event.start))
                session.add(row)
            _copy_event(event, row)
            row.open = False
            row.snapshot_jpeg = event.snapshot
        self.metrics.events.labels(event.camera).inc()
        if self._webhook is not None:
            self._webhook_pool.submit(self._post_webhook, event_payload(event))

    def _post_webhook(self, payload: dict[str, Any]) -> None:
        assert self._webhook is not None and self.settings.event_webhook_url is not None
        try:
            response = self._webhook.post(self.settings.event_webhook_url, json=payload)
            response.raise_for_status()
        except httpx.HTTPError as error:
            self.metrics.webhook_failures.inc()
            logger.warning("event webhook failed", extra={"event_id": payload["id"], "error": str(error)})


def _copy_event(event: MotionEvent, row: MotionEventRow) -> None:
    row.end = _time(event.end)
    row.zone = event.zone
    row.zones = list(event.zones)
    row.boxes = [list(b) for b in event.boxes]
    row.peak_score = event.peak_score
    row.frames = event.frames


def event_payload(event: MotionEvent) -> dict[str, Any]:
    """The JSON body of the webhook for a finished event (the snapshot is fetched by its URL)."""
    return {
        "id": str(uuid.UUID(event.id)),
        "camera": event.camera,
        "start": _time(event.start).isoformat(),
        "end": _time(event.end).isoformat(),
        "zone": event.zone,
        "zones": list(event.zones),
        "boxes": [list(b) for b in event.boxes],
        "peak_score": round(event.peak_score, 5),
        "frames": event.frames,
        "snapshot_url": f"/v1/events/{uuid.UUID(event.id)}/snapshot.jpg" if event.snapshot else None,
    }
