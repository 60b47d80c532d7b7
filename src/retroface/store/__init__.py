"""The database: SQLAlchemy 2 models, repositories and a unit of work.

SQLite in the data directory by default, PostgreSQL by URL; the schema is
managed by Alembic migrations that run on open. Knows nothing of faces or
HTTP: vectors are stored as bytes with their model and dimension.
"""

from retroface.store.database import Database, open_database
from retroface.store.unit_of_work import UnitOfWork

__all__ = ["Database", "UnitOfWork", "open_database"]
