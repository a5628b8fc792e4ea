"""Request and response bodies of the HTTP API (pydantic), with examples for the OpenAPI document."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from vision.classes import SCENE_KINDS, THREAT_CLASSES

Verdict = Literal["clear", "alarm"]
# `cleared`: the operator looked at a clear scan and passes it (an alarm they refute is `false_alarm`).
Outcome = Literal["confirmed", "false_alarm", "missed", "cleared"]
Box = tuple[float, float, float, float]

_DETECTION_EXAMPLE: dict[str, Any] = {"label": "firearm", "score": 0.91, "box": [412.0, 230.0, 538.0, 301.0]}


class ErrorBody(BaseModel):
    """Every error answer."""

    detail: str | list[Any] = Field(examples=["image has 400000000 pixels; the limit is 40000000"])


def error_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """The ``responses`` of a route that may answer these error statuses (each with an :class:`ErrorBody`)."""
    return {code: {"model": ErrorBody} for code in codes}


class ModelRef(BaseModel):
    """Which model gave a verdict."""

    name: str = Field(examples=["xray-seg"])
    version: str = Field(examples=["2026.11.23"])


class DetectionOut(BaseModel):
    """One found object: class, score and box ``[x0, y0, x1, y1]`` in image pixels."""

    model_config = ConfigDict(json_schema_extra={"examples": [_DETECTION_EXAMPLE]})

    label: str
    score: float
    box: Box


class ScanResult(BaseModel):
    """The inline verdict returned by ``POST /v1/scans``."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "6f1c1bd0-8a35-4f3b-9a40-51c3a7c1f0de",
                    "verdict": "alarm",
                    "score": 0.91,
                    "threshold": 0.42,
                    "threshold_source": "model",
                    "modality": "false-colour",
                    "model": {"name": "xray-seg", "version": "2026.11.23"},
                    "detections": [_DETECTION_EXAMPLE],
                    "latency_ms": 84.2,
                }
            ]
        }
    )

    id: uuid.UUID
    verdict: Verdict
    score: float
    threshold: float = Field(
        description="the alarm threshold that judged it: its station's, its kind's, or the shared one"
    )
    threshold_source: Literal["model", "station"] = Field(
        "model",
        description="whose threshold judged it: the model card's, or the station's own (site calibration)",
    )
    modality: Literal["false-colour", "grey", "dual-energy"] | None = Field(
        None,
        description="what the image was read as: a false-colour scan, a grey single-energy scan, or a raw "
        "high/low pair rendered to false colour; an image of a modality the served model does not serve "
        "(its card's `modalities`) is refused with 422; null for scans stored before it was recorded",
    )
    model: ModelRef
    detections: list[DetectionOut]
    latency_ms: float = Field(description="server time from the upload received to the verdict stored")


class OperatorBox(BaseModel):
    """A box an operator drew: class and ``[x0, y0, x1, y1]`` in image pixels."""

    model_config = ConfigDict(extra="forbid")

    label: str = Field(examples=["blade"], description=f"one of {', '.join(THREAT_CLASSES)}")
    box: Box = Field(examples=[[100, 80, 180, 140]])

    @field_validator("label")
    @classmethod
    def _known_label(cls, value: str) -> str:
        if value not in THREAT_CLASSES:
            raise ValueError(f"unknown class {value!r}; known: {', '.join(THREAT_CLASSES)}")
        return value

    @field_validator("box")
    @classmethod
    def _ordered_box(cls, value: Box) -> Box:
        x0, y0, x1, y1 = value
        if not (0 <= x0 < x1 and 0 <= y0 < y1) or max(value) > 1e6:
            raise ValueError("box must be [x0, y0, x1, y1] with 0 <= x0 < x1 and 0 <= y0 < y1")
        return value


class FeedbackIn(BaseModel):
    """An operator's judgement of a scan."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "outcome": "missed",
                    "boxes": [{"label": "blade", "box": [100, 80, 180, 140]}],
                    "note": "knife in the lining",
                }
            ]
        },
    )

    outcome: Outcome
    boxes: list[OperatorBox] = Field(default_factory=list, max_length=100)
    note: str | None = Field(default=None, max_length=2000)


class DrillReveal(BaseModel):
    """An operator drill, revealed by the decision on it: the scan shown held a projected threat."""

    id: uuid.UUID
    label: str = Field(description="the projected threat's class")
    box: Box = Field(description="where it lay, [x0, y0, x1, y1] in image pixels")
    outline: list[list[tuple[int, int]]] = Field(description="its outline: polygons of [x, y] points")
    size: Literal["small", "medium", "large"]
    outcome: Literal["hit", "miss"] = Field(description="hit: the operator found it; miss: cleared it")
    decision_s: float | None = Field(description="seconds from the scan stored to the decision")
    shown_verdict: Verdict = Field(description="what the model said of the projected image")


class FeedbackOut(BaseModel):
    """Stored feedback; ``drill`` is set on the decision that revealed an operator drill."""

    id: uuid.UUID
    scan_id: uuid.UUID
    outcome: Outcome
    boxes: list[OperatorBox]
    note: str | None
    created: dt.datetime
    drill: DrillReveal | None = None


class ScanRecord(ScanResult):
    """A stored scan with where it came from and its feedback."""

    created: dt.datetime
    station: str | None
    kind: str | None
    format: str
    width: int
    height: int
    image_sha256: str
    feedback: list[FeedbackOut] = Field(default_factory=list)


class ScanPage(BaseModel):
    """One page of scans, newest first; pass ``next_cursor`` as ``cursor`` for the next page."""

    items: list[ScanRecord]
    next_cursor: str | None = Field(examples=[None])


class GateVerdict(BaseModel):
    """A model's gate verdict: passed or not, against which baseline, when."""

    passed: bool
    baseline: str | None = Field(description="the model it was compared with, name/version")
    time: str | None


class ModelInfo(BaseModel):
    """A model in the registry."""

    name: str
    version: str
    serving: bool
    promoted: bool
    threshold: float | None = Field(description="alarm threshold for scans of unknown kind")
    kind_thresholds: dict[str, float] = Field(
        default_factory=dict, description="alarm threshold per scene kind, where calibrated apart"
    )
    gate: GateVerdict | None = Field(
        None, description="its promotion gate's verdict (triage compare), or null if it was never gated"
    )
    gate_int8: GateVerdict | None = Field(
        None,
        description="the gate's verdict on its INT8 graph (triage compare --int8), which a model with one "
        "needs to be promoted; null if never gated so",
    )
    card: dict[str, Any]


class PromoteResult(BaseModel):
    """The answer to a promotion: what serves now and what served before."""

    serving: ModelRef
    previous: ModelRef | None


class Health(BaseModel):
    """Liveness."""

    status: Literal["ok"] = "ok"


class Readiness(BaseModel):
    """Readiness: the model and the store, each ``ok`` or why not."""

    status: Literal["ready"] = "ready"
    model: ModelRef
    store: Literal["ok"] = "ok"


KINDS: tuple[str, ...] = SCENE_KINDS
