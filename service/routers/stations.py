"""``/v1/stations``: site calibration. Each station's threshold proposed from its own cleared scans,
applied and rolled back by an admin (versioned, logged with the key id), and its live alarm rate."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import anyio
from fastapi import APIRouter, Body, HTTPException, Query, status
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import func, select

from service.deps import AdminKey, PredictorDep, StateDep
from service.schemas import ModelRef, error_responses
from service.stations import NothingToRollBack, applied_stack, card_false_alarm_rate, kind_key
from service.store.stations import ALL_KINDS, StationThresholdRow
from service.store.tables import Scan
from vision.calibration import DEFAULT_TARGET_FA, MAX_TARGET_FA, CalibrationError, detection_at
from vision.infer import Predictor

router = APIRouter(prefix="/v1/stations", tags=["stations"])

Kind = Literal["parcel", "luggage", "vehicle"]


class ThresholdVersion(BaseModel):
    """One version of a station's threshold (``threshold`` null: the model's own was restored)."""

    version: int
    threshold: float | None
    target_fa: float | None
    false_alarm_rate: float | None = Field(description="on the cleared scans it was computed from")
    false_alarm_interval: tuple[float, float] | None
    n: int | None = Field(description="cleared scans it was computed from")
    source: Literal["proposal", "file", "rollback"]
    restores: int | None = Field(description="a rollback: the version it restored (null: the model's)")
    note: str | None
    created: str
    key_id: str | None
    model: ModelRef


class LiveRate(BaseModel):
    """A station's alarm rate over its recent scans against its target (the drift watch)."""

    n: int
    alarms: int
    rate: float
    target_fa: float
    expected: tuple[float, float] = Field(description="rates its target explains over n scans (99%)")
    drifting: bool


class StationThreshold(BaseModel):
    """What judges a station's scans of one kind under the served model, its versions and live rate."""

    station: str
    kind: str = Field(description=f"scene kind, or {ALL_KINDS!r} for all of the station's scans")
    threshold: float
    threshold_source: Literal["model", "station"]
    model: ModelRef
    in_force: ThresholdVersion | None
    history: list[ThresholdVersion]
    live: LiveRate


class ProposalOut(BaseModel):
    """A threshold computed now from the station's cleared scans; nothing changes until it is applied."""

    station: str
    kind: str
    model: ModelRef
    threshold: float
    current_threshold: float
    target_fa: float
    false_alarm_rate: float = Field(description="on the cleared scans")
    false_alarm_interval: tuple[float, float] = Field(description="exact (Clopper-Pearson) 95% interval")
    n: int = Field(description="cleared scans: cleared alarms and unflagged scans passed")
    confirmed_left_out: int = Field(description="scans confirmed or reported missed (not clean traffic)")
    undecided_alarms: int = Field(
        description="alarms no operator has judged yet, left out; many of them bias the threshold low"
    )
    real_detection: dict[str, float | None] | None = Field(
        description="localised detection the model's real validation threats get at this threshold "
        "(from its card); null when the card holds no curve"
    )
    real_detection_now: dict[str, float | None] | None


class ApplyRequest(BaseModel):
    """Apply the proposal computed now from the station's cleared scans for ``kind`` and ``target_fa``."""

    model_config = ConfigDict(extra="forbid")

    kind: Kind | None = None
    target_fa: float = Field(DEFAULT_TARGET_FA, gt=0, le=MAX_TARGET_FA)
    note: str | None = Field(None, max_length=500)


class RollbackRequest(BaseModel):
    """Which of a station's thresholds to roll back."""

    model_config = ConfigDict(extra="forbid")

    kind: Kind | None = None


class StationSummary(BaseModel):
    """A station seen in the scans, with what judges it now."""

    station: str
    kind: str
    scans: int
    threshold: float
    threshold_source: Literal["model", "station"]
    live: LiveRate


def _model(predictor: Predictor) -> tuple[str, str]:
    return predictor.name, predictor.version


