"""One router per resource. ``ROUTERS`` is what ``create_app`` mounts; add yours (cameras, events) here."""

from __future__ import annotations

from fastapi import APIRouter

from service.routers import cameras, console, drills, events, health, models, scans, stations

ROUTERS: list[APIRouter] = [
    health.router, console.router, scans.router, models.router, stations.router, cameras.router,
    events.router, drills.router,
]  # fmt: skip
