"""``/v1/scans``: every scan resource in one router.

Post a scan and get the verdict inline (the pipeline itself is :func:`service.scanning.run_scan`), read
scans back (one, a page, or a live stream of server-sent events), the image as PNG, the heat map as a
transparent layer or an overlay, and operator feedback (which also reveals an operator drill).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import datetime as dt
import json
import time
import uuid
from collections.abc import AsyncIterator
from typing import Annotated, Any

import anyio
from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response, status
from fastapi.responses import StreamingResponse
from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session, selectinload, undefer
from starlette.datastructures import FormData, UploadFile

from service.deps import FeedbackKey, PredictorDep, ReaderKey, ScanKey, StateDep, get_served
from service.drills import size_band, undecided_drill
from service.scanning import (
    Upload,
    judge_original,
    reveal_drill,
    run_scan,
    shown_png,
    shown_rgb,
)
from service.schemas import (
    KINDS,
    DetectionOut,
    DrillReveal,
    FeedbackIn,
    FeedbackOut,
    ModelRef,
    OperatorBox,
    ScanPage,
    ScanRecord,
    ScanResult,
    Verdict,
    error_responses,
)
from service.state import AppState
from service.stations import card_false_alarm_rate
from service.store.base import utc_now
from service.store.drills import Drill
from service.store.tables import Feedback, Scan
from vision.overlay import decode_heatmap, heat_layer_png, render_overlay

router = APIRouter(prefix="/v1/scans", tags=["scans"])

_FILE_FIELDS = ("file", "high", "low")
_TEXT_FIELDS = ("kind", "station")
_MAX_STATION_CHARS = 120


_SCAN_FORM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "file": {
            "type": "string",
            "format": "binary",
            "description": "PNG, JPEG, TIFF (8/16-bit) or DICOM/DICOS image; or send `high` and `low`.",
        },
        "high": {
            "type": "string",
            "format": "binary",
            "description": "raw high-energy channel (16-bit grey)",
        },
        "low": {"type": "string", "format": "binary", "description": "raw low-energy channel (16-bit grey)"},
        "kind": {
            "type": "string",
            "enum": list(KINDS),
            "description": "scene kind; the scan is judged by the model's threshold for it where it has one",
        },
        "station": {"type": "string", "maxLength": _MAX_STATION_CHARS, "examples": ["lane-3"]},
    },
    "additionalProperties": False,
}


async def _read_form(request: Request) -> FormData:
    """Parse the multipart body (415 for any other type; 400 for a broken one)."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != "multipart/form-data":
        raise HTTPException(
            status.HTTP_415_UNSUPPORTED_MEDIA_TYPE,
            detail="send the image as multipart/form-data with a `file` part (or `high` and `low`)",
        )
    return await request.form(
        max_files=len(_FILE_FIELDS), max_fields=len(_TEXT_FIELDS) + 2, max_part_size=4096
    )


async def _parse_scan_form(form: FormData) -> tuple[dict[str, Upload], str | None, str | None]:
    """Uploads, kind and station from the form, strictly (422 for anything unexpected)."""
    unknown = sorted(set(form.keys()) - set(_FILE_FIELDS) - set(_TEXT_FIELDS))
    if unknown:
        raise _unprocessable(f"unknown form field(s): {', '.join(unknown)}")
    uploads: dict[str, Upload] = {}
    for field in _FILE_FIELDS:
        values = form.getlist(field)
        if len(values) > 1:
            raise _unprocessable(f"form field {field!r} given more than once")
        if not values:
            continue
        part = values[0]
        if not isinstance(part, UploadFile):
            raise _unprocessable(f"form field {field!r} must be a file part")
        uploads[field] = Upload(field, await part.read(), part.content_type)
    if "file" in uploads and ("high" in uploads or "low" in uploads):
        raise _unprocessable("send either `file` or `high` + `low`, not both")
    if "file" not in uploads and not ("high" in uploads and "low" in uploads):
        raise _unprocessable("missing image: send a `file` part, or both `high` and `low`")
    kind = _text_field(form, "kind")
    if kind is not None and kind not in KINDS:
        raise _unprocessable(f"kind must be one of {', '.join(KINDS)}")
    station = _text_field(form, "station")
    if station is not None and (len(station) > _MAX_STATION_CHARS or not station.isprintable()):
        raise _unprocessable(f"station must be printable text of at most {_MAX_STATION_CHARS} characters")
    return uploads, kind, station


