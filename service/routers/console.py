"""The operator console: its page and static files, and the few reads it needs beyond the JSON API.

The console is plain HTML/CSS/JS in ``service/console/`` (no build step, nothing fetched from elsewhere).
The page itself holds no data and needs no key; everything it shows comes from the authenticated API.
Added here for the console: ``GET /v1/me``, the caller's key name and scopes (which pages and buttons to
show). The scan reads it uses (the live stream, the image as PNG, the heat-map layer) are scan resources
and live in the scans router.
"""

from __future__ import annotations

import pathlib
import uuid

from fastapi import APIRouter, HTTPException, status
from fastapi.responses import FileResponse
from pydantic import BaseModel

from service.deps import AnyKey
from service.schemas import error_responses

CONSOLE_DIR = pathlib.Path(__file__).resolve().parent.parent / "console"
_MEDIA_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".json": "application/json",
    ".svg": "image/svg+xml",
    ".png": "image/png",
}
# The page must not run anything from elsewhere; images are blob: URLs made from authenticated fetches.
_CSP = (
    "default-src 'self'; img-src 'self' blob: data:; style-src 'self'; script-src 'self'; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
)
_STATIC_HEADERS = {"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"}
router = APIRouter(tags=["console"])


@router.get("/", include_in_schema=False)
def console_page() -> FileResponse:
    """The console's single page."""
    headers = {**_STATIC_HEADERS, "Content-Security-Policy": _CSP, "Referrer-Policy": "no-referrer"}
    return FileResponse(CONSOLE_DIR / "index.html", media_type=_MEDIA_TYPES[".html"], headers=headers)


@router.get("/favicon.ico", include_in_schema=False)
def favicon() -> FileResponse:
    """The console's icon, for browsers that ask at the conventional place (an SVG serves as well)."""
    return FileResponse(CONSOLE_DIR / "favicon.svg", media_type=_MEDIA_TYPES[".svg"], headers=_STATIC_HEADERS)


@router.get("/console/{name}", include_in_schema=False)
def console_file(name: str) -> FileResponse:
    """A static file of the console (only plain names in the console folder: no paths, no dot files)."""
    path = CONSOLE_DIR / name
    suffix = path.suffix.lower()
    if "/" in name or name.startswith(".") or suffix not in _MEDIA_TYPES or not path.is_file():
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no console file {name!r}")
    return FileResponse(path, media_type=_MEDIA_TYPES[suffix], headers=_STATIC_HEADERS)


class Me(BaseModel):
    """The caller's key."""

    key_id: uuid.UUID
    name: str
    scopes: list[str]


@router.get("/v1/me", response_model=Me, responses=error_responses(401), summary="Who am I")
def who_am_i(principal: AnyKey) -> Me:
    """The name and scopes of the key in the request (``admin`` holds every scope)."""
    return Me(key_id=principal.key_id, name=principal.name, scopes=sorted(principal.scopes))
