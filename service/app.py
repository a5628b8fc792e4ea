"""The FastAPI application factory: ``create_app(settings)``.

The lifespan opens the store (creating tables), removes what a crash may have left half-done, makes sure an
admin key exists (printing a generated one once), and loads the model. A model that fails to load does
not stop the service: it starts, reports why on ``/readyz`` (503), and can be given a model by promotion.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError, OperationalError
from starlette.requests import ClientDisconnect

from service.auth import bootstrap_admin
from service.drills import DrillError, Drills
from service.inference import Inference, LocalInference
from service.limits import Admission, AdmissionMiddleware, BodyLimitMiddleware
from service.metrics import Metrics
from service.models import ModelManager
from service.observability import (
    REQUEST_ID_HEADER,
    REQUEST_ID_SCOPE_KEY,
    RequestContextMiddleware,
    configure_logging,
)
from service.routers import ROUTERS
from service.settings import Settings
from service.state import AppState
from service.stations import StationThresholds
from service.store.db import Store
from service.store.tables import Scan
from vision.calibration import CalibrationError
from vision.errors import (
    ChannelMismatch,
    ImageDecodeError,
    ImageTooLarge,
    UnsupportedImageType,
    UnsupportedModality,
    VisionError,
)
from vision.io import ImageLimits
from vision.registry import REPO_MODELS_DIR

logger = logging.getLogger("triage")

_STATUS_OF_ERROR: tuple[tuple[type[VisionError], int], ...] = (
    (ImageTooLarge, 413),
    (UnsupportedImageType, 415),
    (ImageDecodeError, 400),
    (CalibrationError, 422),
    (ChannelMismatch, 422),
    (UnsupportedModality, 422),
    (DrillError, 422),
)
# Unreferenced images younger than this are left alone at start-up when the store is shared: another
# process may be between writing one and committing its row (a write takes well under a second).
SHARED_SWEEP_AGE_S = 600.0
# How often the station file (`triage calibrate --out`) is looked at for changes.
STATION_FILE_POLL_S = 5.0

_DESCRIPTION = """Inline triage of X-ray scans for customs.

Post a scan to `POST /v1/scans` with `Authorization: Bearer <key>` and get the verdict (`clear` or `alarm`),
score, threshold and boxes in the answer. Keys come from `triage keys create --scope scan`.
"""


def open_state(settings: Settings, metrics: Metrics, inference: Inference | None = None) -> AppState:
    """Open the store and image folder, tidy after a crash, bootstrap the admin key, and load the model;
    scans are judged by ``inference`` (default: in this process)."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    store = Store(settings.resolved_database_url, settings.sqlite_synchronous)
    store.create_tables()
    images = settings.open_images()
    with store.sessions() as session:
        referenced = {p for row in session.execute(select(Scan.image_path, Scan.low_path)) for p in row if p}
    # A shared store (PostgreSQL, an object store) may have other API processes writing now: sweep only
    # what is old.
    alone = store.is_sqlite and not settings.images_url
    parts, orphans = images.sweep(referenced, 0.0 if alone else SHARED_SWEEP_AGE_S)
    if parts or orphans:
        logger.warning(
            "removed leftovers of an interrupted write", extra={"partial": parts, "unreferenced": orphans}
        )
    admin_key = settings.admin_key.get_secret_value() if settings.admin_key else None
    try:
        with store.session() as session:
            generated = bootstrap_admin(session, admin_key)
    except IntegrityError:
        # Another API process on the same store bootstrapped the same key a moment before: it is there.
        with store.session() as session:
            generated = bootstrap_admin(session, admin_key)
    if generated:
        # Printed once, on purpose outside the logs, which may be shipped elsewhere.
        print(
            f"\nNo API keys were stored, so an admin key was made. It is shown ONCE; keep it safe:\n\n"
            f"    {generated}\n\nCreate narrower keys with `triage keys create --scope scan`.\n",
            file=sys.stdout,
            flush=True,
        )
    models_root = settings.models_root
    if models_root is None:
        models_root = settings.model_dir.parent.parent if settings.model_dir else None
    manager = ModelManager(
        models_root or REPO_MODELS_DIR, threads=settings.inference_threads, int8=settings.int8
    )
    manager.start(settings.model_dir)
    if manager.current is not None:
        metrics.set_serving(manager.current.name, manager.current.version)
    stations = StationThresholds(
        store,
        metrics,
        file=settings.resolved_station_file,
        min_scans=settings.station_min_scans,
        window=settings.station_drift_window,
    )
    stations.sync_file()
    drills = Drills(store, settings.drill_library)
    drills.load()
    if manager.current is not None:
        stations.seed_recent((manager.current.name, manager.current.version))
    return AppState(
        settings=settings,
        store=store,
        images=images,
        models=manager,
        admission=Admission(settings.max_in_flight, settings.retry_after_s, metrics),
        metrics=metrics,
        inference=inference or LocalInference(anyio.CapacityLimiter(settings.inference_concurrency)),
        image_limits=ImageLimits(max_bytes=settings.max_image_bytes, max_pixels=settings.max_image_pixels),
        stations=stations,
        drills=drills,
    )


