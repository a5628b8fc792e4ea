"""Run a test module's service on both stores: import ``database`` into the module.

``from tests.service.backends import database  # noqa: F401`` makes every test there that uses the
``settings`` (or ``client``) fixture run twice: on SQLite in its data folder, and on a fresh database of
the session's throw-away PostgreSQL (skipped where PostgreSQL is not installed).
"""

from __future__ import annotations

import pytest


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest) -> str | None:
    """``None`` (the default SQLite store in the data folder), then a PostgreSQL database URL."""
    if request.param == "sqlite":
        return None
    return str(request.getfixturevalue("postgres").new_database())
