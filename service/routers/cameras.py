"""``/v1/cameras``: camera settings (admin), frames in and screening results out, a WebSocket per camera."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated

import anyio
from fastapi import APIRouter, Depends, FastAPI, HTTPException, Query, Request, Response, WebSocket, status
from fastapi.websockets import WebSocketDisconnect
from pydantic import BaseModel, Field

from service.auth import Principal, find_principal
from service.cameras import CameraHub, CameraSource, UnknownCamera
from service.deps import AdminKey, CameraKey
from service.schemas import error_responses
from service.state import AppState
from vision.errors import ImageTooLarge, UnsupportedImageType, VisionError
from vision.motion.config import CameraConfig, check_camera_id
from vision.motion.frames import FrameLimits
from vision.motion.screener import FrameResult

FRAME_TYPES = ("image/jpeg", "image/jpg", "image/pjpeg", "image/png", "application/octet-stream")
# WebSocket close codes mirroring the HTTP statuses (4000-4999 are free for applications).
WS_UNAUTHORISED, WS_FORBIDDEN, WS_UNKNOWN_CAMERA = 4401, 4403, 4404
WS_AUTH_TIMEOUT_S = 10.0


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Start the camera hub after the service's own start-up (store open), close its events at shutdown."""
    state: AppState = app.state.triage
    limits = FrameLimits(max_bytes=state.image_limits.max_bytes, max_pixels=state.image_limits.max_pixels)
    hub = CameraHub(state.store, state.settings, limits, state.metrics.registry)
    await anyio.to_thread.run_sync(hub.load)
    app.state.cameras = hub
    try:
        yield
    finally:
        await anyio.to_thread.run_sync(hub.close)


router = APIRouter(prefix="/v1/cameras", tags=["cameras"], lifespan=_lifespan)


async def get_hub(request: Request) -> CameraHub:
    """The running app's camera hub."""
    hub: CameraHub = request.app.state.cameras
    return hub


HubDep = Annotated[CameraHub, Depends(get_hub)]


class CameraOut(BaseModel):
    """A camera's settings and where they come from (``file``: the camera config file; ``api``: a PUT)."""

    id: str
    source: CameraSource
    config: CameraConfig


class RegionOut(BaseModel):
    """A moving region: box ``[x1, y1, x2, y2]`` in frame pixels, share of the frame, zone."""

    box: tuple[int, int, int, int]
    area: float
    zone: str | None


class FrameOut(BaseModel):
    """The screening result of one frame.

    ``motion`` is confirmed movement (it lasted the camera's ``persistence`` frames); ``score`` is the
    share of the frame it covers; ``event_id`` is the event it belongs to (see ``GET /v1/events``), or null.
    """

    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "motion": True,
                    "score": 0.0121,
                    "regions": [{"box": [612, 330, 701, 560], "area": 0.0121, "zone": "trail"}],
                    "event_id": "3f0c8f5e-5a0e-4c61-9e55-0c4a1f7b9d2e",
                    "scene_change": False,
                }
            ]
        }
    }

    motion: bool
    score: float
    regions: list[RegionOut]
    event_id: uuid.UUID | None
    scene_change: bool = Field(description="a whole-frame change (IR switch, lighting, shake) was absorbed")


def frame_out(result: FrameResult) -> FrameOut:
    """The HTTP/WebSocket body of a screening result."""
    return FrameOut(
        motion=result.motion,
        score=round(result.score, 5),
        regions=[RegionOut(**region.to_dict()) for region in result.regions],
        event_id=uuid.UUID(result.event_id) if result.event_id else None,
        scene_change=result.scene_change,
    )


def _not_found(camera_id: str) -> HTTPException:
    return HTTPException(
        status.HTTP_404_NOT_FOUND,
        detail=f"no camera {camera_id!r}: an admin configures it first with PUT /v1/cameras/{camera_id} "
        "(an empty JSON object takes the defaults)",
    )


@router.get("", response_model=list[CameraOut], responses=error_responses(401, 403), summary="List cameras")
def list_cameras(hub: HubDep, _key: AdminKey) -> list[CameraOut]:
    """Every configured camera with its settings."""
    return [CameraOut(id=cid, source=source, config=config) for cid, config, source in hub.cameras()]


@router.get(
    "/{camera_id}", response_model=CameraOut, responses=error_responses(401, 403, 404), summary="One camera"
)
def get_camera(camera_id: str, hub: HubDep, _key: AdminKey) -> CameraOut:
    """One camera's settings."""
    try:
        config, source = hub.camera(camera_id)
    except UnknownCamera:
        raise _not_found(camera_id) from None
    return CameraOut(id=camera_id, source=source, config=config)


@router.put(
    "/{camera_id}",
    response_model=CameraOut,
    responses={201: {"model": CameraOut, "description": "created"}, **error_responses(401, 403, 422)},
    summary="Configure a camera",
)
def put_camera(
    camera_id: str, config: CameraConfig, hub: HubDep, _key: AdminKey, response: Response
) -> CameraOut:
    """Create or replace a camera's settings (subtractor, masks, zones, area, persistence, cool-down ...).

    Unknown keys are refused (422). Replacing the settings restarts the camera's screening; an event in
    progress is closed first. Settings given here are stored and win over the camera config file.
    """
    try:
        check_camera_id(camera_id)
    except ValueError as error:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail=str(error)) from None
    created = hub.put(camera_id, config)
    response.status_code = status.HTTP_201_CREATED if created else status.HTTP_200_OK
    return CameraOut(id=camera_id, source="api", config=config)