def _version(row: StationThresholdRow) -> ThresholdVersion:
    interval = None if row.fa_low is None or row.fa_high is None else (row.fa_low, row.fa_high)
    return ThresholdVersion(
        version=row.version,
        threshold=row.threshold,
        target_fa=row.target_fa,
        false_alarm_rate=row.false_alarm_rate,
        false_alarm_interval=interval,
        n=row.n,
        source=row.source,  # type: ignore[arg-type]
        restores=row.restores,
        note=row.note,
        created=row.created.isoformat(),
        key_id=str(row.key_id) if row.key_id else None,
        model=ModelRef(name=row.model_name, version=row.model_version),
    )


def _judging(state: Any, predictor: Predictor, station: str, kind: str | None) -> tuple[float, str]:
    own = state.stations.threshold_for(station, kind, _model(predictor))
    if own is not None:
        return own, "station"
    return predictor.thresholds.for_kind(kind), "model"


def _live(state: Any, predictor: Predictor, station: str, kind: str | None) -> LiveRate:
    drift = state.stations.live(station, kind, _model(predictor), card_false_alarm_rate(predictor))
    return LiveRate(
        n=drift.n,
        alarms=drift.alarms,
        rate=round(drift.rate, 4),
        target_fa=drift.target_fa,
        expected=(round(drift.expected[0], 4), round(drift.expected[1], 4)),
        drifting=drift.drifting,
    )


@router.get(
    "",
    response_model=list[StationSummary],
    responses=error_responses(401, 403, 503),
    summary="Stations and what judges them (admin)",
)
def list_stations(state: StateDep, predictor: PredictorDep, _key: AdminKey) -> list[StationSummary]:
    """Every station and scene kind in the scans of the served model, its threshold and live rate."""
    with state.store.sessions() as session:
        rows = session.execute(
            select(Scan.station, Scan.kind, func.count())
            .where(
                Scan.station.is_not(None),
                Scan.model_name == predictor.name,
                Scan.model_version == predictor.version,
            )
            .group_by(Scan.station, Scan.kind)
            .order_by(Scan.station, Scan.kind)
        ).all()
    out = []
    for station_name, kind, count in rows:
        station = str(station_name)
        threshold, source = _judging(state, predictor, station, kind)
        out.append(
            StationSummary(
                station=station,
                kind=kind_key(kind),
                scans=count,
                threshold=threshold,
                threshold_source=source,  # type: ignore[arg-type]
                live=_live(state, predictor, station, kind),
            )
        )
    return out


@router.get(
    "/{station}/threshold",
    response_model=StationThreshold,
    responses=error_responses(401, 403, 422, 503),
    summary="A station's threshold, its versions and live alarm rate (admin)",
)
def get_threshold(
    station: str,
    state: StateDep,
    predictor: PredictorDep,
    _key: AdminKey,
    kind: Annotated[Kind | None, Query(description="scene kind; omitted: all of the station's scans")] = None,
) -> StationThreshold:
    """What judges the station's scans of ``kind`` now, and every version for the served model."""
    _check_station(station)
    return _threshold_view(state, predictor, station, kind)


def _threshold_view(state: Any, predictor: Predictor, station: str, kind: str | None) -> StationThreshold:
    threshold, source = _judging(state, predictor, station, kind)
    history = state.stations.history(station, kind, _model(predictor))
    stack = applied_stack(history)
    return StationThreshold(
        station=station,
        kind=kind_key(kind),
        threshold=threshold,
        threshold_source=source,  # type: ignore[arg-type]
        model=ModelRef(name=predictor.name, version=predictor.version),
        in_force=_version(stack[-1]) if stack else None,
        history=[_version(row) for row in history],
        live=_live(state, predictor, station, kind),
    )


