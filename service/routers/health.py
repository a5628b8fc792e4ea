"""Operations: liveness, readiness and Prometheus metrics (no key needed)."""

from __future__ import annotations

import secrets
import shutil

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
        probe = state.images.tmp / f"ready-{secrets.token_hex(4)}"
        probe.write_bytes(b"ok")
        probe.unlink()
    except Exception as error:  # any failure means "not ready", reported with its reason
        return f"store not writable: {type(error).__name__}: {error}"
    # A disk that cannot hold one more upload of the largest size would refuse the next scan: say so
    # before it does, so that a load balancer sends scans elsewhere.
    free, upload = shutil.disk_usage(state.images.tmp).free, state.settings.max_request_bytes
    if free < upload:
        return f"disk nearly full: {free // 1024} KiB free, less than one upload ({upload // 1024} KiB)"
    return None


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
