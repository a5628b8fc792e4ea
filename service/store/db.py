"""The database handle: engine, sessions, table creation and a write probe.

SQLite (the default) runs in WAL mode so readers never block the writer, with a busy timeout so
concurrent writers wait instead of failing; any other SQLAlchemy URL (PostgreSQL) works unchanged.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, create_engine, event, inspect, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from service.store import TABLE_MODULES
from service.store.base import Base, utc_now


class Store:
    """A database with the service's tables.

    Args:
        url: SQLAlchemy database URL.
        sqlite_synchronous: SQLite ``synchronous`` pragma; FULL makes each commit durable across power loss.
    """

    def __init__(self, url: str, sqlite_synchronous: str = "FULL") -> None:
        self.url = url
        self.is_sqlite = make_url(url).get_backend_name() == "sqlite"
        connect_args: dict[str, Any] = {"timeout": 30} if self.is_sqlite else {}
        self.engine: Engine = create_engine(url, connect_args=connect_args, pool_pre_ping=not self.is_sqlite)
        if self.is_sqlite:
            self._set_sqlite_pragmas(sqlite_synchronous)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)

    def _set_sqlite_pragmas(self, synchronous: str) -> None:
        @event.listens_for(self.engine, "connect")
        def _on_connect(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute(f"PRAGMA synchronous={synchronous}")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

    def create_tables(self) -> None:
        """Create every table of every module in ``TABLE_MODULES`` that does not exist yet."""
        for module in TABLE_MODULES:
            importlib.import_module(module)
        Base.metadata.create_all(self.engine)
        self._add_missing_columns()

    def _add_missing_columns(self) -> None:
        """Add the nullable columns a newer release gave an existing table (``create_all`` only makes
        missing tables), so a data folder from before them keeps working; its old rows read ``NULL``.

        Only nullable columns without a server default are added this way: anything more is a schema
        migration, which this store does not do.
        """
        inspector = inspect(self.engine)
        present = set(inspector.get_table_names())
        with self.engine.begin() as connection:
            for table in Base.metadata.sorted_tables:
                if table.name not in present:
                    continue
                have = {c["name"] for c in inspector.get_columns(table.name)}
                for column in table.columns:
                    if column.name in have or not column.nullable or column.primary_key:
                        continue
                    kind = column.type.compile(dialect=self.engine.dialect)
                    connection.execute(text(f'ALTER TABLE "{table.name}" ADD COLUMN "{column.name}" {kind}'))

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session whose transaction commits on success and rolls back on any error."""
        with self.sessions.begin() as session:
            yield session

    def probe_writable(self) -> None:
        """Write one row and commit, proving the store accepts writes.

        Raises:
            sqlalchemy.exc.SQLAlchemyError: the store cannot be written.
        """
        from service.store.tables import StoreProbe

        with self.session() as session:
            probe = session.scalars(select(StoreProbe).where(StoreProbe.id == 1)).first()
            if probe is None:
                session.add(StoreProbe(id=1, checked=utc_now()))
            else:
                probe.checked = utc_now()

    def close(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()
