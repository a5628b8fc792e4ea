"""``/v1/events``: movement events from the cameras, newest first, and their snapshots."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Response, status
from pydantic import BaseModel
from sqlalchemy import select

from service.deps import CameraKey, StateDep
from service.schemas import error_responses
from service.store.camera import MotionEventRow

router = APIRouter(prefix="/v1/events", tags=["events"])


class EventOut(BaseModel):
    """A movement event. ``open`` events are still going on: ``end`` moves and there is no snapshot yet."""

    id: uuid.UUID
    camera: str
    start: dt.datetime
    end: dt.datetime
    open: bool
    zone: str | None
    zones: list[str]
    boxes: list[tuple[int, int, int, int]]
    peak_score: float
    frames: int
    snapshot_url: str | None


def _event_out(row: MotionEventRow, has_snapshot: bool) -> EventOut:
    return EventOut(
        id=row.id, camera=row.camera, start=row.start, end=row.end, open=row.open, zone=row.zone,
        zones=list(row.zones or []), boxes=[(b[0], b[1], b[2], b[3]) for b in row.boxes or []],
        peak_score=row.peak_score, frames=row.frames,
        snapshot_url=f"/v1/events/{row.id}/snapshot.jpg" if has_snapshot else None,
    )  # fmt: skip


@router.get(
    "", response_model=list[EventOut], responses=error_responses(401, 403, 422), summary="List events"
)
def list_events(
    state: StateDep,
    _key: CameraKey,
    camera: Annotated[str | None, Query(max_length=64, description="only this camera")] = None,
    since: Annotated[
        dt.datetime | None, Query(description="only events that started at or after this time")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[EventOut]:
    """Events, newest first, filtered by camera and start time."""
    if since is not None and since.tzinfo is None:
        since = since.replace(tzinfo=dt.UTC)  # a time without zone is taken as UTC, as everything here
    query = select(MotionEventRow, MotionEventRow.snapshot_jpeg.is_not(None))
    if camera is not None:
        query = query.where(MotionEventRow.camera == camera)
    if since is not None:
        query = query.where(MotionEventRow.start >= since)
    query = query.order_by(MotionEventRow.start.desc(), MotionEventRow.id.desc()).limit(limit)
    with state.store.sessions() as session:
        rows = session.execute(query).all()
    return [_event_out(row, bool(has_snapshot)) for row, has_snapshot in rows]


@router.get(
    "/{event_id}/snapshot.jpg",
    response_class=Response,
    responses={
        200: {"content": {"image/jpeg": {}}, "description": "the snapshot"},
        **error_responses(401, 403, 404),
    },
    summary="Event snapshot",
)
def snapshot(event_id: uuid.UUID, state: StateDep, _key: CameraKey) -> Response:
    """The full-resolution frame at the event's peak with the moving regions boxed (JPEG)."""
    with state.store.sessions() as session:
        data = session.scalar(select(MotionEventRow.snapshot_jpeg).where(MotionEventRow.id == event_id))
        exists = data is not None or session.get(MotionEventRow, event_id) is not None
    if data is None:
        detail = "the event is still open; its snapshot comes when it ends" if exists else "no such event"
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=detail)
    return Response(data, media_type="image/jpeg", headers={"Cache-Control": "private, max-age=86400"})
