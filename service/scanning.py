"""The scan pipeline: :func:`run_scan` decodes the upload, predicts, stores files and row, and times it.

Order matters for consistency: image files are written atomically and fsynced before the row that names
them is committed, in one transaction, so a row never points at a missing or partial file. A crash in
between leaves at most a complete, unreferenced file, which start-up removes.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import anyio
import cv2
import numpy as np
from fastapi import HTTPException, status

from service.drills import Projection, encode_png, judge_drill, lay_patch, undecided_drill
from service.inference import predict
from service.stations import card_false_alarm_rate
from service.store.db import Store
from service.store.drills import Drill
from service.store.images import ImageStore
from service.store.tables import Feedback, Scan
from vision.infer import Detection, Prediction, Predictor
from vision.io import (
    DecodedImage,
    ImageLimits,
    check_content_type,
    decode_dual_energy,
    decode_image,
    sniff_format,
)

if TYPE_CHECKING:
    from service.state import AppState

# Scans shown in a browser are scaled down to this longest side.
DISPLAY_MAX_SIDE = 2048


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


def detection_dicts(detections: Sequence[Detection]) -> list[dict[str, Any]]:
    """Detections as JSON-ready dicts ``{label, score, box}`` (:meth:`Detection.to_dict`, as the CLI)."""
    return [d.to_dict() for d in detections]


def write_images(images: ImageStore, uploads: dict[str, Upload]) -> dict[str, tuple[str, str]]:
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
    drill: Projection | None = None


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
    drill = _drill_row(row, item) if item.drill is not None else None
    with store.session() as session:
        # Latency covers everything up to the commit that makes the verdict durable.
        row.latency_ms = round((time.perf_counter() - item.started) * 1000, 2)
        session.add(row)
        if drill is not None:
            session.flush()  # the scan row first: the drill refers to it
            drill.created = row.created
            session.add(drill)
    return row


def _drill_row(scan: Scan, item: ScanInput) -> Drill:
    """The drill row of a scan shown with a projected threat (what was shown, where the threat lies)."""
    projection = item.drill
    assert projection is not None
    patch_png = encode_png(projection.patch)
    return Drill(
        scan_id=scan.id,
        station=item.station,
        label=projection.label,
        box=list(projection.box),
        area_share=projection.area_share,
        outline=projection.outline,
        patch_png=patch_png,
        patch_x=projection.origin[0],
        patch_y=projection.origin[1],
        patch_sha256=hashlib.sha256(patch_png).hexdigest(),
        footprint_png=encode_png(projection.footprint.astype(np.uint8) * 255),
        library_file=projection.library_file,
        shown_verdict=scan.verdict,
        shown_score=scan.score,
        shown_heatmap_png=item.heatmap_png,
        shown_detections=scan.detections,
    )


def stored_rgb(images: ImageStore, scan: Scan, limits: ImageLimits) -> np.ndarray:
    """A stored scan's original image decoded as the model saw it (the limits it passed once apply)."""
    if scan.low_path is not None:
        return decode_dual_energy(images.read(scan.image_path), images.read(scan.low_path), limits).rgb
    return decode_image(images.read(scan.image_path), limits).rgb


def shown_rgb(state: AppState, scan: Scan) -> np.ndarray:
    """The image its operator is shown for a scan: the projected one while a drill in it is undecided."""
    with state.store.sessions() as session:
        drill = undecided_drill(session, scan.id, with_patch=True)
    rgb = stored_rgb(state.images, scan, state.image_limits)
    return rgb if drill is None else lay_patch(rgb, drill)


def shown_png(state: AppState, row: Scan) -> bytes:
    """The image its operator is shown for a scan (:func:`shown_rgb`) as PNG, longest side at most
    :data:`DISPLAY_MAX_SIDE` (TIFF, DICOM and raw dual-energy uploads are not something a browser shows)."""
    rgb = shown_rgb(state, row)
    height, width = rgb.shape[:2]
    scale = min(1.0, DISPLAY_MAX_SIDE / max(height, width))
    if scale < 1.0:
        size = (max(1, round(width * scale)), max(1, round(height * scale)))
        rgb = cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)
    ok, png = cv2.imencode(".png", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_PNG_COMPRESSION, 1])
    if not ok:
        raise ValueError("could not encode the scan")
    return png.tobytes()


@dataclass(frozen=True)
class Judgement:
    """The served model's verdict on a stored scan's original image."""

    prediction: Prediction
    heatmap_png: bytes
    threshold_source: str
    model_name: str
    model_version: str