@router.get(
    "/{station}/proposal",
    response_model=ProposalOut,
    responses=error_responses(401, 403, 422, 503),
    summary="Propose a station threshold from its cleared scans (admin)",
    description="The lowest threshold at which at most `target_fa` of the station's cleared scans (of "
    "`kind`, scored by the served model) alarm, with the exact interval on the rate it gives; 422 with "
    "too few cleared scans (the service's `station_min_scans`, 300 by default). Nothing is applied.",
)
def get_proposal(
    station: str,
    state: StateDep,
    predictor: PredictorDep,
    _key: AdminKey,
    kind: Annotated[Kind | None, Query(description="scene kind; omitted: all of the station's scans")] = None,
    target_fa: Annotated[float, Query(gt=0, le=MAX_TARGET_FA)] = DEFAULT_TARGET_FA,
) -> ProposalOut:
    """A proposal for ``station`` (422 with too few cleared scans)."""
    _check_station(station)
    proposal, found = state.stations.propose(station, kind, _model(predictor), target_fa)
    current, _ = _judging(state, predictor, station, kind)
    real = predictor.real
    return ProposalOut(
        station=station,
        kind=kind_key(kind),
        model=ModelRef(name=predictor.name, version=predictor.version),
        threshold=proposal.threshold,
        current_threshold=current,
        target_fa=target_fa,
        false_alarm_rate=round(proposal.false_alarm_rate, 4),
        false_alarm_interval=(
            round(proposal.false_alarm_interval[0], 4),
            round(proposal.false_alarm_interval[1], 4),
        ),
        n=proposal.n,
        confirmed_left_out=found.confirmed,
        undecided_alarms=found.undecided_alarms,
        real_detection=detection_at(real, proposal.threshold),
        real_detection_now=detection_at(real, current),
    )


@router.post(
    "/{station}/threshold",
    response_model=StationThreshold,
    status_code=status.HTTP_201_CREATED,
    responses=error_responses(401, 403, 422, 503),
    summary="Apply a station threshold (admin)",
    description="Computes the proposal now (as `GET .../proposal` with the same `kind` and `target_fa`) "
    "and puts it in force as a new version, logged with the key id; scans of the station are judged by it "
    "from the next one on, and their answers say `threshold_source: station`.",
)
async def apply_threshold(
    station: str,
    state: StateDep,
    predictor: PredictorDep,
    key: AdminKey,
    body: Annotated[ApplyRequest | None, Body()] = None,
) -> StationThreshold:
    """Propose and apply in one step, so the applied threshold is the one computed from the store."""
    _check_station(station)
    request = body or ApplyRequest(kind=None, target_fa=DEFAULT_TARGET_FA, note=None)
    model = _model(predictor)

    def apply() -> None:
        proposal, _ = state.stations.propose(station, request.kind, model, request.target_fa)
        state.stations.apply(station, request.kind, model, proposal, "proposal", key.key_id, request.note)

    await anyio.to_thread.run_sync(apply)
    return _threshold_view(state, predictor, station, request.kind)


@router.post(
    "/{station}/threshold/rollback",
    response_model=StationThreshold,
    responses=error_responses(401, 403, 409, 422, 503),
    summary="Roll back a station threshold (admin)",
    description="Restores the version before the one in force (the model's own before the first); 409 "
    "when the model's own already judges.",
)
async def rollback_threshold(
    station: str,
    state: StateDep,
    predictor: PredictorDep,
    key: AdminKey,
    body: Annotated[RollbackRequest | None, Body()] = None,
) -> StationThreshold:
    """Go back one version."""
    _check_station(station)
    request = body or RollbackRequest(kind=None)
    try:
        await anyio.to_thread.run_sync(
            lambda: state.stations.rollback(station, request.kind, _model(predictor), key.key_id)
        )
    except NothingToRollBack as error:
        raise HTTPException(status.HTTP_409_CONFLICT, detail=str(error)) from None
    return _threshold_view(state, predictor, station, request.kind)


def _check_station(station: str) -> None:
    if not station.strip() or len(station) > 120 or not station.isprintable():
        raise CalibrationError("station must be printable text of 1-120 characters")