@router.delete(
    "/{camera_id}", status_code=204, responses=error_responses(401, 403, 404, 409), summary="Remove a camera"
)
def delete_camera(camera_id: str, hub: HubDep, _key: AdminKey) -> Response:
    """Remove a camera configured through the API; its finished events stay."""
    try:
        hub.delete(camera_id)
    except UnknownCamera:
        raise _not_found(camera_id) from None
    except ValueError as error:
        raise HTTPException(status.HTTP_409_CONFLICT, detail=str(error)) from None
    return Response(status_code=204)


@router.post(
    "/{camera_id}/frames",
    response_model=FrameOut,
    responses=error_responses(400, 401, 403, 404, 413, 415),
    summary="Screen one frame",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "image/jpeg": {"schema": {"type": "string", "format": "binary"}},
                "image/png": {"schema": {"type": "string", "format": "binary"}},
            },
        }
    },
)
async def post_frame(
    camera_id: str,
    request: Request,
    hub: HubDep,
    _key: CameraKey,
    timestamp: Annotated[
        float | None,
        Query(ge=0, description="capture time, seconds since the epoch (default: arrival time)"),
    ] = None,
) -> FrameOut:
    """Screen one JPEG or PNG frame (the raw body) for movement.

    A corrupt frame is refused with 400 and leaves the camera's background and events as they were.
    """
    if not hub.exists(camera_id):
        raise _not_found(camera_id)
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type and content_type not in FRAME_TYPES:
        raise HTTPException(
            status.HTTP_415_UNSUPPORTED_MEDIA_TYPE,
            detail="send the frame as the raw body, image/jpeg or image/png",
        )
    data = await request.body()
    try:
        result = await anyio.to_thread.run_sync(hub.screen, camera_id, data, timestamp)
    except UnknownCamera:  # removed meanwhile
        raise _not_found(camera_id) from None
    return frame_out(result)


class EndOut(BaseModel):
    """What ending a camera's source closed: its event in progress, or nothing."""

    event_id: uuid.UUID | None = Field(description="the event closed (see GET /v1/events), or null")


@router.post(
    "/{camera_id}/end",
    response_model=EndOut,
    responses=error_responses(401, 403, 404),
    summary="The camera's source ended: close its event in progress",
)
def end_source(camera_id: str, hub: HubDep, _key: CameraKey) -> EndOut:
    """Close the camera's event in progress now, with its snapshot (and its webhook), rather than after the
    cool-down of silence; the camera's background is kept for its next frames."""
    try:
        event = hub.end_event(camera_id)
    except UnknownCamera:
        raise _not_found(camera_id) from None
    return EndOut(event_id=uuid.UUID(event.id) if event is not None else None)


async def _ws_principal(websocket: WebSocket, state: AppState) -> Principal | None:
    """The key from the Authorization header, or from the first message (``Bearer <key>`` or {"key": ...})."""
    header = websocket.headers.get("authorization", "")
    if header:
        scheme, _, key = header.partition(" ")
        if scheme.lower() != "bearer":
            return None
    else:
        try:
            first = await asyncio.wait_for(websocket.receive_text(), WS_AUTH_TIMEOUT_S)
        except (TimeoutError, KeyError):
            return None
        key = first.strip()
        if key.startswith("{"):
            try:
                key = str(json.loads(key).get("key", ""))
            except (ValueError, AttributeError):
                return None
        elif key.lower().startswith("bearer "):
            key = key[7:]
    key = key.strip()
    if not key:
        return None

    def lookup() -> Principal | None:
        with state.store.sessions() as session:
            return find_principal(session, key)

    return await anyio.to_thread.run_sync(lookup)


def _status_of(error: VisionError) -> int:
    if isinstance(error, ImageTooLarge):
        return 413
    return 415 if isinstance(error, UnsupportedImageType) else 400


@router.websocket("/{camera_id}/stream")
async def stream(websocket: WebSocket, camera_id: str) -> None:
    """A continuous stream: binary JPEG/PNG messages in, one JSON result per frame out.

    The key comes in the ``Authorization: Bearer`` header or, where a client cannot set headers, as the first
    message (``Bearer <key>`` or ``{"key": "<key>"}``). Close codes: 4401 no or unknown key, 4403 key without
    the ``camera`` scope, 4404 unknown camera. A bad frame gets ``{"detail": ..., "status": 400}`` and the
    stream goes on.
    """
    state: AppState = websocket.app.state.triage
    hub: CameraHub = websocket.app.state.cameras
    await websocket.accept()
    try:
        principal = await _ws_principal(websocket, state)
        if principal is None:
            await websocket.close(WS_UNAUTHORISED, "missing or unknown API key")
            return
        if not principal.allows("camera"):
            await websocket.close(WS_FORBIDDEN, "this key lacks the scope 'camera'")
            return
        if not hub.exists(camera_id):
            await websocket.close(WS_UNKNOWN_CAMERA, f"no camera {camera_id!r}")
            return
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                return
            data = message.get("bytes")
            if data is None:
                await websocket.send_json({"detail": "send frames as binary messages", "status": 400})
                continue
            try:
                result = await anyio.to_thread.run_sync(hub.screen, camera_id, data, None)
            except UnknownCamera:
                await websocket.close(WS_UNKNOWN_CAMERA, f"camera {camera_id!r} was removed")
                return
            except VisionError as error:
                await websocket.send_json({"detail": str(error), "status": _status_of(error)})
                continue
            await websocket.send_json(frame_out(result).model_dump(mode="json"))
    except WebSocketDisconnect:
        return
