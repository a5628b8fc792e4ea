"""Alembic's entry: migrations run on the connection ``service.store.db.Store`` hands over (never a URL
from a file), against the metadata of every table module."""

from __future__ import annotations

import importlib

from alembic import context

from service.store import TABLE_MODULES
from service.store.base import Base

for module in TABLE_MODULES:
    importlib.import_module(module)

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    # SQLite alters a table by copying it (ALTER TABLE there cannot change or drop columns).
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
