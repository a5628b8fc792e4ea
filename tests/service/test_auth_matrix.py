"""Every route × every kind of caller: the expected status of each cell, generated from the routes.

The routes are read from the app itself, with the scopes their dependencies require, so a new route
cannot be left out: a route that asks for no key must be on the public list below, on purpose.
Callers: no key, malformed keys, an unknown key, a revoked key, and a key of each scope. A caller without
a key (or with a bad one) gets 401 with ``WWW-Authenticate: Bearer``; a key without the scope gets 403;
a key with it gets past authentication (whatever the handler then says of the empty request).
"""

from __future__ import annotations

import pathlib
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from fastapi.routing import APIRoute, APIWebSocketRoute, iter_route_contexts
from fastapi.testclient import TestClient
from starlette.routing import BaseRoute

from service.app import create_app
from service.auth import create_key, revoke_key
from service.deps import get_principal
from service.settings import Settings
from service.store.tables import SCOPES
from tests.service.conftest import bearer

# Routes that answer without a key, and why: probes, metrics scraped on the private network, the API's
# own description and the console's static files (the console signs in with a key for everything else).
PUBLIC = {
    ("GET", "/healthz"),
    ("GET", "/readyz"),
    ("GET", "/metrics"),
    ("GET", "/openapi.json"),
    ("GET", "/docs"),
    ("GET", "/docs/oauth2-redirect"),
    ("GET", "/redoc"),
    ("GET", "/"),
    ("GET", "/favicon.ico"),
    ("GET", "/console/{name}"),
}
# A value for each path parameter: well-formed, naming nothing that exists (or, for console files, a file).
PATH_VALUES = {
    "scan_id": str(uuid.uuid4()),
    "event_id": str(uuid.uuid4()),
    "camera_id": "trail-1",
    "name": "tiny-threat",
    "version": "0.0.9",
    "station": "lane-3",
    "key_id": str(uuid.uuid4()),
}
MALFORMED = ["Basic dXNlcjpwYXNz", "Bearer", "Bearer ", "tri_no-scheme-at-all", "Bearer tri_" + "x" * 5000]


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    scopes: tuple[str, ...] | None  # None: any valid key; () : public

    def url(self) -> str:
        return re.sub(r"\{(\w+)(:\w+)?\}", lambda m: PATH_VALUES.get(m.group(1), "x"), self.path)


def _scopes(route: BaseRoute) -> tuple[str, ...] | bool | None:
    """The scopes a route's dependencies require: a tuple, None for any valid key, False for no key."""
    if not isinstance(route, APIRoute):
        return False  # the framework's own pages (OpenAPI, docs)
    found: list[tuple[str, ...]] = []
    any_key = False
    stack = list(route.dependant.dependencies)
    while stack:
        dependency = stack.pop()
        scopes = getattr(dependency.call, "scopes", None)
        if scopes is not None:
            found.append(tuple(scopes))
        if dependency.call is get_principal:
            any_key = True
        stack.extend(dependency.dependencies)
    if found:
        assert len(set(found)) == 1, f"{route.path}: several scope checks {found}"
        return found[0]
    return None if any_key else False


def routes() -> list[Route]:
    """Every HTTP route of the app (WebSocket routes are checked in tests/motion/test_http.py)."""
    app = create_app(Settings(admin_key=None))  # the routes only; nothing is started
    table = []
    for context in iter_route_contexts(app.routes):
        route = context.original_route
        if isinstance(route, APIWebSocketRoute) or not context.methods:
            continue
        path = str(context.path)
        for method in sorted(set(context.methods) - {"HEAD", "OPTIONS"}):
            scopes = _scopes(route)
            if scopes is False:
                assert (method, path) in PUBLIC, f"{method} {path} takes no key and is not PUBLIC"
                table.append(Route(method, path, ()))
            else:
                assert (method, path) not in PUBLIC, f"{method} {path} is PUBLIC but asks for a key"
                table.append(Route(method, path, scopes))  # type: ignore[arg-type]
    return table


ROUTES = routes()


@pytest.fixture(scope="module")
def keys(
    tmp_path_factory: pytest.TempPathFactory, tiny_model_dir: pathlib.Path
) -> Iterator[tuple[TestClient, dict[str, str]]]:
    """A running app and one Authorization header per caller kind."""
    base = tmp_path_factory.mktemp("auth-matrix")
    settings = Settings(
        data_dir=base / "data", model_dir=tiny_model_dir, models_root=tiny_model_dir.parent.parent
    )
    with TestClient(create_app(settings)) as client:
        store = client.app.state.triage.store  # type: ignore[attr-defined]
        headers: dict[str, str] = {"unknown": "Bearer tri_" + "0" * 43}
        with store.session() as session:
            for scope in SCOPES:
                _, key = create_key(session, [scope], f"matrix-{scope}")
                headers[scope] = bearer(key)["Authorization"]
            revoked, key = create_key(session, list(SCOPES), "matrix-revoked")
            headers["revoked"] = bearer(key)["Authorization"]
        with store.session() as session:
            revoke_key(session, revoked.id)
        yield client, headers


def test_the_matrix_covers_every_route() -> None:
    protected = [r for r in ROUTES if r.scopes != ()]
    assert len(protected) >= 25 and {(r.method, r.path) for r in ROUTES} >= PUBLIC


@pytest.mark.parametrize("route", ROUTES, ids=lambda r: f"{r.method} {r.path}")
def test_each_caller_gets_the_expected_status(route: Route, keys: tuple[TestClient, dict[str, str]]) -> None:
    client, headers = keys

    def call(authorization: str | None) -> int:
        sent = {"Authorization": authorization} if authorization is not None else {}
        response = client.request(route.method, route.url(), headers=sent)
        if response.status_code == 401:
            assert response.headers.get("WWW-Authenticate") == "Bearer", route
            assert response.json()["detail"], route
        return response.status_code

    cells: dict[str, tuple[int, str]] = {}
    for caller in ["none", *[f"malformed-{i}" for i in range(len(MALFORMED))], "unknown", "revoked", *SCOPES]:
        if caller == "none":
            authorization = None
        elif caller.startswith("malformed-"):
            authorization = MALFORMED[int(caller.split("-")[1])]
        else:
            authorization = headers[caller]
        got = call(authorization)
        if route.scopes == () or (
            caller in SCOPES and (route.scopes is None or caller in route.scopes or caller == "admin")
        ):
            expected = "not 401/403"
        elif caller in SCOPES:
            expected = "403"
        else:
            expected = "401"
        cells[caller] = (got, expected)
    wrong = {
        caller: cell
        for caller, cell in cells.items()
        if (cell[1] == "not 401/403" and cell[0] in (401, 403))
        or (cell[1] in ("401", "403") and str(cell[0]) != cell[1])
    }
    assert not wrong, f"{route.method} {route.path}: {wrong}"
    assert all(code < 500 for code, _ in cells.values()), cells