def _text_field(form: FormData, name: str) -> str | None:
    values = form.getlist(name)
    if len(values) > 1:
        raise _unprocessable(f"form field {name!r} given more than once")
    if not values:
        return None
    if not isinstance(values[0], str):
        raise _unprocessable(f"form field {name!r} must be text, not a file")
    return values[0] or None


def _unprocessable(detail: str) -> HTTPException:
    return HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail=detail)


def _result(row: Scan) -> dict[str, Any]:
    return {
        "id": row.id,
        "verdict": row.verdict,
        "score": row.score,
        "threshold": row.threshold,
        "threshold_source": row.threshold_source or "model",
        "modality": row.modality,
        "model": ModelRef(name=row.model_name, version=row.model_version),
        "detections": [DetectionOut(**d) for d in row.detections],
        "latency_ms": row.latency_ms,
    }


def _record(
    row: Scan,
    feedback: list[Feedback] | None = None,
    drill: Drill | None = None,
    shown_sha: str | None = None,
) -> ScanRecord:
    """The scan as its operator sees it: ``shown_sha`` is the image shown while a drill is undecided;
    ``drill`` (decided) is attached to the feedback that revealed it."""
    return ScanRecord(
        **_result(row),
        created=row.created,
        station=row.station,
        kind=row.kind,
        format=row.format,
        width=row.width,
        height=row.height,
        image_sha256=shown_sha or row.image_sha256,
        feedback=[_feedback_out(f, drill) for f in feedback or []],
    )


def scan_records(session: Session, rows: list[Scan]) -> list[ScanRecord]:
    """Listed scans as their operators see them (the shown image's hash where a drill is undecided)."""
    undecided = select(Drill.scan_id, Drill.patch_sha256).where(
        Drill.scan_id.in_([r.id for r in rows]), Drill.decided.is_(None)
    )
    shown = {scan_id: sha for scan_id, sha in session.execute(undecided)} if rows else {}
    return [_record(row, shown_sha=shown.get(row.id)) for row in rows]


def drill_reveal(drill: Drill) -> DrillReveal:
    """What the operator is told of a drill once they decided on it."""
    return DrillReveal(
        id=drill.id,
        label=drill.label,
        box=tuple(drill.box),  # type: ignore[arg-type]
        outline=[[(int(x), int(y)) for x, y in polygon] for polygon in drill.outline],
        size=size_band(drill.area_share),  # type: ignore[arg-type]
        outcome=drill.outcome,  # type: ignore[arg-type]
        decision_s=drill.decision_s,
        shown_verdict=drill.shown_verdict,  # type: ignore[arg-type]
    )


def _feedback_out(row: Feedback, drill: Drill | None = None) -> FeedbackOut:
    return FeedbackOut(
        id=row.id,
        scan_id=row.scan_id,
        outcome=row.outcome,  # type: ignore[arg-type]
        boxes=[OperatorBox(**b) for b in row.boxes],
        note=row.note,
        created=row.created,
        drill=drill_reveal(drill) if drill is not None and row.drill else None,
    )


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=ScanResult,
    summary="Triage one scan",
    description="Decodes the image, runs the served model and stores image and verdict before answering.",
    responses=error_responses(400, 401, 403, 413, 415, 422, 503),
    openapi_extra={
        "requestBody": {"required": True, "content": {"multipart/form-data": {"schema": _SCAN_FORM_SCHEMA}}}
    },
)
async def create_scan(
    request: Request, state: StateDep, principal: ScanKey, predictor: PredictorDep
) -> ScanResult:
    """Triage one scan: verdict, score, threshold and boxes, stored before the answer is sent."""
    # Admission (503 when too many scans are in progress) was decided before this: AdmissionMiddleware.
    form = await _read_form(request)
    try:
        uploads, kind, station = await _parse_scan_form(form)
    finally:
        await form.close()
    row = await run_scan(state, predictor, uploads, kind, station, principal.key_id)
    state.metrics.verdicts.labels(verdict=row.verdict, model=row.model_name, version=row.model_version).inc()
    return ScanResult(**_result(row))


