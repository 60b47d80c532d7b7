"""Doctor: the database itself — SQLite integrity and foreign keys, the schema revision, the audit chain."""

from __future__ import annotations

import sqlite3
from datetime import timedelta
from pathlib import Path
from typing import Any

from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import make_url

from retroface.errors import InvalidInputError
from retroface.services.app import App
from retroface.services.operations.doctor.findings import (
    MAX_EXAMPLES,
    Finding,
    Repair,
    make_finding,
)
from retroface.services.oversight.audit_checkpoints import AnchorStatus
from retroface.services.oversight.audit_log import chain_status
from retroface.store.database import alembic_config


def sqlite_path(app: App) -> Path | None:
    """The SQLite database file, or None for a server database."""
    url = make_url(app.db.url)
    if url.get_backend_name() != "sqlite" or not url.database:
        return None
    return Path(url.database)


def _sqlite_rows(app: App, pragma: str) -> list[tuple[Any, ...]] | None:
    """Run a read-only PRAGMA on its own connection (no write lock, unlike a unit of work)."""
    path = sqlite_path(app)
    if path is None:
        return None
    connection = sqlite3.connect(path, timeout=30)
    try:
        return connection.execute(pragma).fetchall()
    finally:
        connection.close()


def _not_applicable(name: str, why: str, repair: str) -> tuple[Finding, Repair | None]:
    return Finding(name=name, status="not-applicable", detail=why, repair=repair), None


def sqlite_integrity(app: App, _: timedelta) -> tuple[Finding, Repair | None]:
    repair = "none: restore the last good backup ('retroface backup restore')"
    rows = _sqlite_rows(app, "PRAGMA integrity_check")
    if rows is None:
        return _not_applicable(
            "sqlite-integrity",
            "PostgreSQL checks its own pages (use amcheck / pg_amcheck)",
            repair,
        )
    errors = [str(r[0]) for r in rows if r[0] != "ok"]
    return make_finding(
        "sqlite-integrity",
        errors,
        ok="PRAGMA integrity_check: ok",
        found="PRAGMA integrity_check reported {n} problem(s)",
        repair=repair,
    ), None


def sqlite_foreign_keys(app: App, _: timedelta) -> tuple[Finding, Repair | None]:
    """Rows written with enforcement off (another tool) can break references SQLite enforces."""
    repair = "none: the rows name their table and row id; restore a backup or fix by hand"
    rows = _sqlite_rows(app, "PRAGMA foreign_key_check")
    if rows is None:
        return _not_applicable(
            "sqlite-foreign-keys", "PostgreSQL always enforces foreign keys", repair
        )
    problems = [f"{table} row {rowid} -> {parent}" for table, rowid, parent, _ in rows]
    return make_finding(
        "sqlite-foreign-keys",
        problems,
        ok="PRAGMA foreign_key_check: no violations",
        found="{n} row(s) reference a missing parent row",
        repair=repair,
    ), None


def schema_heads(url: str) -> tuple[set[str], set[str]]:
    """(head revisions of this retroface's migrations, every revision it knows)."""
    script = ScriptDirectory.from_config(alembic_config(url))
    return set(script.get_heads()), {r.revision for r in script.walk_revisions()}


def schema_revision(app: App, _: timedelta) -> tuple[Finding, Repair | None]:
    with app.db.engine.connect() as connection:
        current = set(MigrationContext.configure(connection).get_current_heads())
    heads, _known = schema_heads(app.db.url)
    problems = (
        [] if current == heads else [f"database at {sorted(current)}, code at {sorted(heads)}"]
    )
    return make_finding(
        "schema-revision",
        problems,
        ok=f"schema at the latest migration ({', '.join(sorted(heads))})",
        found="the schema is not at this retroface's latest migration",
        repair="none: every command migrates on start; a newer schema needs a newer retroface",
    ), None


def audit_chain(app: App, _: timedelta) -> tuple[Finding, Repair | None]:
    """The hash chain and its signed checkpoints: the same check as 'audit verify'."""
    repair = (
        "never: the log is evidence; compare a signed export ('audit check-export') or "
        "restore a backup, and report the incident"
    )
    try:
        status = chain_status(app)
    except InvalidInputError as exc:  # an unreadable checkpoint key or file
        return Finding(
            name="audit-chain",
            status="problem",
            count=1,
            detail=f"the audit checkpoints cannot be checked: {exc}",
            repair="fix the checkpoint settings (RETROFACE_CHECKPOINT_*) and run doctor again",
        ), None
    if status.ok:
        return Finding(
            name="audit-chain",
            status="ok",
            detail=f"hash chain intact: {status.events} events, head {status.head[:16]}; "
            + _anchoring(status.anchor),
            repair=repair,
        ), None
    problems = status.anchor.problems
    examples = [str(status.first_bad_id)] if status.first_bad_id is not None else []
    examples += [str(p.event_id) if p.event_id is not None else f"line {p.line}" for p in problems]
    if status.first_bad_id is not None:
        detail = f"hash chain broken at event {status.first_bad_id}: {status.reason}"
    else:
        detail = f"the log does not match its signed checkpoints: {problems[0].detail}"
    if status.first_bad_id is not None and problems:
        detail += f"; and {len(problems)} checkpoint problem(s): {problems[0].detail}"
    return Finding(
        name="audit-chain",
        status="problem",
        count=(status.first_bad_id is not None) + len(problems),
        detail=detail,
        repair=repair,
        examples=examples[:MAX_EXAMPLES],
    ), None


def _anchoring(anchor: AnchorStatus) -> str:
    if not anchor.anchored:
        return "; ".join(anchor.warnings) or "unanchored"
    return (
        f"anchored by {anchor.checkpoints} signed checkpoint(s), the last at "
        f"{anchor.last_checkpoint_at} (event {anchor.last_checkpoint_event_id}); "
        f"{anchor.events_since_checkpoint} event(s) since"
    )
