"""Which database the tests run against: SQLite in each test's data directory (default), or
a fresh PostgreSQL database per test when ``RETROFACE_TEST_DATABASE_URL`` names a server.

Each PostgreSQL test database is copied from a template migrated once per run
(``CREATE DATABASE ... TEMPLATE``), so a test starts in milliseconds with the
real schema, triggers included. CLI subprocesses get the same database via
:func:`cli_env`.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from retroface.store import open_database

SERVER_URL = os.environ.get("RETROFACE_TEST_DATABASE_URL") or None
#: One template per pytest-xdist worker: a worker drops and re-creates its template at its
#: start, and PostgreSQL refuses to copy a template another session is reading.
TEMPLATE = f"retroface_test_template_{os.environ.get('PYTEST_XDIST_WORKER', 'main')}"
_url_by_home: dict[Path, str] = {}
_template_ready: list[bool] = []


def _admin_execute(*statements: str) -> None:
    assert SERVER_URL is not None
    engine = create_engine(SERVER_URL, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            for statement in statements:
                connection.execute(text(statement))
    finally:
        engine.dispose()


def _database_url(name: str) -> str:
    assert SERVER_URL is not None
    return make_url(SERVER_URL).set(database=name).render_as_string(hide_password=False)


def _ensure_template() -> None:
    if _template_ready:
        return

    _admin_execute(
        f"DROP DATABASE IF EXISTS {TEMPLATE} WITH (FORCE)", f"CREATE DATABASE {TEMPLATE}"
    )
    open_database(_database_url(TEMPLATE)).close()  # migrate to head once
    _template_ready.append(True)


def fresh_database(home: Path) -> str | None:
    """A new, migrated PostgreSQL database for the data directory ``home`` (None on SQLite)."""
    if SERVER_URL is None:
        return None
    _ensure_template()
    name = f"retroface_t_{uuid.uuid4().hex[:12]}"
    _admin_execute(f"CREATE DATABASE {name} TEMPLATE {TEMPLATE}")
    url = _database_url(name)
    _url_by_home[home.resolve()] = url
    return url


def drop_database(url: str | None) -> None:
    if url is None:
        return
    name = make_url(url).database
    _admin_execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def cli_env(home: Path, **extra: str) -> dict[str, str]:
    """The environment for a CLI subprocess on the data directory ``home`` (and its database).

    The CLI keeps its log-in session in the user's configuration folder; each test gets
    its own (``xdg-config`` beside ``home``), so no test reads another's session or the
    real user's.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("RETROFACE_")}
    env["RETROFACE_HOME"] = str(home)
    env["XDG_CONFIG_HOME"] = str(home.resolve().parent / "xdg-config")
    url = _url_by_home.get(home.resolve())
    if url is not None:
        env["RETROFACE_DATABASE_URL"] = url
    return env | extra
