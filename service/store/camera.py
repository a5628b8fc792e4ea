"""Tables of camera screening: cameras configured through the API, and movement events with snapshots."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import JSON, Boolean, Float, Index, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, deferred, mapped_column

from service.store.base import Base, UtcDateTime, utc_now


class CameraRow(Base):
    """A camera configured through ``PUT /v1/cameras/{id}`` (cameras from the config file are not stored)."""

    __tablename__ = "cameras"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    config: Mapped[dict[str, Any]] = mapped_column(JSON, doc="vision.motion.config.CameraConfig as JSON")
    created: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utc_now)
    updated: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utc_now)


class MotionEventRow(Base):
    """A movement event: written when it starts (``open``), completed with its snapshot when it ends."""

    __tablename__ = "motion_events"
    __table_args__ = (
        Index("ix_motion_events_start_id", "start", "id"),
        Index("ix_motion_events_camera_start", "camera", "start"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    camera: Mapped[str] = mapped_column(String(64))
    start: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    end: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    open: Mapped[bool] = mapped_column(Boolean, default=True)
    zone: Mapped[str | None] = mapped_column(String(64), nullable=True)
    zones: Mapped[list[str]] = mapped_column(JSON, default=list)
    boxes: Mapped[list[list[int]]] = mapped_column(JSON, default=list)
    peak_score: Mapped[float] = mapped_column(Float, default=0.0)
    frames: Mapped[int] = mapped_column(Integer, default=0)
    # The snapshot lives in the row so it commits atomically with the event; deferred so that listings never
    # load it.
    snapshot_jpeg: Mapped[bytes | None] = deferred(mapped_column(LargeBinary, nullable=True))
