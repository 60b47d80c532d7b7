"""The database: SQLAlchemy 2 models, repositories and a unit of work.

SQLite in the data directory by default, PostgreSQL by URL; the schema is
managed by Alembic migrations that run on open. Knows nothing of faces or
HTTP: vectors are stored as bytes with their model and dimension.

The names below are imported from their modules on first use (PEP 562), so importing one
module of the package does not load the others (the models need no Alembic).
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

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

    def __getattr__(name: str) -> Any:
        if name not in _SOURCES:
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
        value = getattr(import_module(_SOURCES[name]), name)
        globals()[name] = value  # later look-ups skip this function
        return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
