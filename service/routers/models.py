"""``/v1/models``: the model registry and promotion (hot swap) of a model."""

from __future__ import annotations

from typing import Any

import anyio
from fastapi import APIRouter, HTTPException, status

from service.deps import AdminKey, AnyKey, StateDep
from service.models import ModelNotFound, PromotionFailed
from service.schemas import ErrorBody, ModelInfo, ModelRef, PromoteResult

router = APIRouter(prefix="/v1/models", tags=["models"])


def _ref(predictor: Any) -> ModelRef | None:
    return None if predictor is None else ModelRef(name=predictor.name, version=predictor.version)


@router.get("", response_model=list[ModelInfo], responses={401: {"model": ErrorBody}}, summary="List models")
def list_models(state: StateDep, _key: AnyKey) -> list[ModelInfo]:
    """Every model in the registry, marking the one serving and the one recorded as promoted."""
    serving = _ref(state.models.current)
    promoted = state.models.promoted()
    infos = []
    for entry in state.models.entries():
        threshold = entry.card.get("threshold")
        infos.append(
            ModelInfo(
                name=entry.name,
                version=entry.version,
                serving=serving is not None
                and (serving.name, serving.version) == (entry.name, entry.version),
                promoted=promoted == f"{entry.name}/{entry.version}",
                threshold=threshold if isinstance(threshold, int | float) else None,
                card=entry.card,
            )
        )
    return infos


@router.post(
    "/{name}/{version}/promote",
    response_model=PromoteResult,
    responses={code: {"model": ErrorBody} for code in (401, 403, 404, 409)},
    summary="Serve another model (admin)",
    description="Loads the model first and swaps only when it loaded; otherwise the old model keeps "
    "serving and the answer (409) says why. Requests already running finish on the model they started with.",
)
async def promote_model(name: str, version: str, state: StateDep, _key: AdminKey) -> PromoteResult:
    """Load ``name/version``, record it in ``PROMOTED`` and swap it in atomically."""
    try:
        new, previous = await anyio.to_thread.run_sync(state.models.promote, name, version)
    except ModelNotFound as error:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=str(error)) from None
    except PromotionFailed as error:
        serving = _ref(state.models.current)
        still = f"; still serving {serving.name}/{serving.version}" if serving else "; no model is serving"
        raise HTTPException(status.HTTP_409_CONFLICT, detail=f"{error}{still}") from None
    state.metrics.set_serving(new.name, new.version)
    serving_ref = _ref(new)
    assert serving_ref is not None
    return PromoteResult(serving=serving_ref, previous=_ref(previous))
