"""The database: SQLAlchemy 2 models, repositories and a unit of work.

SQLite in the data directory by default, PostgreSQL by URL; the schema is
managed by Alembic migrations that run on open. Knows nothing of faces or
HTTP: vectors are stored as bytes with their model and dimension.

The names below are imported from their modules on first use (PEP 562), so importing one
module of the package does not load the others (the models need no Alembic).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from retroface.lazy_names import lazy_names

if TYPE_CHECKING:
    from retroface.store.database import Database, open_database
    from retroface.store.unit_of_work import UnitOfWork

#: Where each name below lives; it is imported from there on first use.
_SOURCES = {
    "Database": "retroface.store.database",
    "open_database": "retroface.store.database",
    "UnitOfWork": "retroface.store.unit_of_work",
}

__all__ = [
    "Database",
    "UnitOfWork",
    "open_database",
]


if not TYPE_CHECKING:  # type checkers read the imports above (a __getattr__ would admit any name)
    __getattr__, __dir__ = lazy_names(__name__, _SOURCES, __all__)