async def _watch_settings(state: AppState) -> None:
    """Import the station file whenever it changes, and re-read the drill settings (another process on
    a shared store may have changed them), until the app stops."""
    while True:
        await anyio.sleep(STATION_FILE_POLL_S)
        try:
            await anyio.to_thread.run_sync(state.stations.sync_file)
        except Exception:  # a bad look must not end the watch; the next one retries
            logger.exception("station file import failed")
        try:
            await anyio.to_thread.run_sync(state.drills.load)
        except Exception:
            logger.exception("drill settings could not be read")


def create_app(settings: Settings | None = None, inference: Inference | None = None) -> FastAPI:
    """Build the service.

    Args:
        settings: the configuration; default read from the environment (``TRIAGE_*``).
        inference: where scans are judged; default in this process (``service.scale`` passes replicas).

    Returns:
        The FastAPI application; its lifespan opens the store and loads the model.
    """
    settings = settings or Settings()
    configure_logging(settings.log_level)
    metrics = Metrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        state = await anyio.to_thread.run_sync(open_state, settings, metrics, inference)
        app.state.triage = state
        logger.info("service started", extra={"data_dir": str(settings.data_dir)})
        watcher = asyncio.create_task(_watch_settings(state))
        try:
            yield
        finally:
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher
            state.store.close()

    app = FastAPI(
        title="X-ray triage",
        version="1",
        description=_DESCRIPTION,
        lifespan=lifespan,
        openapi_tags=[
            {"name": "scans", "description": "Post scans, read verdicts and overlays, record feedback."},
            {"name": "models", "description": "The model registry and hot swap."},
            {"name": "stations", "description": "Site calibration: station thresholds and drift."},
            {"name": "drills", "description": "Operator drills: threats projected into real scans, reports."},
            {"name": "operations", "description": "Health, readiness and metrics."},
        ],
    )
    for router in ROUTERS:
        app.include_router(router)
    _add_error_handlers(app)
    _document_body_errors(app)
    # Outermost first: the request id wraps everything, including a 413 from the body limit.
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_request_bytes)
    app.add_middleware(AdmissionMiddleware)  # before the body limit: a refused scan's body is never read
    app.add_middleware(RequestContextMiddleware, metrics=metrics)
    return app


# Answers any operation with a request body may give, whatever its handler: the body limit middleware's
# 413 and the framework's 400 for a body that does not parse (as JSON or multipart).
_BODY_ERRORS = {
    "400": "the body does not parse (malformed JSON or multipart)",
    "413": "the request body is over the service's size limit",
}


def _document_body_errors(app: FastAPI) -> None:
    """Add the body errors to every operation with a request body in the OpenAPI schema."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        schema = generate()  # cached by FastAPI after the first call; the additions are idempotent
        for operations in schema.get("paths", {}).values():
            for operation in operations.values():
                if not isinstance(operation, dict) or "requestBody" not in operation:
                    continue
                for code, description in _BODY_ERRORS.items():
                    operation["responses"].setdefault(
                        code,
                        {
                            "description": description,
                            "content": {
                                "application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}
                            },
                        },
                    )
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def _add_error_handlers(app: FastAPI) -> None:
    async def vision_error(_request: Request, error: Exception) -> JSONResponse:
        code = next((c for cls, c in _STATUS_OF_ERROR if isinstance(error, cls)), 400)
        return JSONResponse({"detail": str(error) or type(error).__name__}, status_code=code)

    async def unexpected_error(request: Request, error: Exception) -> JSONResponse:
        request_id = request.scope.get(REQUEST_ID_SCOPE_KEY, "unknown")
        logger.error("unhandled error", exc_info=error, extra={"request_id": request_id})
        return JSONResponse(
            {"detail": f"internal error; see the server log for request {request_id}"},
            status_code=500,
            headers={REQUEST_ID_HEADER: request_id},
        )

    async def client_gone(_request: Request, _error: Exception) -> JSONResponse:
        # The client hung up mid-upload: nothing was stored and nobody reads this answer.
        return JSONResponse({"detail": "client disconnected before the upload was complete"}, status_code=400)

    async def store_unavailable(_request: Request, error: Exception) -> JSONResponse:
        logger.error("store unavailable", exc_info=error)
        return JSONResponse(
            {"detail": "the store is unavailable (locked, full or read-only); nothing was stored"},
            status_code=503,
            headers={"Retry-After": "5"},
        )

    app.add_exception_handler(VisionError, vision_error)
    app.add_exception_handler(OperationalError, store_unavailable)
    app.add_exception_handler(ClientDisconnect, client_gone)
    app.add_exception_handler(Exception, unexpected_error)
