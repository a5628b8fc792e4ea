"""The operator console: its page and static files, and the few reads it needs beyond the JSON API.

The console is plain HTML/CSS/JS in ``service/console/`` (no build step, nothing fetched from elsewhere).
The page itself holds no data and needs no key; everything it shows comes from the authenticated API.
Added here for the console:

- ``GET /v1/me``: the caller's key name and scopes (which pages and buttons to show).
- ``GET /v1/scans/stream``: server-sent events, one ``scan`` event per newly stored scan (``scan`` or
  ``feedback`` scope; not in the OpenAPI document). Stored scans are polled every 0.5 s, so it works
  whichever process stored them. It must be mounted before the scans router, whose
  ``/v1/scans/{scan_id}`` would otherwise take ``stream`` as an id.
- ``GET /v1/scans/{id}/image``: the scan as the model saw it, as PNG (TIFF, DICOM and raw dual-energy
  uploads are not something a browser can show).
- ``GET /v1/scans/{id}/heatmap.png``: the model's heat map as a transparent colour layer, so the console
  can switch it on and off over the image without another render of the scan.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import pathlib
import time
import uuid
from collections.abc import AsyncIterator
from typing import Annotated

import anyio
import cv2
from fastapi import APIRouter, HTTPException, Query, Request, Response, status
from fastapi.responses import FileResponse, StreamingResponse
from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.orm import undefer

from service.deps import AnyKey, ReaderKey, StateDep
from service.routers.scans import scan_records
from service.scanning import shown_rgb
from service.schemas import ScanRecord, error_responses
from service.state import AppState
from service.store.tables import Scan
from vision.overlay import decode_heatmap, heat_layer_png

CONSOLE_DIR = pathlib.Path(__file__).resolve().parent.parent / "console"
_MEDIA_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".json": "application/json",
    ".svg": "image/svg+xml",
    ".png": "image/png",
}
# The page must not run anything from elsewhere; images are blob: URLs made from authenticated fetches.
_CSP = (
    "default-src 'self'; img-src 'self' blob: data:; style-src 'self'; script-src 'self'; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
)
_STATIC_HEADERS = {"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"}
STREAM_POLL_S = 0.5
# A stream ends by itself after this long and the console reconnects where it left off: uvicorn waits for
# open responses on shutdown and gives a streaming one no signal, so a stream's lifetime is how long a
# restart waits while a console is open (measured: 18.9 s at 20 s; reconnecting costs one key lookup).
STREAM_LIFETIME_S = 5.0
STREAM_KEEPALIVE_S = 15.0
# Scans are committed in parallel, so one may commit a little after a later-created one was streamed;
# each poll looks back this far and skips the ids it already sent.
_STREAM_LOOKBACK = dt.timedelta(seconds=10)
_DISPLAY_MAX_SIDE = 2048

router = APIRouter(tags=["console"])


@router.get("/", include_in_schema=False)
def console_page() -> FileResponse:
    """The console's single page."""
    headers = {**_STATIC_HEADERS, "Content-Security-Policy": _CSP, "Referrer-Policy": "no-referrer"}
    return FileResponse(CONSOLE_DIR / "index.html", media_type=_MEDIA_TYPES[".html"], headers=headers)


@router.get("/favicon.ico", include_in_schema=False)
def favicon() -> FileResponse:
    """The console's icon, for browsers that ask at the conventional place (an SVG serves as well)."""
    return FileResponse(CONSOLE_DIR / "favicon.svg", media_type=_MEDIA_TYPES[".svg"], headers=_STATIC_HEADERS)


@router.get("/console/{name}", include_in_schema=False)
def console_file(name: str) -> FileResponse:
    """A static file of the console (only plain names in the console folder: no paths, no dot files)."""
    path = CONSOLE_DIR / name
    suffix = path.suffix.lower()
    if "/" in name or name.startswith(".") or suffix not in _MEDIA_TYPES or not path.is_file():
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no console file {name!r}")
    return FileResponse(path, media_type=_MEDIA_TYPES[suffix], headers=_STATIC_HEADERS)


class Me(BaseModel):
    """The caller's key."""

    key_id: uuid.UUID
    name: str
    scopes: list[str]


@router.get("/v1/me", response_model=Me, responses=error_responses(401), summary="Who am I")
def who_am_i(principal: AnyKey) -> Me:
    """The name and scopes of the key in the request (``admin`` holds every scope)."""
    return Me(key_id=principal.key_id, name=principal.name, scopes=sorted(principal.scopes))


def _new_scans(state: AppState, since: dt.datetime, sent: set[uuid.UUID]) -> list[ScanRecord]:
    # Ids first (index only), then whole rows for the ones not sent yet: each poll re-reads the look-back
    # window, and at a busy lane that is many rows.
    recent = select(Scan.id).where(Scan.created >= since - _STREAM_LOOKBACK)
    with state.store.sessions() as session:
        new_ids = [scan_id for scan_id in session.scalars(recent) if scan_id not in sent]
        if not new_ids:
            return []
        rows = select(Scan).where(Scan.id.in_(new_ids)).order_by(Scan.created, Scan.id)
        return scan_records(session, list(session.scalars(rows)))


