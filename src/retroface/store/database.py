"""Open the database, bring its schema to the latest migration, hand out units of work."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine, create_engine, event, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from retroface.errors import DataIntegrityError, InvalidInputError
from retroface.store.data_protection import DataCipher
from retroface.store.unit_of_work import UnitOfWork

if TYPE_CHECKING:
    from alembic.config import Config

_MIGRATIONS = Path(__file__).resolve().parent / "migrations"


@dataclass
class Database:
    url: str
    engine: Engine
    session_factory: sessionmaker[Session]
    #: Seals and opens biometric data; plaintext until the deployment's key is given
    #: (services/app.py sets it from the data-protection record and the settings' key).
    cipher: DataCipher = field(default_factory=DataCipher.plaintext)

    def unit_of_work(self) -> UnitOfWork:
        return UnitOfWork(self.session_factory, self.cipher)

    def compact(self) -> None:
        """Rewrite an SQLite file so that no overwritten or deleted row survives in its free
        pages or its write-ahead log (after re-encryption, the plaintext or old-key versions
        would otherwise linger there). PostgreSQL keeps old row versions until its own
        VACUUM FULL; docs/security.md says so."""
        if self.engine.dialect.name != "sqlite":
            return
        raw = self.engine.raw_connection()
        try:
            cursor = raw.cursor()
            cursor.execute("VACUUM")
            cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            cursor.close()
        finally:
            raw.close()

    def close(self) -> None:
        self.engine.dispose()


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    """WAL survives crashes mid-write; busy_timeout makes writers queue instead of failing."""
    # Let SQLAlchemy's "begin" event issue BEGIN IMMEDIATE instead of pysqlite's lazy BEGIN.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def _begin_immediate(connection: Any) -> None:
    """Take the write lock at the start: the audit chain head read and append cannot interleave."""
    connection.exec_driver_sql("BEGIN IMMEDIATE")


def alembic_config(url: str) -> Config:
    from alembic.config import Config  # noqa: PLC0415 - Alembic loads only when the schema is read or changed

    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def open_database(url: str, create_dir: Path | None = None) -> Database:
    """Connect and migrate to head; ``create_dir`` is made first (the data directory)."""
    if create_dir is not None:
        ensure_data_directory(create_dir)
    engine = create_engine(url, future=True)
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _begin_immediate)
    try:
        with engine.begin() as connection:
            if not _at_head(connection):
                from alembic import command  # noqa: PLC0415 - Alembic loads only when the schema must change

                config = alembic_config(url)
                config.attributes["connection"] = connection
                command.upgrade(config, "head")
    except DBAPIError as exc:
        engine.dispose()
        raise DataIntegrityError(
            f"cannot open the database at {_shown(url)}: {_reason(exc)}; if it is damaged, "
            "'retroface backup restore' brings back the last backup"
        ) from exc
    factory = sessionmaker(bind=engine, expire_on_commit=False)
    return Database(url=url, engine=engine, session_factory=factory)


#: ``revision = "0009"`` and ``down_revision = "0008"`` (or None) in a migration file, as
#: script.py.mako writes them (with either quote).
_REVISION = re.compile(r"""^(down_revision|revision) = (None|["']([^"']+)["'])$""", re.MULTILINE)


@cache
def head_revision() -> str | None:
    """The newest migration, read from the migration files without Alembic (which takes longer
    to import than a short command takes to run); None unless they form one line of history."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in (_MIGRATIONS / "versions").glob("*.py"):
        found = dict((m[1], m[3]) for m in _REVISION.finditer(path.read_text(encoding="utf-8")))
        if not found.get("revision") or "down_revision" not in found:
            return None
        revisions.add(found["revision"])
        if found["down_revision"] is not None:
            parents.add(found["down_revision"])
    heads = revisions - parents
    return heads.pop() if len(heads) == 1 and parents <= revisions else None


def _at_head(connection: Connection) -> bool:
    """Whether the schema is already at the newest migration, so that upgrading would do
    nothing; anything else (a new, older, newer or unusual database) goes to Alembic."""
    head = head_revision()
    if head is None or not inspect(connection).has_table("alembic_version"):
        return False
    versions = connection.execute(text("SELECT version_num FROM alembic_version")).scalars()
    return list(versions) == [head]


def ensure_data_directory(home: Path) -> None:
    """Create the data directory, or say in a sentence why it cannot be one."""
    if home.exists() and not home.is_dir():
        raise InvalidInputError(
            f"{home} is a file, not a data directory; name a folder with --home or RETROFACE_HOME"
        )
    try:
        home.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InvalidInputError(
            f"cannot create the data directory {home} ({exc.strerror})"
        ) from exc


def _shown(url: str) -> str:
    """The database as a person can name it: the SQLite file, or the server URL without its
    password."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return str(parsed.database)
    return parsed.render_as_string(hide_password=True)


def _reason(exc: DBAPIError) -> str:
    """The driver's own first line ("file is not a database"), without SQL or parameters."""
    return str(exc.orig).splitlines()[0] if exc.orig is not None else type(exc).__name__
