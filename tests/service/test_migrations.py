"""The schema comes from Alembic migrations, on SQLite and PostgreSQL: models and migrations agree, and a
store from before migrations is adopted with its rows."""

from __future__ import annotations

import uuid

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text

from service.store.base import Base
from service.store.db import Store
from service.store.tables import Scan


def differences(store: Store) -> list:
    with store.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return list(compare_metadata(context, Base.metadata))


def test_a_new_store_is_made_by_the_migrations_and_matches_the_models(database_url: str) -> None:
    store = Store(database_url)
    store.create_tables()
    with store.engine.connect() as connection:
        assert connection.execute(text("SELECT version_num FROM alembic_version")).scalar() == "0001"
    assert differences(store) == []
    store.create_tables()  # again: nothing to do
    assert differences(store) == []
    store.close()


def test_a_store_from_before_migrations_is_adopted_with_its_rows(database_url: str) -> None:
    store = Store(database_url)
    # As `create_all` of an older release made it: no drill tables, fewer columns, no alembic_version.
    Base.metadata.create_all(store.engine)
    scan_id = uuid.uuid4()
    with store.engine.begin() as connection:
        for table in ("drills", "drill_settings"):
            connection.execute(text(f'DROP TABLE "{table}"'))
        connection.execute(text('ALTER TABLE "feedback" DROP COLUMN "drill"'))
        connection.execute(text('ALTER TABLE "scans" DROP COLUMN "modality"'))
        connection.execute(text('DROP INDEX "ix_scans_verdict"'))
        connection.execute(
            text(
                "INSERT INTO scans (id, created, image_sha256, image_path, format, width, height, verdict, "
                "score, threshold, model_name, model_version, detections, latency_ms) VALUES (:id, "
                ":created, 'ab', 'images/ab.png', 'png', 4, 3, 'clear', 0.1, 0.5, 'm', '1', '[]', 1.0)"
            ),
            {"id": scan_id.hex if store.is_sqlite else str(scan_id), "created": "2026-11-01 10:00:00"},
        )
    assert "alembic_version" not in inspect(store.engine).get_table_names()
    store.create_tables()
    assert differences(store) == []
    with store.sessions() as session:
        old = session.get(Scan, scan_id)
        assert old is not None and old.verdict == "clear" and old.modality is None
    store.close()