def judge_original(state: AppState, predictor: Predictor, scan: Scan) -> Judgement:
    """Run the served model on a stored scan's original image, judged as a new scan of its station."""
    rgb = stored_rgb(state.images, scan, state.image_limits)
    own = state.stations.threshold_for(scan.station, scan.kind, (predictor.name, predictor.version))
    prediction, heatmap_png = predict(predictor, rgb, scan.kind, own)
    source = "model" if own is None else "station"
    return Judgement(prediction, heatmap_png, source, predictor.name, predictor.version)


def reveal_drill(drill: Drill, scan: Scan, feedback: Feedback, original: Judgement) -> None:
    """Score the operator's decision on a drill and turn the scan back into its original (in the
    caller's transaction): from now on it is judged, shown and decided as any scan."""
    drill.outcome = judge_drill(drill, feedback.outcome, [b["box"] for b in feedback.boxes])
    drill.decided = feedback.created
    drill.decision_s = round((feedback.created - scan.created).total_seconds(), 3)
    drill.operator_key_id = feedback.key_id
    prediction = original.prediction
    scan.verdict = str(prediction.verdict)
    scan.score = float(prediction.score)
    scan.threshold = float(prediction.threshold)
    scan.threshold_source = original.threshold_source
    scan.detections = detection_dicts(prediction.detections)
    scan.heatmap_png = original.heatmap_png
    scan.model_name, scan.model_version = original.model_name, original.model_version


async def run_scan(
    state: AppState,
    predictor: Predictor,
    uploads: dict[str, Upload],
    kind: str | None,
    station: str | None,
    key_id: uuid.UUID,
) -> Scan:
    """Run one scan: decode, predict (beside the image write), store, and record its timings.

    The modality is checked before anything is stored (a refused scan leaves no trace); an operator drill
    is drawn and projected where the station has drills on; the station's own threshold judges the scan
    while the model it was set for serves.

    Returns:
        The stored scan row.

    Raises:
        vision.errors.VisionError: the upload cannot be decoded or is not served (mapped to 4xx).
        HTTPException: 503 when the image could not be stored (nothing was committed).
    """
    started = time.perf_counter()
    decoded = await anyio.to_thread.run_sync(decode_uploads, uploads, state.image_limits)
    predictor.check_modality(decoded.modality)  # before anything is stored: a refused scan leaves no trace
    decoded_at = time.perf_counter()
    # Writing the image (hash + fsync) overlaps with inference: the verdict waits for whichever is slower.
    # An operator drill, now and then: a library threat laid into the bag, shown as the scan (service.drills).
    drawn = state.drills.draw(station, kind, decoded.modality)
    drill = (
        None if drawn is None else await anyio.to_thread.run_sync(state.drills.project, decoded.rgb, drawn)
    )
    loop = asyncio.get_running_loop()
    files_written = loop.run_in_executor(None, write_images, state.images, uploads)
    model = (predictor.name, predictor.version)
    # A station's own threshold (site calibration) judges its scans while the model it was set for serves.
    own_threshold = state.stations.threshold_for(station, kind, model)
    shown = decoded.rgb if drill is None else drill.composite
    try:
        prediction, heatmap_png = await state.inference.predict(predictor, shown, kind, own_threshold)
    finally:
        try:
            files = await files_written
        except OSError as error:
            # Disk full or read-only: nothing was committed, the client may retry elsewhere or later.
            raise HTTPException(
                status.HTTP_503_SERVICE_UNAVAILABLE, detail=f"could not store the image: {error}"
            ) from error
    predicted_at = time.perf_counter()
    item = ScanInput(
        station,
        kind,
        decoded,
        prediction,
        heatmap_png,
        files,
        predictor.name,
        predictor.version,
        key_id,
        started,
        "model" if own_threshold is None else "station",
        drill,
    )
    row = await anyio.to_thread.run_sync(save_scan, state.store, item)
    if drill is None:  # a drill's verdict is on a fictional threat; its original's counts at the reveal
        state.stations.record(station, kind, row.verdict == "alarm", model, card_false_alarm_rate(predictor))
    else:
        state.metrics.drills_shown.labels(station=station or "").inc()
    stages = (
        ("decode", started, decoded_at),
        ("predict", decoded_at, predicted_at),
        ("store", predicted_at, time.perf_counter()),
        ("total", started, time.perf_counter()),
    )
    for stage, begin, end in stages:
        state.metrics.scan_latency.labels(stage=stage).observe(end - begin)
    return row
