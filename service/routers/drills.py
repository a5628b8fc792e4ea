"""``/v1/drills``: operator drills (threat image projection). Settings per station and the threat library
(admin), the drills shown and decided, the report per operator and station, and a decided drill's image.

How a drill runs is in :mod:`service.drills`; the scan and feedback routes do the showing and revealing.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Literal

import anyio
import cv2
import numpy as np
from fastapi import APIRouter, HTTPException, Path, Query, Response, status
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.orm import undefer

from service.deps import AdminKey, ReaderKey, StateDep
from service.drills import DrillPolicy, encode_png, lay_patch, report, report_csv, size_band
from service.scanning import stored_rgb
from service.schemas import KINDS, error_responses
from service.state import AppState
from service.store.drills import Drill
from service.store.tables import ApiKey, Scan
from vision.classes import THREAT_CLASSES

router = APIRouter(prefix="/v1/drills", tags=["drills"])

_MAX_STATION_CHARS = 120


class DrillSettingsIn(BaseModel):
    """A station's drill settings."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"enabled": True, "rate": 0.02, "classes": [], "kinds": ["luggage"]}]
        },
    )

    enabled: bool
    rate: float = Field(
        gt=0, le=1, description="share of the station's scans that get a drill (0.02: 1 in 50)"
    )
    classes: list[Literal[THREAT_CLASSES]] = Field(  # type: ignore[valid-type]
        default_factory=list, max_length=len(THREAT_CLASSES), description="threat classes drawn; empty: all"
    )
    kinds: list[Literal[KINDS]] = Field(  # type: ignore[valid-type]
        default_factory=list, max_length=len(KINDS), description="scene kinds drilled; empty: every scan"
    )


class DrillSettingsOut(BaseModel):
    """The drill settings in force for a station (``*``: every station without its own)."""

    station: str
    enabled: bool
    rate: float
    classes: list[str]
    kinds: list[str]
    updated: dt.datetime | None


class DrillSettingsList(BaseModel):
    """Every station's drill settings, the default (``*``) first, and what the threat library holds."""

    items: list[DrillSettingsOut]
    library: dict[str, int] = Field(description="threats of each class in the library")


class DrillOut(BaseModel):
    """One drill: what was projected, and how its operator did."""

    id: uuid.UUID
    scan_id: uuid.UUID
    created: dt.datetime
    station: str | None
    label: str
    size: Literal["small", "medium", "large"]
    area_share: float
    shown_verdict: str
    decided: dt.datetime | None
    outcome: Literal["hit", "miss"] | None
    decision_s: float | None
    operator: str | None = Field(description="name of the key that decided it")


class DrillPage(BaseModel):
    """The newest drills."""

    items: list[DrillOut]


def _settings_out(policy: DrillPolicy) -> DrillSettingsOut:
    return DrillSettingsOut(
        station=policy.station,
        enabled=policy.enabled,
        rate=policy.rate,
        classes=list(policy.classes),
        kinds=list(policy.kinds),
        updated=policy.updated,
    )


@router.get(
    "/settings",
    response_model=DrillSettingsList,
    responses=error_responses(401, 403, 422),
    summary="Drill settings",
)
def list_settings(state: StateDep, _key: AdminKey) -> DrillSettingsList:
    """Every station's drill settings and the threat library's classes."""
    return DrillSettingsList(
        items=[_settings_out(p) for p in state.drills.policies()], library=state.drills.library_classes()
    )


@router.put(
    "/settings/{station}",
    response_model=DrillSettingsOut,
    responses=error_responses(400, 401, 403, 415, 422),
    summary="Set a station's drill settings",
)
def put_settings(
    station: Annotated[
        str, Path(max_length=_MAX_STATION_CHARS, description="the station, or `*` for every station")
    ],
    body: DrillSettingsIn,
    state: StateDep,
    principal: AdminKey,
) -> DrillSettingsOut:
    """Switch drills on or off for a station and choose how often and with which threats; in force at once."""
    if not station.isprintable() or not station.strip():
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail="station must be printable text")
    policy = state.drills.apply(station, body.enabled, body.rate, body.classes, body.kinds, principal.key_id)
    return _settings_out(policy)