STREAM_POLL_S = 0.5
# A stream ends by itself after this long and the console reconnects where it left off: uvicorn waits for
# open responses on shutdown and gives a streaming one no signal, so a stream's lifetime is how long a
# restart waits while a console is open (measured: 18.9 s at 20 s; reconnecting costs one key lookup).
STREAM_LIFETIME_S = 5.0
STREAM_KEEPALIVE_S = 15.0
# Scans are committed in parallel, so one may commit a little after a later-created one was streamed;
# each poll looks back this far and skips the ids it already sent.
_STREAM_LOOKBACK = dt.timedelta(seconds=10)


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
# schema-driven clients and fuzzers would each hold it open for its whole lifetime. Declared before
# /{scan_id}, which would otherwise take "stream" for an id.
@router.get("/stream", response_class=StreamingResponse, include_in_schema=False)
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


@router.get(
    "/{scan_id}",
    response_model=ScanRecord,
    responses=error_responses(401, 403, 404, 422),
    summary="Read a scan",
)
def get_scan(scan_id: uuid.UUID, state: StateDep, _key: ReaderKey) -> ScanRecord:
    """A stored scan with its verdict and feedback."""
    with state.store.sessions() as session:
        row = session.scalars(
            select(Scan).options(selectinload(Scan.feedback)).where(Scan.id == scan_id)
        ).first()
        if row is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no scan {scan_id}")
        drill = session.scalars(select(Drill).where(Drill.scan_id == scan_id)).first()
        shown = drill.patch_sha256 if drill is not None and drill.decided is None else None
        return _record(row, list(row.feedback), drill, shown)


@router.get(
    "/{scan_id}/overlay.png",
    response_class=Response,
    responses={
        200: {"content": {"image/png": {}}, "description": "heat map and boxes over the scan"},
        **error_responses(401, 403, 404, 422),
    },
    summary="Heat-map overlay of a scan",
)
def get_overlay(scan_id: uuid.UUID, state: StateDep, _key: ReaderKey) -> Response:
    """The scan with the model's heat map and boxes drawn over it, as PNG."""
    row = _load_scan(state, scan_id, heatmap=True)
    boxes = [(d["label"], float(d["score"]), d["box"]) for d in row.detections]
    png = render_overlay(shown_rgb(state, row), decode_heatmap(row.heatmap_png), boxes)
    return Response(png, media_type="image/png")


def _encode_cursor(row: Scan) -> str:
    return base64.urlsafe_b64encode(f"{row.created.isoformat()}|{row.id}".encode()).decode()


def _decode_cursor(cursor: str) -> tuple[dt.datetime, uuid.UUID]:
    try:
        created, scan_id = base64.urlsafe_b64decode(cursor.encode()).decode().split("|")
        when = dt.datetime.fromisoformat(created)
        if when.tzinfo is None:
            raise ValueError("naive")
        return when, uuid.UUID(scan_id)
    except (ValueError, binascii.Error, UnicodeError):
        raise _unprocessable("cursor is not one this service gave out") from None


