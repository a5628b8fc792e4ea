"""The service's store: SQLAlchemy tables (one ``Base``), the database handle, and image files on disk.

``TABLE_MODULES`` lists the modules that define tables; add yours (e.g. ``"service.store.camera"``) so
``Store.create_tables`` creates them.
"""

from __future__ import annotations

TABLE_MODULES: list[str] = [
    "service.store.tables",
    "service.store.camera",
    "service.store.stations",
    "service.store.drills",
]
