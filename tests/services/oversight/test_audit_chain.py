"""The audit chain detects an edited, deleted, inserted or reordered row and names the first bad one;
signed exports detect any change to the exported file."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DatabaseError

from retroface.errors import InvalidInputError
from retroface.services import App, open_app
from retroface.services.cases.manage import open_case
from retroface.services.galleries.manage import create_gallery
from retroface.services.oversight.audit_log import check_export, export_audit, verify_audit

KEY = b"oversight-body-shared-secret-0001"


@pytest.fixture
def logged(app: App, supervisor: App, auditor: App) -> App:
    """Eight real events (DPIA and policy registered, 3 galleries, 3 cases); the auditor's view."""
    for name in ("a", "b", "c"):
        create_gallery(supervisor, name)
    for ref in ("C-1", "C-2", "C-3"):
        open_case(
            app,
            ref,
            purpose="p",
            lawful_basis="law-enforcement",
            offence="theft",
            seriousness="either-way",
        )
    return auditor


def _sql(app: App, *statements: str) -> None:
    """An insider with direct database access: drops the append-only triggers first."""
    on_table = " ON audit_events" if app.db.engine.dialect.name == "postgresql" else ""
    with app.db.engine.begin() as conn:
        conn.exec_driver_sql(f"DROP TRIGGER IF EXISTS audit_events_no_UPDATE{on_table}")
        conn.exec_driver_sql(f"DROP TRIGGER IF EXISTS audit_events_no_DELETE{on_table}")
        for statement in statements:
            conn.execute(text(statement))


def test_intact_chain_verifies(logged: App) -> None:
    status = verify_audit(logged)
    assert status.ok and status.events == 8 and status.first_bad_id is None


def test_database_refuses_update_and_delete_of_audit_rows(logged: App) -> None:

    with pytest.raises(DatabaseError, match="append-only"), logged.db.engine.begin() as conn:
        conn.execute(text("UPDATE audit_events SET actor = 'x' WHERE id = 1"))
    with pytest.raises(DatabaseError, match="append-only"), logged.db.engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_events WHERE id = 1"))


def test_edited_row_is_named(logged: App) -> None:
    _sql(logged, "UPDATE audit_events SET actor = 'someone-else' WHERE id = 3")
    status = verify_audit(logged)
    assert not status.ok and status.first_bad_id == 3 and "changed" in status.reason


def test_deleted_row_breaks_the_next_link(logged: App) -> None:
    _sql(logged, "DELETE FROM audit_events WHERE id = 2")
    status = verify_audit(logged)
    assert not status.ok and status.first_bad_id == 3 and "link" in status.reason


def test_inserted_row_is_detected(logged: App) -> None:
    _sql(
        logged,
        "UPDATE audit_events SET id = 1000 + id WHERE id >= 5",
        "INSERT INTO audit_events (id, occurred_at, actor, action, object_type, object_id, details,"
        " prev_hash, event_hash) SELECT 5, occurred_at, 'forger', action, object_type, object_id,"
        " details, prev_hash, event_hash FROM audit_events WHERE id = 4",
    )
    status = verify_audit(logged)
    assert not status.ok and status.first_bad_id == 5


def test_reordered_rows_are_detected(logged: App) -> None:
    _sql(
        logged,
        "UPDATE audit_events SET id = 99 WHERE id = 2",
        "UPDATE audit_events SET id = 2 WHERE id = 3",
        "UPDATE audit_events SET id = 3 WHERE id = 99",
    )
    status = verify_audit(logged)
    assert not status.ok and status.first_bad_id == 2


def test_signed_export_round_trip_and_tamper(logged: App, tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    exported = export_audit(logged, path, KEY)
    assert exported.events == 8
    assert check_export(path, KEY).signature_valid is True
    assert check_export(path, b"another-key-of-enough-length").signature_valid is False
    lines = path.read_text().splitlines(keepends=True)
    path.write_text("".join(lines[:2] + lines[3:]))  # drop one event
    assert check_export(path, KEY).signature_valid is False
    with pytest.raises(InvalidInputError, match="at least"):
        export_audit(logged, tmp_path / "x.jsonl", b"short")
    # The export itself is audited, and the chain still verifies.
    assert verify_audit(logged).ok


def test_the_auditors_export_to_the_database_path_is_refused_and_the_database_still_opens(
    logged: App,
) -> None:
    database = logged.settings.home / "retroface.sqlite3"
    for target in (database, logged.settings.home / "index" / "audit.jsonl"):
        with pytest.raises(InvalidInputError, match="inside the data directory"):
            export_audit(logged, target, KEY)
        with pytest.raises(InvalidInputError, match="inside the data directory"):
            export_audit(logged, target, KEY, force=True)  # --force never reaches inside
    reopened = open_app(logged.settings, principal=logged.principal)
    try:
        status = verify_audit(reopened)
        assert status.ok and status.events == 8
    finally:
        reopened.close()


def test_an_existing_export_file_is_replaced_only_with_force(logged: App, tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    path.write_text("the oversight body's earlier copy\n")
    with pytest.raises(InvalidInputError, match="--force"):
        export_audit(logged, path, KEY)
    assert path.read_text() == "the oversight body's earlier copy\n"
    exported = export_audit(logged, path, KEY, force=True)
    assert check_export(path, KEY).signature_valid is True and exported.events == 8
