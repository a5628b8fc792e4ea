"""Operations: liveness, readiness and Prometheus metrics (no key needed)."""

from __future__ import annotations

import anyio
from fastapi import APIRouter, Response, status
from fastapi.responses import JSONResponse

from service.deps import StateDep
from service.schemas import ErrorBody, Health, ModelRef, Readiness
from service.state import AppState

router = APIRouter(tags=["operations"])


@router.get("/healthz", response_model=Health, summary="Alive")
def healthz() -> Health:
    """The process answers."""
    return Health()


def _store_problem(state: AppState) -> str | None:
    try:
        state.store.probe_writable()
    except Exception as error:  # any failure means "not ready", reported with its reason
        return f"store not writable: {type(error).__name__}: {error}"
    return state.images.check_ready(state.settings.max_request_bytes)


@router.get(
    "/readyz",
    response_model=Readiness,
    responses={503: {"model": ErrorBody, "description": "not ready, with the reason"}},
    summary="Ready to triage",
)
async def readyz(state: StateDep) -> Response:
    """Ready when a model is loaded and the store (database and image folder) accepts writes, with room
    for one more upload of the largest size."""
    problems = []
    predictor = state.models.current
    if predictor is None:
        problems.append(state.models.load_error or "no model loaded")
    store_problem = await anyio.to_thread.run_sync(_store_problem, state)
    if store_problem:
        problems.append(store_problem)
    if problems or predictor is None:
        return JSONResponse({"detail": "; ".join(problems)}, status_code=status.HTTP_503_SERVICE_UNAVAILABLE)
    ready = Readiness(model=ModelRef(name=predictor.name, version=predictor.version))
    return JSONResponse(ready.model_dump(mode="json"))


@router.get(
    "/metrics",
    response_class=Response,
    responses={200: {"content": {"text/plain": {}}, "description": "Prometheus text format"}},
    summary="Prometheus metrics",
)
def metrics(state: StateDep) -> Response:
    """Latency histograms, verdicts by model version, queue depth and errors."""
    return Response(state.metrics.render(), media_type="text/plain; version=0.0.4; charset=utf-8")
