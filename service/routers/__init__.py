"""One router per resource. ``ROUTERS`` is what ``create_app`` mounts; add yours (cameras, events) here."""

from __future__ import annotations

from fastapi import APIRouter

from service.routers import cameras, events, health, models, scans

ROUTERS: list[APIRouter] = [health.router, scans.router, models.router, cameras.router, events.router]
