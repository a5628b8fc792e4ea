"""Fixtures for the service tests: a throw-away store, a registry of tiny models, a client with keys."""

from __future__ import annotations

import pathlib
from collections.abc import Iterator

import cv2
import numpy as np
import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from service.app import create_app
from service.auth import create_key
from service.settings import Settings
from tests.helpers import copy_model

ADMIN_KEY = "Kq8ZrT2vWx5yN7mB4cD9fG1hJ3pL6sA0"
MAX_PIXELS = 1_000_000


def bearer(key: str) -> dict[str, str]:
    """The Authorization header for ``key``."""
    return {"Authorization": f"Bearer {key}"}


def png_bytes(width: int = 160, height: int = 120, seed: int = 0) -> bytes:
    """A small random RGB PNG."""
    rng = np.random.default_rng(seed)
    ok, data = cv2.imencode(".png", rng.integers(0, 256, (height, width, 3), dtype=np.uint8))
    assert ok
    return data.tobytes()


@pytest.fixture
def models_root(tmp_path: pathlib.Path, tiny_model_dir: pathlib.Path) -> pathlib.Path:
    """A registry: ``tiny-threat/0.0.1`` (served), ``tiny-threat/0.0.2`` and a broken ``tiny-threat/bad``."""
    root = tmp_path / "models"
    copy_model(tiny_model_dir, root / "tiny-threat" / "0.0.1", version="0.0.1")
    copy_model(tiny_model_dir, root / "tiny-threat" / "0.0.2", version="0.0.2")
    broken = copy_model(tiny_model_dir, root / "tiny-threat" / "bad", version="bad")
    (broken / "model.onnx").write_bytes(b"this is not an ONNX file")
    return root


@pytest.fixture
def database() -> str | None:
    """The store's URL; ``None``: SQLite in the data folder (``tests.service.backends`` adds PostgreSQL)."""
    return None


@pytest.fixture
def settings(tmp_path: pathlib.Path, models_root: pathlib.Path, database: str | None) -> Settings:
    """Settings with a store in ``tmp_path``, the tiny model, a known admin key and a small pixel limit."""
    return Settings(
        data_dir=tmp_path / "data",
        database_url=database,
        model_dir=models_root / "tiny-threat" / "0.0.1",
        models_root=models_root,
        admin_key=SecretStr(ADMIN_KEY),
        max_image_pixels=MAX_PIXELS,
        max_request_bytes=4 * 1024 * 1024,
        max_image_bytes=2 * 1024 * 1024,
    )


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    """A client of a running app (lifespan entered)."""
    with TestClient(create_app(settings)) as test_client:
        yield test_client


def new_key(client: TestClient, *scopes: str) -> dict[str, str]:
    """Create a key with ``scopes`` in the client's store; returns its Authorization header."""
    store = client.app.state.triage.store  # type: ignore[attr-defined]
    with store.session() as session:
        _, key = create_key(session, list(scopes), "test")
    return bearer(key)


@pytest.fixture
def admin() -> dict[str, str]:
    """The admin key's header."""
    return bearer(ADMIN_KEY)


@pytest.fixture
def scanner(client: TestClient) -> dict[str, str]:
    """A key with the scan and feedback scopes."""
    return new_key(client, "scan", "feedback")
