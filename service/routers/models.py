"""``/v1/models``: the model registry, gated promotion (hot swap) of a model, and rollback."""

from __future__ import annotations

import pathlib
from typing import Annotated, Any

import anyio
from fastapi import APIRouter, Body, HTTPException, status
from pydantic import BaseModel, ConfigDict, Field, model_validator

from service.deps import AdminKey, AnyKey, StateDep
from service.models import ModelNotFound, NothingToRollBack, PromotionFailed, PromotionRefused
from service.schemas import GateVerdict, ModelInfo, ModelRef, PromoteResult, error_responses
from service.state import AppState
from vision.evaluation.gate import gate_summary

router = APIRouter(prefix="/v1/models", tags=["models"])


class PromoteRequest(BaseModel):
    """Optional body of a promotion: force it past the gate, with the reason (recorded and logged)."""

    model_config = ConfigDict(extra="forbid")

    force: bool = False
    reason: str | None = Field(None, max_length=500, examples=["hotfix: new concealment seen at port X"])

    @model_validator(mode="after")
    def _reason_with_force(self) -> PromoteRequest:
        if self.force and not (self.reason and self.reason.strip()):
            raise ValueError("a forced promotion needs a reason")
        return self


def _ref(predictor: Any) -> ModelRef | None:
    return None if predictor is None else ModelRef(name=predictor.name, version=predictor.version)


def _gate_verdict(folder: pathlib.Path, int8: bool = False) -> GateVerdict | None:
    summary = gate_summary(folder, int8)
    return GateVerdict(**summary) if summary is not None else None


def _numbers(mapping: Any) -> dict[str, float]:
    """The numeric entries of a card's mapping (a hand-edited card must not break the listing)."""
    if not isinstance(mapping, dict):
        return {}
    return {
        str(k): float(v) for k, v in mapping.items() if isinstance(v, int | float) and not isinstance(v, bool)
    }


@router.get("", response_model=list[ModelInfo], responses=error_responses(401), summary="List models")
def list_models(state: StateDep, _key: AnyKey) -> list[ModelInfo]:
    """Every model in the registry, marking the one serving and the one recorded as promoted."""
    serving = _ref(state.models.current)
    promoted = state.models.promoted()
    infos = []
    for entry in state.models.entries():
        threshold = entry.card.get("threshold")
        by_kind = entry.card.get("kind_thresholds")
        infos.append(
            ModelInfo(
                name=entry.name,
                version=entry.version,
                serving=serving is not None
                and (serving.name, serving.version) == (entry.name, entry.version),
                promoted=promoted == f"{entry.name}/{entry.version}",
                threshold=threshold if isinstance(threshold, int | float) else None,
                kind_thresholds=_numbers(by_kind),
                gate=_gate_verdict(entry.path),
                gate_int8=_gate_verdict(entry.path, int8=True),
                card=entry.card,
            )
        )
    return infos


@router.post(
    "/rollback",
    response_model=PromoteResult,
    responses=error_responses(401, 403, 404, 409),
    summary="Serve the previous model again (admin)",
    description="Goes back to the model served before the current one, as models/HISTORY.jsonl tells; "
    "409 when there is none or it no longer loads (the current model keeps serving).",
)
async def rollback_model(state: StateDep, key: AdminKey) -> PromoteResult:
    """Serve again the previously promoted model."""
    try:
        new, previous = await anyio.to_thread.run_sync(lambda: state.models.rollback(key_id=str(key.key_id)))
    except ModelNotFound as error:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=str(error)) from None
    except (NothingToRollBack, PromotionFailed) as error:
        raise HTTPException(status.HTTP_409_CONFLICT, detail=_still_serving(state, error)) from None
    return _result(state, new, previous)


@router.post(
    "/{name}/{version}/promote",
    response_model=PromoteResult,
    responses=error_responses(401, 403, 404, 409, 422),
    summary="Serve another model (admin)",
    description="Once a model is served, the candidate needs a gate.json (triage compare) that passed "
    'against it, unless the body says {"force": true, "reason": "..."} (logged with the key id and '
    "recorded in models/HISTORY.jsonl). Loads the model first and swaps only when it loaded; otherwise the "
    "old model keeps serving and the answer (409) says why. Requests already running finish on the model "
    "they started with.",
)
async def promote_model(
    name: str,
    version: str,
    state: StateDep,
    key: AdminKey,
    body: Annotated[PromoteRequest | None, Body()] = None,
) -> PromoteResult:
    """Check the gate, load ``name/version``, record it in ``PROMOTED`` and swap it in atomically."""
    request = body or PromoteRequest(force=False, reason=None)
    try:
        new, previous = await anyio.to_thread.run_sync(
            lambda: state.models.promote(name, version, request.force, request.reason, str(key.key_id))
        )
    except ModelNotFound as error:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=str(error)) from None
    except (PromotionRefused, PromotionFailed) as error:
        raise HTTPException(status.HTTP_409_CONFLICT, detail=_still_serving(state, error)) from None
    return _result(state, new, previous)


def _still_serving(state: AppState, error: Exception) -> str:
    serving = _ref(state.models.current)
    still = f"; still serving {serving.name}/{serving.version}" if serving else "; no model is serving"
    return f"{error}{still}"


def _result(state: AppState, new: Any, previous: Any) -> PromoteResult:
    state.metrics.set_serving(new.name, new.version)
    serving_ref = _ref(new)
    assert serving_ref is not None
    return PromoteResult(serving=serving_ref, previous=_ref(previous))
