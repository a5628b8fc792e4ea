"""Tables of operator drills (threat image projection): each station's drill settings and every drill.

A drill is a fictional threat projected into a real scan that the operator is shown as if it were the
scan. The original is stored as always (``scans.image_path``); the drill keeps only the patch of the
image the projection changed (``drills.patch_png`` at ``patch_x, patch_y``), laid over the original
whenever the scan is shown until the operator decides, when the drill is revealed and the scan
continues as the original. Feedback on a drill is marked (``feedback.drill``) and never exported for
retraining: the model must not learn from fictional threats.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import JSON, Boolean, Float, ForeignKey, Index, Integer, LargeBinary, String, Uuid
from sqlalchemy.orm import Mapped, deferred, mapped_column

from service.store.base import Base, UtcDateTime, utc_now

# A drill's outcome: the operator found the projected threat, or cleared the scan (or marked elsewhere).
DRILL_OUTCOMES: tuple[str, ...] = ("hit", "miss")
# The settings that apply to every station without its own row (and to scans posted without a station).
ALL_STATIONS = "*"


class DrillSettingsRow(Base):
    """A station's drill settings (one row per station; :data:`ALL_STATIONS` for the default)."""

    __tablename__ = "drill_settings"

    station: Mapped[str] = mapped_column(String(120), primary_key=True)
    enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    rate: Mapped[float] = mapped_column(Float, doc="share of eligible scans that get a drill, (0, 1]")
    classes: Mapped[list[str]] = mapped_column(JSON, default=list, doc="threat classes drawn; empty: all")
    kinds: Mapped[list[str]] = mapped_column(JSON, default=list, doc="scene kinds drilled; empty: all")
    updated: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utc_now)
    key_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, nullable=True, doc="the admin who set them")


class Drill(Base):
    """One projected threat in one scan, and how the operator did on it."""

    __tablename__ = "drills"
    __table_args__ = (Index("ix_drills_created", "created"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    scan_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("scans.id"), unique=True, index=True)
    created: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utc_now)
    station: Mapped[str | None] = mapped_column(String(120), nullable=True)
    label: Mapped[str] = mapped_column(String(32), doc="the projected threat's class")
    box: Mapped[list[float]] = mapped_column(JSON, doc="[x0, y0, x1, y1] in image pixels")
    area_share: Mapped[float] = mapped_column(Float, doc="the threat's pixels over the image's")
    outline: Mapped[list[list[list[int]]]] = mapped_column(
        JSON, doc="the threat's outline: polygons [[x, y], ...]"
    )
    # The projected image inside the window the threat landed in (8-bit RGB PNG; the original elsewhere),
    # its corner in image pixels, and which of its pixels the projection changed (8-bit PNG, 255 inside).
    patch_png: Mapped[bytes] = deferred(mapped_column(LargeBinary))
    patch_x: Mapped[int] = mapped_column(Integer)
    patch_y: Mapped[int] = mapped_column(Integer)
    footprint_png: Mapped[bytes] = deferred(mapped_column(LargeBinary))
    patch_sha256: Mapped[str] = mapped_column(String(64), doc="names the shown image while undecided")
    library_file: Mapped[str] = mapped_column(String(200), doc="the library entry projected")
    # The heat map and verdict the operator was shown (the scan row holds them until the reveal).
    shown_verdict: Mapped[str] = mapped_column(String(16))
    shown_score: Mapped[float] = mapped_column(Float)
    shown_heatmap_png: Mapped[bytes] = deferred(mapped_column(LargeBinary))
    shown_detections: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    decided: Mapped[dt.datetime | None] = mapped_column(UtcDateTime, nullable=True)
    outcome: Mapped[str | None] = mapped_column(String(8), nullable=True)
    decision_s: Mapped[float | None] = mapped_column(Float, nullable=True, doc="scan stored → decision")
    operator_key_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, nullable=True, doc="who decided")
