"""Shared fixtures. Area-specific fixtures live in each area's ``conftest.py``."""

import pathlib

import pytest


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> pathlib.Path:
    """An untrained tiny threat model (64 px input) exported through the real export path.

    Its scores are arbitrary (untrained); it exists so service and CLI tests can load a real
    ``model.onnx`` + ``model.json`` folder in a few seconds. Layout: ``<tmp>/tiny-threat/0.0.1``.
    """
    import torch

    from vision.preprocess import PreprocessSpec
    from vision.train.export import export_model
    from vision.train.model import build_model

    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("models") / "tiny-threat" / "0.0.1"
    return export_model(
        build_model((4, 8, 8, 8)),
        folder,
        name="tiny-threat",
        version="0.0.1",
        spec=PreprocessSpec(input_size=64),
        threshold=0.5,
    )


@pytest.fixture(scope="session")
def postgres():  # type: ignore[no-untyped-def]
    """A throw-away PostgreSQL server for the session (skips where Debian's ``postgresql`` is absent:
    the README's test command installs it, so CI always runs these)."""
    from tests.helpers import Postgres, postgres_bin

    if postgres_bin() is None:
        pytest.skip("PostgreSQL is not installed (apt-get install -y postgresql)")
    server = Postgres()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: pathlib.Path) -> str:
    """A fresh store URL: SQLite in ``tmp_path``, then a new database on the session's PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'store.db'}"
    server = request.getfixturevalue("postgres")
    return str(server.new_database())
