"""The scan pipeline without HTTP: decode the upload, predict, store files and row.

Order matters for consistency: image files are written atomically and fsynced before the row that names
them is committed, in one transaction, so a row never points at a missing or partial file. A crash in
between leaves at most a complete, unreferenced file, which start-up removes.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from service.store.db import Store
from service.store.images import ImageFiles
from service.store.tables import Scan
from vision.infer import Detection, Prediction, Predictor
from vision.io import (
    DecodedImage,
    ImageLimits,
    check_content_type,
    decode_dual_energy,
    decode_image,
    sniff_format,
)
from vision.overlay import encode_heatmap


@dataclass(frozen=True)
class Upload:
    """One uploaded part: its form field, bytes and declared content type."""

    field: str
    data: bytes
    content_type: str | None


def decode_uploads(uploads: dict[str, Upload], limits: ImageLimits) -> DecodedImage:
    """Decode a single ``file`` or a ``high`` + ``low`` dual-energy pair.

    Raises:
        ImageDecodeError, UnsupportedImageType, ImageTooLarge: from ``vision.io``.
    """
    if "file" in uploads:
        single = uploads["file"]
        return decode_image(single.data, limits, declared_type=single.content_type)
    high, low = uploads["high"], uploads["low"]
    check_content_type(high.content_type)
    check_content_type(low.content_type)
    return decode_dual_energy(high.data, low.data, limits)


def predict(
    predictor: Predictor, rgb: np.ndarray, kind: str | None = None, threshold: float | None = None
) -> tuple[Prediction, bytes]:
    """Run the model and encode its heat map; judged by ``threshold`` (a station's) if given, else by the
    card's threshold of the scan's kind, if known."""
    prediction = predictor.predict(rgb, kind, threshold)
    return prediction, encode_heatmap(prediction.heatmap)


def detection_dicts(detections: Sequence[Detection]) -> list[dict[str, Any]]:
    """Detections as JSON-ready dicts ``{label, score, box}``."""
    return [
        {"label": str(d.label), "score": round(float(d.score), 6), "box": [round(float(v), 2) for v in d.box]}
        for d in detections
    ]


def write_images(images: ImageFiles, uploads: dict[str, Upload]) -> dict[str, tuple[str, str]]:
    """Store each uploaded part by content hash; returns field → (sha256, relative path)."""
    return {field: images.put(upload.data, sniff_format(upload.data)) for field, upload in uploads.items()}


@dataclass(frozen=True)
class ScanInput:
    """Everything that becomes one scan row."""

    station: str | None
    kind: str | None
    decoded: DecodedImage
    prediction: Prediction
    heatmap_png: bytes
    files: dict[str, tuple[str, str]]
    model_name: str
    model_version: str
    key_id: uuid.UUID | None
    started: float
    threshold_source: str = "model"


def save_scan(store: Store, item: ScanInput) -> Scan:
    """Insert the scan row in one committed transaction (files are already on disk)."""
    main_sha, main_path = item.files.get("file") or item.files["high"]
    low = item.files.get("low")
    prediction = item.prediction
    row = Scan(
        id=uuid.uuid4(),
        station=item.station,
        kind=item.kind,
        image_sha256=main_sha,
        image_path=main_path,
        low_sha256=low[0] if low else None,
        low_path=low[1] if low else None,
        format=item.decoded.format,
        modality=item.decoded.modality,
        width=item.decoded.width,
        height=item.decoded.height,
        verdict=str(prediction.verdict),
        score=float(prediction.score),
        threshold=float(prediction.threshold),
        threshold_source=item.threshold_source,
        model_name=item.model_name,
        model_version=item.model_version,
        detections=detection_dicts(prediction.detections),
        latency_ms=0.0,
        key_id=item.key_id,
        heatmap_png=item.heatmap_png,
    )
    with store.session() as session:
        # Latency covers everything up to the commit that makes the verdict durable.
        row.latency_ms = round((time.perf_counter() - item.started) * 1000, 2)
        session.add(row)
    return row
