"""Tables of site calibration: each station's applied alarm thresholds, versioned and never rewritten."""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import Float, Index, Integer, String, Text, UniqueConstraint, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from service.store.base import Base, UtcDateTime, utc_now

# What made a version: an admin applying a proposal, a station file (`triage calibrate`), or a rollback.
SOURCES: tuple[str, ...] = ("proposal", "file", "rollback")
# The scene-kind column of a threshold for all of a station's scans (SQL NULLs do not compare equal,
# so "all kinds" is a value of its own and the unique constraint below holds).
ALL_KINDS = "*"


class StationThresholdRow(Base):
    """One version of a station's threshold for one scene kind and model.

    Rows are only ever added: applying a proposal adds version ``n + 1``; a rollback adds a version that
    restores an earlier one (``threshold`` ``None`` restores the model's own). The latest version of a
    (station, kind, model) is the one in force while that model serves; scores of another model are not
    comparable, so its station thresholds wait until it serves again.
    """

    __tablename__ = "station_thresholds"
    __table_args__ = (
        UniqueConstraint("station", "kind", "model_name", "model_version", "version"),
        Index("ix_station_thresholds_station", "station", "kind"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    station: Mapped[str] = mapped_column(String(120))
    kind: Mapped[str] = mapped_column(String(32), doc=f"scene kind, or {ALL_KINDS!r} for all")
    model_name: Mapped[str] = mapped_column(String(120))
    model_version: Mapped[str] = mapped_column(String(120))
    version: Mapped[int] = mapped_column(Integer)
    threshold: Mapped[float | None] = mapped_column(Float, nullable=True, doc="None: the model's own")
    target_fa: Mapped[float | None] = mapped_column(Float, nullable=True)
    false_alarm_rate: Mapped[float | None] = mapped_column(Float, nullable=True)
    fa_low: Mapped[float | None] = mapped_column(Float, nullable=True)
    fa_high: Mapped[float | None] = mapped_column(Float, nullable=True)
    n: Mapped[int | None] = mapped_column(Integer, nullable=True, doc="cleared scans it was computed from")
    source: Mapped[str] = mapped_column(String(16))
    restores: Mapped[int | None] = mapped_column(
        Integer, nullable=True, doc="a rollback: the version restored"
    )
    note: Mapped[str | None] = mapped_column(Text, nullable=True)
    created: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utc_now)
    key_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, nullable=True)