@router.get(
    "", response_model=ScanPage, responses=error_responses(401, 403, 422), summary="List scans, newest first"
)
def list_scans(
    state: StateDep,
    _key: ReaderKey,
    verdict: Verdict | None = None,
    since: Annotated[
        dt.datetime | None, Query(description="only scans at or after this time (ISO 8601)")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> ScanPage:
    """Scans filtered by verdict and time, newest first, a page at a time."""
    query = select(Scan).order_by(Scan.created.desc(), Scan.id.desc()).limit(limit + 1)
    if verdict is not None:
        query = query.where(Scan.verdict == verdict)
    if since is not None:
        query = query.where(Scan.created >= (since if since.tzinfo else since.replace(tzinfo=dt.UTC)))
    if cursor is not None:
        created, scan_id = _decode_cursor(cursor)
        query = query.where(or_(Scan.created < created, and_(Scan.created == created, Scan.id < scan_id)))
    with state.store.sessions() as session:
        rows = list(session.scalars(query))
        more = len(rows) > limit
        rows = rows[:limit]
        items = scan_records(session, rows)
    return ScanPage(items=items, next_cursor=_encode_cursor(rows[-1]) if more else None)


def feedback_problem(scan: Scan, body: FeedbackIn) -> str | None:
    """Why this feedback cannot be evidence for retraining on this scan, or ``None``.

    Confirming and refuting judge an alarm, clearing judges a clear scan; a threat the model missed needs
    its box(es), which are what retraining learns from; every box lies inside the image (nothing is
    clipped silently later).
    """
    if body.outcome in ("confirmed", "false_alarm") and scan.verdict != "alarm":
        return (
            f"scan {scan.id} was clear: `{body.outcome}` judges an alarm; a threat the model missed is "
            "`missed`, with its box(es)"
        )
    if body.outcome == "cleared" and scan.verdict != "clear":
        return f"scan {scan.id} was an alarm: an operator who finds nothing in it calls it `false_alarm`"
    if body.outcome == "missed" and not body.boxes:
        return "`missed` needs the box(es) of the threat the model missed: retraining learns from them"
    for index, operator_box in enumerate(body.boxes):
        x1, y1 = operator_box.box[2:]
        if x1 > scan.width or y1 > scan.height:
            return (
                f"box {index} {list(operator_box.box)} lies outside the image ({scan.width}x{scan.height} "
                "pixels, boxes in image pixels [x0, y0, x1, y1])"
            )
    return None


def _json_body(request: Request, _key: FeedbackKey) -> None:
    """415 for a body that is not JSON, after the key is checked (a caller without one learns nothing)."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != "application/json":
        raise HTTPException(
            status.HTTP_415_UNSUPPORTED_MEDIA_TYPE, detail="send feedback as application/json"
        )


@router.post(
    "/{scan_id}/feedback",
    status_code=status.HTTP_201_CREATED,
    response_model=FeedbackOut,
    responses=error_responses(400, 401, 403, 404, 415, 422, 503),
    dependencies=[Depends(_json_body)],
    summary="Record an operator's judgement of a scan",
)
def add_feedback(
    scan_id: uuid.UUID, body: FeedbackIn, state: StateDep, principal: FeedbackKey
) -> FeedbackOut:
    """Confirmed alarm, false alarm, a clear scan passed, or a missed threat (with the operator's boxes).

    On a scan that holds an undecided operator drill, the decision reveals it (the answer's ``drill``):
    the drill is scored a hit or a miss, and the scan is judged again on its original image.
    """
    with state.store.sessions() as session:
        scan = session.get(Scan, scan_id)
        if scan is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no scan {scan_id}")
        pending = undecided_drill(session, scan_id) is not None
    # Feedback needs no model, but a drill's reveal judges the original: only then is one required.
    predictor = get_served(state) if pending else None
    # The original's verdict is computed before the write transaction, which it would hold for a model run.
    original = (
        judge_original(state, predictor, scan) if predictor and not feedback_problem(scan, body) else None
    )
    reveal: Drill | None = None
    with state.store.session() as session:
        scan = session.get(Scan, scan_id)
        if scan is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no scan {scan_id}")
        problem = feedback_problem(scan, body)
        if problem:
            raise _unprocessable(problem)
        drill = undecided_drill(session, scan_id)
        row = Feedback(
            scan_id=scan_id,
            outcome=body.outcome,
            boxes=[b.model_dump(mode="json") for b in body.boxes],
            note=body.note,
            created=utc_now(),
            key_id=principal.key_id,
            drill=True if drill is not None else None,
        )
        session.add(row)
        session.flush()
        if drill is not None:
            predictor = predictor or get_served(state)
            reveal_drill(drill, scan, row, original or judge_original(state, predictor, scan))
            reveal = drill
        answer = _feedback_out(row, reveal)
    if reveal is not None:
        assert reveal.outcome is not None
        state.metrics.drills_decided.labels(station=scan.station or "", outcome=reveal.outcome).inc()
        assert predictor is not None  # the reveal judged the original with it
        model = (scan.model_name, scan.model_version)
        rate = card_false_alarm_rate(predictor)
        state.stations.record(scan.station, scan.kind, scan.verdict == "alarm", model, rate)
    return answer


def _load_scan(state: AppState, scan_id: uuid.UUID, heatmap: bool = False) -> Scan:
    query = select(Scan).where(Scan.id == scan_id)
    if heatmap:
        query = query.options(undefer(Scan.heatmap_png))
    with state.store.sessions() as session:
        row = session.scalars(query).first()
    if row is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no scan {scan_id}")
    return row


_IMAGE_HEADERS = {"Cache-Control": "private, max-age=86400"}


@router.get(
    "/{scan_id}/image",
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
    png = await anyio.to_thread.run_sync(shown_png, state, row)
    return Response(png, media_type="image/png", headers=_IMAGE_HEADERS)


@router.get(
    "/{scan_id}/heatmap.png",
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
