"""Tables of the scan service: API keys, scans and operator feedback."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import JSON, Boolean, Float, ForeignKey, Index, Integer, LargeBinary, String, Text, Uuid
from sqlalchemy.orm import Mapped, deferred, mapped_column, relationship

from service.store.base import Base, UtcDateTime, utc_now

SCOPES: tuple[str, ...] = ("scan", "camera", "feedback", "admin")
OUTCOMES: tuple[str, ...] = ("confirmed", "false_alarm", "missed", "cleared")


class ApiKey(Base):
    """An API key, stored as the SHA-256 of a high-entropy secret (the secret itself is never stored)."""

    __tablename__ = "api_keys"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    name: Mapped[str] = mapped_column(String(120))
    key_sha256: Mapped[str] = mapped_column(String(64), unique=True, index=True)
    scopes: Mapped[list[str]] = mapped_column(JSON)
    created: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utc_now)
    revoked: Mapped[dt.datetime | None] = mapped_column(UtcDateTime, nullable=True)


class Scan(Base):
    """One posted image and the verdict the operator saw."""

    __tablename__ = "scans"
    __table_args__ = (Index("ix_scans_created_id", "created", "id"), Index("ix_scans_verdict", "verdict"))

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    created: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utc_now)
    station: Mapped[str | None] = mapped_column(String(120), nullable=True)
    kind: Mapped[str | None] = mapped_column(String(32), nullable=True)
    image_sha256: Mapped[str] = mapped_column(String(64))
    image_path: Mapped[str] = mapped_column(String(300), doc="relative to the data folder")
    low_sha256: Mapped[str | None] = mapped_column(String(64), nullable=True, doc="dual-energy low channel")
    low_path: Mapped[str | None] = mapped_column(String(300), nullable=True)
    format: Mapped[str] = mapped_column(String(32))
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    verdict: Mapped[str] = mapped_column(String(16))
    score: Mapped[float] = mapped_column(Float)
    threshold: Mapped[float] = mapped_column(Float)
    # Which threshold judged it: "model" (the card's) or "station" (site calibration); NULL in rows stored
    # before site calibration existed, all of which were judged by the model's.
    threshold_source: Mapped[str | None] = mapped_column(String(16), nullable=True)
    # What the image was read as (vision.io.MODALITIES); NULL in rows stored before it was recorded.
    modality: Mapped[str | None] = mapped_column(String(16), nullable=True)
    model_name: Mapped[str] = mapped_column(String(120))
    model_version: Mapped[str] = mapped_column(String(120))
    detections: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    latency_ms: Mapped[float] = mapped_column(Float)
    key_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, nullable=True)
    # The heat map (8-bit PNG, reduced size) lives in the row, so it commits atomically with the verdict;
    # deferred so that listings never load it.
    heatmap_png: Mapped[bytes] = deferred(mapped_column(LargeBinary))

    feedback: Mapped[list[Feedback]] = relationship(back_populates="scan", order_by="Feedback.created")


class Feedback(Base):
    """An operator's judgement of a scan, the raw material of retraining."""

    __tablename__ = "feedback"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    scan_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("scans.id"), index=True)
    outcome: Mapped[str] = mapped_column(String(16))
    boxes: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    note: Mapped[str | None] = mapped_column(Text, nullable=True)
    created: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utc_now)
    key_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, nullable=True)
    # A decision on an operator drill (a projected threat): never training data. NULL in older rows.
    drill: Mapped[bool | None] = mapped_column(Boolean, nullable=True)

    scan: Mapped[Scan] = relationship(back_populates="feedback")


class StoreProbe(Base):
    """One row rewritten by the readiness check to prove the store accepts writes."""

    __tablename__ = "store_probe"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    checked: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utc_now)