async def _scan_events(request: Request, state: AppState, since: dt.datetime) -> AsyncIterator[str]:
    sent: dict[uuid.UUID, dt.datetime] = {}
    newest = since
    started = last_write = time.monotonic()
    yield f"retry: 1000\nevent: hello\ndata: {json.dumps({'since': since.isoformat()})}\n\n"
    while time.monotonic() - started < STREAM_LIFETIME_S:
        if await request.is_disconnected():
            return
        rows = await anyio.to_thread.run_sync(_new_scans, state, newest, set(sent))
        for row in rows:
            if row.created < since:
                continue
            sent[row.id] = row.created
            newest = max(newest, row.created)
            body = row.model_dump_json()
            # The event id is the time to resume from after a reconnect.
            yield f"id: {row.created.isoformat()}\nevent: scan\ndata: {body}\n\n"
            last_write = time.monotonic()
        # Forget ids that fell out of the look-back window.
        horizon = newest - _STREAM_LOOKBACK
        for scan_id in [k for k, created in sent.items() if created < horizon]:
            del sent[scan_id]
        if time.monotonic() - last_write > STREAM_KEEPALIVE_S:
            yield ": keep-alive\n\n"
            last_write = time.monotonic()
        await asyncio.sleep(STREAM_POLL_S)
    yield "event: bye\ndata: {}\n\n"


# Left out of the OpenAPI document: a long-lived event stream is not a request/response operation, and
# schema-driven clients and fuzzers would each hold it open for its whole lifetime.
@router.get("/v1/scans/stream", response_class=StreamingResponse, include_in_schema=False)
async def scan_stream(
    request: Request,
    state: StateDep,
    _key: ReaderKey,
    since: Annotated[
        dt.datetime | None, Query(description="send scans stored at or after this time (default: now)")
    ] = None,
) -> StreamingResponse:
    """Server-sent events: ``event: scan`` with a scan record (as ``GET /v1/scans/{id}``) per new scan.

    The stream closes itself after a short while (``event: bye``); reconnect with ``since`` set to the last
    event's ``id`` (or send ``Last-Event-ID``) to carry on without a gap.
    """
    resume = request.headers.get("last-event-id")
    if since is None and resume:
        try:
            since = dt.datetime.fromisoformat(resume)
        except ValueError:
            raise HTTPException(
                status.HTTP_422_UNPROCESSABLE_CONTENT, detail="Last-Event-ID is not a time"
            ) from None
    if since is None:
        since = dt.datetime.now(dt.UTC)
    elif since.tzinfo is None:
        since = since.replace(tzinfo=dt.UTC)
    return StreamingResponse(
        _scan_events(request, state, since),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


def _load_scan(state: AppState, scan_id: uuid.UUID, heatmap: bool = False) -> Scan:
    query = select(Scan).where(Scan.id == scan_id)
    if heatmap:
        query = query.options(undefer(Scan.heatmap_png))
    with state.store.sessions() as session:
        row = session.scalars(query).first()
    if row is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no scan {scan_id}")
    return row


def _scan_png(state: AppState, row: Scan) -> bytes:
    rgb = shown_rgb(state, row)
    height, width = rgb.shape[:2]
    scale = min(1.0, _DISPLAY_MAX_SIDE / max(height, width))
    if scale < 1.0:
        size = (max(1, round(width * scale)), max(1, round(height * scale)))
        rgb = cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)
    ok, png = cv2.imencode(".png", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_PNG_COMPRESSION, 1])
    if not ok:
        raise ValueError("could not encode the scan")
    return png.tobytes()


_IMAGE_HEADERS = {"Cache-Control": "private, max-age=86400"}


@router.get(
    "/v1/scans/{scan_id}/image",
    tags=["scans"],
    response_class=Response,
    responses={
        200: {"content": {"image/png": {}}, "description": "the scan as the model saw it"},
        **error_responses(401, 403, 404, 422),
    },
    summary="The scan image (PNG)",
)
async def scan_image(scan_id: uuid.UUID, state: StateDep, _key: ReaderKey) -> Response:
    """The stored scan decoded as the model saw it (false colour), as PNG, longest side at most 2048."""
    row = await anyio.to_thread.run_sync(_load_scan, state, scan_id)
    png = await anyio.to_thread.run_sync(_scan_png, state, row)
    return Response(png, media_type="image/png", headers=_IMAGE_HEADERS)


@router.get(
    "/v1/scans/{scan_id}/heatmap.png",
    tags=["scans"],
    response_class=Response,
    responses={
        200: {"content": {"image/png": {}}, "description": "transparent heat-map layer"},
        **error_responses(401, 403, 404, 422),
    },
    summary="The heat map as a transparent layer (PNG)",
)
async def scan_heatmap(scan_id: uuid.UUID, state: StateDep, _key: ReaderKey) -> Response:
    """The model's heat map as an RGBA PNG to lay over ``/image`` (stretched to the same box)."""
    row = await anyio.to_thread.run_sync(_load_scan, state, scan_id, True)
    png = await anyio.to_thread.run_sync(heat_layer_png, decode_heatmap(row.heatmap_png))
    return Response(png, media_type="image/png", headers=_IMAGE_HEADERS)
