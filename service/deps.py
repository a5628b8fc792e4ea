"""FastAPI dependencies: the app state, the caller's key and scope, and the served predictor."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from service.auth import Principal, find_principal
from service.state import AppState
from vision.infer import Predictor

_bearer = HTTPBearer(auto_error=False, description="An API key from `triage keys create`.")


async def get_state(request: Request) -> AppState:
    """The running app's state."""
    state: AppState = request.app.state.triage
    return state


StateDep = Annotated[AppState, Depends(get_state)]


def get_principal(
    state: StateDep, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> Principal:
    """The caller's key, checked against the store.

    Raises:
        HTTPException: 401 without a bearer key or with an unknown or revoked one.
    """
    if credentials is None or credentials.scheme.lower() != "bearer" or not credentials.credentials:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            detail="missing API key: send 'Authorization: Bearer <key>'",
            headers={"WWW-Authenticate": "Bearer"},
        )
    with state.store.sessions() as session:
        principal = find_principal(session, credentials.credentials)
    if principal is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            detail="unknown or revoked API key",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return principal


def require_scope(*scopes: str) -> Callable[..., Awaitable[Principal]]:
    """A dependency admitting keys that hold any of ``scopes`` (``admin`` holds all).

    Raises:
        HTTPException: 403 when the key lacks every one of them.
    """

    async def check(principal: Annotated[Principal, Depends(get_principal)]) -> Principal:
        if not any(principal.allows(scope) for scope in scopes):
            raise HTTPException(
                status.HTTP_403_FORBIDDEN,
                detail=f"this key lacks the scope {' or '.join(repr(s) for s in scopes)}",
            )
        return principal

    check.scopes = scopes  # type: ignore[attr-defined]  # read by route audits (tests/service/test_auth_matrix.py)
    return check


ScanKey = Annotated[Principal, Depends(require_scope("scan"))]
FeedbackKey = Annotated[Principal, Depends(require_scope("feedback"))]
ReaderKey = Annotated[Principal, Depends(require_scope("scan", "feedback"))]
CameraKey = Annotated[Principal, Depends(require_scope("camera"))]
AdminKey = Annotated[Principal, Depends(require_scope("admin"))]
AnyKey = Annotated[Principal, Depends(get_principal)]


async def get_predictor(state: StateDep) -> Predictor:
    """The predictor serving now, taken once so the request keeps it through a hot swap.

    Raises:
        HTTPException: 503 when no model is loaded, with the reason.
    """
    return get_served(state)


def get_served(state: AppState) -> Predictor:
    """The predictor serving now (for a handler that needs one only sometimes).

    Raises:
        HTTPException: 503 when no model is loaded, with the reason.
    """
    predictor = state.models.current
    if predictor is None:
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE,
            detail=state.models.load_error or "no model loaded",
            headers={"Retry-After": "30"},
        )
    return predictor


PredictorDep = Annotated[Predictor, Depends(get_predictor)]