@router.get(
    "", response_model=DrillPage, responses=error_responses(401, 403, 422), summary="The newest drills"
)
def list_drills(
    state: StateDep,
    _key: AdminKey,
    station: Annotated[str | None, Query(max_length=_MAX_STATION_CHARS)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> DrillPage:
    """Drills shown, newest first, decided or not."""
    query = select(Drill).order_by(Drill.created.desc(), Drill.id.desc()).limit(limit)
    if station is not None:
        query = query.where(Drill.station == station)
    with state.store.sessions() as session:
        rows = list(session.scalars(query))
        names = {k.id: k.name for k in session.scalars(select(ApiKey))}
    return DrillPage(
        items=[
            DrillOut(
                id=r.id,
                scan_id=r.scan_id,
                created=r.created,
                station=r.station,
                label=r.label,
                size=size_band(r.area_share),  # type: ignore[arg-type]
                area_share=r.area_share,
                shown_verdict=r.shown_verdict,
                decided=r.decided,
                outcome=r.outcome,  # type: ignore[arg-type]
                decision_s=r.decision_s,
                operator=names.get(r.operator_key_id) if r.operator_key_id else None,
            )
            for r in rows
        ]
    )


@router.get(
    "/report",
    responses={
        200: {
            "content": {"application/json": {}, "text/csv": {}},
            "description": "rows per ISO week, station and operator",
        },
        **error_responses(401, 403, 422),
    },
    summary="Drill report per operator and station",
)
def drill_report(
    state: StateDep,
    _key: AdminKey,
    since: Annotated[
        dt.datetime | None, Query(description="decisions at or after this time (ISO 8601)")
    ] = None,
    station: Annotated[str | None, Query(max_length=_MAX_STATION_CHARS)] = None,
    format: Annotated[Literal["json", "csv"], Query(description="json rows or a CSV file")] = "json",
) -> Response:
    """Hit rate by class and size, mean decision time and the flag rate on real scans, per week,
    station and operator (key)."""
    if since is not None and since.tzinfo is None:
        since = since.replace(tzinfo=dt.UTC)
    with state.store.sessions() as session:
        rows = report(session, since, station)
    if format == "csv":
        return Response(
            report_csv(rows),
            media_type="text/csv",
            headers={"Content-Disposition": 'attachment; filename="drills.csv"'},
        )
    return JSONResponse({"items": rows})


@router.get(
    "/{drill_id}/image",
    response_class=Response,
    responses={
        200: {"content": {"image/png": {}}, "description": "the projected image with the threat outlined"},
        **error_responses(401, 403, 404, 422),
    },
    summary="A decided drill's image",
)
async def drill_image(drill_id: uuid.UUID, state: StateDep, _key: ReaderKey) -> Response:
    """The image the operator was shown, with the projected threat's outline drawn; only once decided
    (an undecided drill does not exist to the API)."""
    with state.store.sessions() as session:
        drill = session.get(Drill, drill_id, options=[undefer(Drill.patch_png)])
        scan = session.get(Scan, drill.scan_id) if drill is not None else None
    if drill is None or drill.decided is None or scan is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no decided drill {drill_id}")
    png = await anyio.to_thread.run_sync(_outlined, state, scan, drill)
    return Response(png, media_type="image/png", headers={"Cache-Control": "private, max-age=86400"})


def _outlined(state: AppState, scan: Scan, drill: Drill) -> bytes:
    rgb = lay_patch(stored_rgb(state.images, scan, state.image_limits), drill)
    thickness = max(2, round(max(rgb.shape[:2]) / 400))
    polygons = [np.asarray(p, np.int32).reshape(-1, 1, 2) for p in drill.outline if len(p) >= 2]
    colour = (0, 200, 255) if drill.outcome == "hit" else (255, 40, 200)
    cv2.polylines(rgb, polygons, True, colour, thickness, cv2.LINE_AA)
    return encode_png(rgb)
