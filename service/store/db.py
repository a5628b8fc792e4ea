"""The database handle: engine, sessions, schema migrations and a write probe.

SQLite (the default) runs in WAL mode so readers never block the writer, with a busy timeout so
concurrent writers wait instead of failing. PostgreSQL (``postgresql+psycopg://...``, the ``postgres``
extra) is tested the same way. The schema is Alembic's (``service/store/migrations``): every store starts
from the migrations, and a store made before them (by ``create_all``) is adopted by the first.
"""

from __future__ import annotations

import importlib
import pathlib
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, create_engine, event, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from service.store import TABLE_MODULES
from service.store.base import utc_now


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
        """Bring the schema to the newest migration (:func:`migrate`)."""
        migrate(self.engine)

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


MIGRATIONS = pathlib.Path(__file__).with_name("migrations")


def alembic_config(connection: Connection) -> Config:
    """Alembic's configuration for the service's migrations, on ``connection``."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def migrate(engine: Engine) -> None:
    """Upgrade the store to the newest migration, in one transaction. A store from before migrations is
    adopted by the first one (``0001``), which completes the tables it finds instead of creating them."""
    for module in TABLE_MODULES:
        importlib.import_module(module)
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            # One migrator at a time when several API processes start together on one database.
            connection.execute(text("SELECT pg_advisory_xact_lock(7406316)"))
        command.upgrade(alembic_config(connection), "head")
