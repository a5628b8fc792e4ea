"""Operator feedback from the store turned into a training dataset (``triage feedback export``).

What each outcome teaches the model (the latest feedback on a scan wins, since operators may correct
themselves):

- ``confirmed``: the alarm was right; the operator's boxes, or else the model's own detections, are labels.
- ``false_alarm``: the image holds no threat, a hard negative, whatever the model marked.
- ``missed``: the model said too little; the operator's boxes are labels. A miss without boxes cannot be
  located and is reported, not exported.
- ``cleared``: a clear scan the operator passed, a negative checked by a person.

Decisions on operator drills (fictional threats projected into the scan, ``service.drills``) are never
exported: the model must not learn from them. After its drill is revealed a scan is its original again,
and feedback given on it then is exported as any other.
"""

from __future__ import annotations

import datetime as dt
import pathlib
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import cv2
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from service.store.db import Store
from service.store.images import ImageStore
from service.store.tables import Feedback, Scan
from vision.classes import THREAT_CLASSES
from vision.dataimport import ImportFailed, ImportReport, SourceImage, SourceObject, write_dataset
from vision.errors import VisionError
from vision.io import decode_dual_energy, decode_image

# Formats whose stored bytes the training reader decodes as they are; others are re-encoded as PNG.
_COPIED_FORMATS = {"png": ".png", "jpeg": ".jpg"}


@dataclass
class FeedbackExport:
    """What an export wrote and what it could not."""

    report: ImportReport
    outcomes: Counter[str] = field(default_factory=Counter)
    unlocated: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able summary."""
        return {**self.report.to_dict(), "outcomes": dict(self.outcomes), "unlocated_misses": self.unlocated}


def export_feedback(
    store: Store, images: ImageStore, out: pathlib.Path, since: dt.datetime | None = None
) -> FeedbackExport:
    """Write every scan with feedback given at or after ``since`` as a dataset under ``out``.

    Raises:
        ImportFailed: ``out`` already holds a dataset.
    """
    if (out / "annotations.json").exists():
        raise ImportFailed(f"{out} already holds a dataset; choose a new folder")
    result = FeedbackExport(ImportReport())
    sources = []
    for scan, feedback in _latest_feedback(store, since):
        objects = _labels(scan, feedback)
        if feedback.outcome == "missed" and not objects:
            result.unlocated.append(str(scan.id))
            continue
        try:
            sources.append(_source_image(scan, feedback, objects, images))
        except (OSError, VisionError) as error:
            result.report.broken_files.append(f"scan {scan.id}: {error}")
            continue
        result.outcomes[feedback.outcome] += 1
    info = {"source": "operator feedback", "since": since.isoformat() if since else None}
    identity = {name: name for name in THREAT_CLASSES}
    write_dataset(sources, out, identity, result.report, "unknown", "feedback", info)
    return result


def _latest_feedback(store: Store, since: dt.datetime | None) -> list[tuple[Scan, Feedback]]:
    judged = select(Feedback.scan_id)
    if since is not None:
        judged = judged.where(Feedback.created >= since)
    # Not a DISTINCT over a join: PostgreSQL cannot compare the JSON columns a DISTINCT would compare.
    query = select(Scan).where(Scan.id.in_(judged)).options(selectinload(Scan.feedback))
    with store.sessions() as session:
        scans = session.scalars(query.order_by(Scan.created, Scan.id)).all()
        latest = []
        for scan in scans:
            real = [f for f in scan.feedback if not f.drill and (since is None or f.created >= since)]
            if real:
                latest.append((scan, max(real, key=lambda f: f.created)))
        return latest


def _labels(scan: Scan, feedback: Feedback) -> tuple[SourceObject, ...]:
    if feedback.outcome in ("false_alarm", "cleared"):
        return ()
    boxes = feedback.boxes or (scan.detections if feedback.outcome == "confirmed" else [])
    return tuple(SourceObject(str(b["label"]), _box(b["box"])) for b in boxes)


def _box(values: list[float]) -> tuple[float, float, float, float]:
    x0, y0, x1, y1 = (float(v) for v in values)
    return x0, y0, x1, y1


def _source_image(
    scan: Scan, feedback: Feedback, objects: tuple[SourceObject, ...], images: ImageStore
) -> SourceImage:
    extra = {
        "scan_id": str(scan.id),
        "outcome": feedback.outcome,
        "station": scan.station,
        "model": f"{scan.model_name}/{scan.model_version}",
        "scanned": scan.created.isoformat(),
    }
    suffix = _COPIED_FORMATS.get(scan.format)
    if suffix is not None:
        return SourceImage(
            pathlib.Path(f"{scan.id}{suffix}"), objects, images.read(scan.image_path), scan.kind, extra
        )
    if scan.format == "dual-energy" and scan.low_path:
        rgb = decode_dual_energy(images.read(scan.image_path), images.read(scan.low_path)).rgb
        # The exported PNG is a rendering: name both stored channels it was rendered from.
        extra["source_file"] = images.location(scan.image_path)
        extra["source_low_file"] = images.location(scan.low_path)
    else:
        rgb = decode_image(images.read(scan.image_path)).rgb
    ok, png = cv2.imencode(".png", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    if not ok:
        raise OSError("cannot encode the scan as PNG")
    return SourceImage(pathlib.Path(f"{scan.id}.png"), objects, png.tobytes(), scan.kind, extra)
