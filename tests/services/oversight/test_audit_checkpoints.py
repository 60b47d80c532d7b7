"""Signed checkpoints anchor the audit chain outside the database: once one exists, deleting
the log's tail, deleting every row, or rewriting a row and recomputing every later hash are
each detected by 'audit verify' and by doctor; so is an altered checkpoint line."""

from __future__ import annotations

import json
import os
import stat
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, text

from retroface.errors import AuthorisationError, InvalidInputError
from retroface.governance.audit import digest_of, verify_chain
from retroface.governance.audit_checkpoint import load_private_key, public_key_text
from retroface.server import create_server
from retroface.services import App, open_app
from retroface.services.cases.manage import open_case
from retroface.services.galleries.manage import create_gallery
from retroface.services.operations.doctor import run_doctor
from retroface.services.oversight.audit_checkpoints import (
    CheckpointSchedule,
    checkpoint_audit,
    generate_checkpoint_key,
    wait_for_webhooks,
)
from retroface.services.oversight.audit_log import ChainStatus, export_audit, verify_audit
from retroface.settings import Settings
from retroface.store.models import AuditEvent
from tests.conftest import ADMIN, AUDITOR, OPERATOR, SUPERVISOR, make_ready

EXPORT_KEY = b"oversight-body-shared-secret-0001"


def _open(settings: Settings) -> App:
    """A ready installation with a few real events (3 galleries, 3 cases), as the operator."""
    app = make_ready(open_app(settings, principal=OPERATOR))
    for name in ("a", "b", "c"):
        create_gallery(app.acting_as(SUPERVISOR), name)
    for ref in ("C-1", "C-2", "C-3"):
        _open_case(app, ref)
    return app


def _open_case(app: App, reference: str) -> None:
    open_case(
        app.acting_as(OPERATOR),
        reference,
        purpose="p",
        lawful_basis="law-enforcement",
        offence="theft",
        seriousness="either-way",
    )


@pytest.fixture
def key_file(tmp_path: Path, settings: Settings) -> Path:
    path = tmp_path / "keys" / "checkpoint.pem"
    generate_checkpoint_key(path, settings)
    return path


@pytest.fixture
def anchored(settings: Settings, key_file: Path) -> Iterator[App]:
    """An installation with a checkpoint key (outside its data directory); the auditor's view."""
    app = _open(settings.with_(checkpoint_key_file=key_file))
    yield app.acting_as(AUDITOR)
    app.close()


def _checkpoint_file(app: App) -> Path:
    path = app.settings.checkpoint_path
    assert path is not None
    return path


def _lines(app: App) -> list[dict[str, Any]]:
    return [json.loads(line) for line in _checkpoint_file(app).read_text().splitlines()]


def _events(app: App, action: str | None = None) -> list[AuditEvent]:
    query = select(AuditEvent).order_by(AuditEvent.id)
    if action is not None:
        query = query.where(AuditEvent.action == action)
    with app.unit_of_work() as uow:
        events = list(uow.session.scalars(query))
        uow.session.expunge_all()
    return events


def _count(app: App) -> int:
    with app.unit_of_work() as uow:
        return int(uow.session.scalar(select(func.count(AuditEvent.id))) or 0)


def _insider(app: App, *statements: str) -> None:
    """Someone with direct database access: drops the append-only triggers first."""
    on_table = " ON audit_events" if app.db.engine.dialect.name == "postgresql" else ""
    with app.db.engine.begin() as conn:
        conn.exec_driver_sql(f"DROP TRIGGER IF EXISTS audit_events_no_UPDATE{on_table}")
        conn.exec_driver_sql(f"DROP TRIGGER IF EXISTS audit_events_no_DELETE{on_table}")
        for statement in statements:
            conn.execute(text(statement))


def _doctor_finding(app: App) -> tuple[str, str, int]:
    report = run_doctor(app.acting_as(ADMIN))
    (finding,) = [f for f in report.findings if f.name == "audit-chain"]
    return finding.status, finding.detail, finding.count


def _tampered(status: ChainStatus) -> set[str]:
    assert not status.ok
    return {p.kind for p in status.anchor.problems}


def test_a_checkpoint_signs_the_head_its_own_audit_event_makes(anchored: App) -> None:
    before = _count(anchored)
    written = checkpoint_audit(anchored)
    (event,) = _events(anchored, "audit.checkpoint_written")
    assert event.actor == AUDITOR.username and event.details["reason"] == "on-demand"
    assert event.details["key_id"] == written.key_id
    assert (written.event_id, written.event_hash) == (event.id, event.event_hash)
    assert written.events == before + 1 == _count(anchored)
    (line,) = _lines(anchored)
    assert line["event_id"] == event.id and line["event_hash"] == event.event_hash
    assert line["algorithm"] == "Ed25519" and line["events"] == written.events
    status = verify_audit(anchored)
    assert status.ok and status.anchor.anchored and status.anchor.checkpoints == 1
    assert status.anchor.events_since_checkpoint == 0 and status.anchor.warnings == []
    assert status.anchor.last_checkpoint_at == line["at"]


def test_events_newer_than_the_last_checkpoint_are_counted(anchored: App) -> None:
    checkpoint_audit(anchored)
    _open_case(anchored, "C-4")
    _open_case(anchored, "C-5")
    status = verify_audit(anchored)
    assert status.ok and status.anchor.anchored
    assert status.anchor.events_since_checkpoint == 2
    checkpoint_audit(anchored)
    later = verify_audit(anchored)
    assert later.anchor.checkpoints == 2 and later.anchor.events_since_checkpoint == 0


def test_deleting_the_tail_of_the_log_is_detected_by_verify_and_doctor(anchored: App) -> None:
    checkpoint_audit(anchored)
    last = _count(anchored)
    _insider(anchored, f"DELETE FROM audit_events WHERE id > {last - 3}")
    assert verify_chain_ok(anchored)  # the hash chain alone cannot tell
    status = verify_audit(anchored)
    assert _tampered(status) == {"truncated"} and status.first_bad_id is None
    assert "truncated" in status.reason and f"ends at event {last - 3}" in status.reason
    state, detail, count = _doctor_finding(anchored)
    assert (state, count) == ("problem", 1) and "truncated" in detail


def test_deleting_every_row_is_detected_by_verify_and_doctor(anchored: App) -> None:
    checkpoint_audit(anchored)
    _insider(anchored, "DELETE FROM audit_events")
    status = verify_audit(anchored)
    assert _tampered(status) == {"truncated"} and "the log is empty" in status.reason
    state, detail, _ = _doctor_finding(anchored)
    assert state == "problem" and "the log is empty" in detail


def test_rewriting_a_row_and_rechaining_every_later_hash_is_detected(anchored: App) -> None:
    checkpoint_audit(anchored)
    _open_case(anchored, "C-4")  # one event after the checkpoint
    _insider(anchored)  # triggers dropped; the rewrite goes through the ORM
    with anchored.unit_of_work() as uow:
        previous = None
        for event in uow.session.scalars(select(AuditEvent).order_by(AuditEvent.id)):
            if event.id == 3:
                event.actor = "someone-else"
            if event.id >= 3:
                event.prev_hash = previous
                event.event_hash = digest_of(event)
            previous = event.event_hash
        uow.commit()
    assert verify_chain_ok(anchored)  # a full re-chain: every link checks again
    status = verify_audit(anchored)
    assert _tampered(status) == {"rewritten"} and "re-chained" in status.reason
    state, detail, _ = _doctor_finding(anchored)
    assert state == "problem" and "re-chained" in detail


def test_deleting_a_checkpointed_event_from_the_middle_is_named(anchored: App) -> None:
    first = checkpoint_audit(anchored)
    _open_case(anchored, "C-4")
    checkpoint_audit(anchored)
    _insider(anchored, f"DELETE FROM audit_events WHERE id = {first.event_id}")
    status = verify_audit(anchored)
    # The chain names the broken link; the checkpoint names the event that went.
    assert status.first_bad_id == first.event_id + 1
    assert "deleted" in _tampered(status)


def test_a_tampered_checkpoint_line_is_detected(anchored: App, tmp_path: Path) -> None:
    checkpoint_audit(anchored)
    path = _checkpoint_file(anchored)
    (line,) = _lines(anchored)
    forged = {**line, "events": line["events"] - 1}  # made to match a shortened log
    path.write_text(json.dumps(forged) + "\n")
    status = verify_audit(anchored)
    assert _tampered(status) == {"bad-signature"} and not status.anchor.anchored
    # A line signed with another key does not verify either, nor does a line of garbage.
    other = tmp_path / "other" / "checkpoint.pem"
    generate_checkpoint_key(other, anchored.settings)
    impostor = replace(anchored, settings=anchored.settings.with_(checkpoint_key_file=other))
    checkpoint_audit(impostor)
    path.write_text(_checkpoint_file(impostor).read_text() + "not a checkpoint\n", encoding="utf-8")
    status = verify_audit(anchored)
    assert _tampered(status) == {"bad-signature", "malformed"}
    state, _, count = _doctor_finding(anchored)
    assert (state, count) == ("problem", 2)


def test_deleting_the_checkpoint_file_is_detected_while_the_log_records_its_lines(
    anchored: App,
) -> None:
    written = checkpoint_audit(anchored)
    _checkpoint_file(anchored).unlink()
    later = replace(anchored, clock=lambda: anchored.now() + timedelta(minutes=2))
    status = verify_audit(later)
    assert _tampered(status) == {"missing-line"}
    assert status.anchor.problems[0].event_id == written.event_id
    # Within a minute of writing, the line may still be on its way: not yet a problem.
    assert verify_audit(anchored).ok


def test_without_a_checkpoint_key_the_chain_is_unanchored_but_verifies(
    settings: Settings,
) -> None:
    app = _open(settings)
    try:
        status = verify_audit(app.acting_as(AUDITOR))
        assert status.ok and not status.anchor.configured and not status.anchor.anchored
        assert any("unanchored" in w for w in status.anchor.warnings)
        state, detail, _ = _doctor_finding(app)
        assert state == "ok" and "unanchored" in detail
        with pytest.raises(InvalidInputError, match="RETROFACE_CHECKPOINT_KEY_FILE"):
            checkpoint_audit(app.acting_as(AUDITOR))
    finally:
        app.close()


def test_a_configured_key_with_no_checkpoint_yet_warns(anchored: App) -> None:
    status = verify_audit(anchored)
    assert status.ok and status.anchor.configured and not status.anchor.anchored
    assert any("no checkpoint" in w for w in status.anchor.warnings)


def test_an_auditor_with_only_the_public_key_checks_the_checkpoints(
    anchored: App, tmp_path: Path
) -> None:
    checkpoint_audit(anchored)
    public = generate_key_public(anchored)
    checker = replace(
        anchored,
        settings=anchored.settings.with_(
            checkpoint_key_file=None,
            checkpoint_public_key=public,
            checkpoint_file=_checkpoint_file(anchored),
        ),
    )
    assert verify_audit(checker).anchor.anchored
    _insider(anchored, "DELETE FROM audit_events")
    assert _tampered(verify_audit(checker)) == {"truncated"}
    with pytest.raises(InvalidInputError, match="no audit checkpoint key"):
        checkpoint_audit(checker)  # the public key checks checkpoints, it cannot make one


def test_a_checkpoint_key_or_file_inside_the_data_directory_is_refused(
    settings: Settings, tmp_path: Path
) -> None:
    inside = settings.home / "checkpoint.pem"
    with pytest.raises(InvalidInputError, match="inside the data directory"):
        generate_checkpoint_key(inside, settings)
    assert not inside.exists()
    outside = tmp_path / "elsewhere" / "checkpoint.pem"
    generated = generate_checkpoint_key(outside, settings)
    assert stat.S_IMODE(os.stat(outside).st_mode) == 0o600
    assert len(generated.public_key) == 44  # base64 of 32 bytes
    with pytest.raises(InvalidInputError, match="keys are never overwritten"):
        generate_checkpoint_key(outside, settings)
    settings.home.mkdir(parents=True, exist_ok=True)
    inside.write_bytes(outside.read_bytes())  # copied in by hand
    for changes in (
        {"checkpoint_key_file": inside},
        {"checkpoint_key_file": outside, "checkpoint_file": settings.home / "cp.jsonl"},
    ):
        with pytest.raises(InvalidInputError, match="inside the data directory"):
            open_app(settings.with_(**changes))


def test_only_auditors_and_admins_write_a_checkpoint_on_demand(anchored: App) -> None:
    checkpoint_audit(anchored.acting_as(ADMIN))
    with pytest.raises(AuthorisationError):
        checkpoint_audit(anchored.acting_as(OPERATOR))
    assert len(_lines(anchored)) == 1


def test_an_audit_export_writes_a_checkpoint(anchored: App, tmp_path: Path) -> None:
    exported = export_audit(anchored, tmp_path / "audit.jsonl", EXPORT_KEY)
    assert exported.checkpoint is not None
    (event,) = _events(anchored, "audit.checkpoint_written")
    assert event.details["reason"] == "export" and exported.checkpoint.event_id == event.id
    assert verify_audit(anchored).anchor.events_since_checkpoint == 0


def test_the_server_writes_checkpoints_on_its_schedule_and_at_shutdown(anchored: App) -> None:
    server_app = replace(anchored, settings=anchored.settings.with_(checkpoint_interval_s=0.05))
    with TestClient(create_server(application=server_app)):
        assert _wait_for(lambda: len(_events(anchored, "audit.checkpoint_written")) == 1)
        time.sleep(0.3)  # idle: nothing new to anchor, so no more checkpoints
        assert len(_events(anchored, "audit.checkpoint_written")) == 1
        _open_case(anchored, "C-4")
        assert _wait_for(lambda: len(_events(anchored, "audit.checkpoint_written")) == 2)
    scheduled = _events(anchored, "audit.checkpoint_written")
    assert {e.details["reason"] for e in scheduled} == {"schedule"}
    assert {e.actor for e in scheduled} == {"retroface-server"}
    # No schedule (interval 0): the server still anchors what happened while it ran.
    quiet = replace(anchored, settings=anchored.settings.with_(checkpoint_interval_s=0))
    with TestClient(create_server(application=quiet)):
        _open_case(anchored, "C-5")
    last = _events(anchored, "audit.checkpoint_written")[-1]
    assert last.details["reason"] == "shutdown"
    assert verify_audit(anchored).anchor.events_since_checkpoint == 0
    assert len(_lines(anchored)) == 3


def test_a_schedule_that_cannot_write_keeps_running_and_says_so(anchored: App) -> None:
    broken = replace(
        anchored,
        settings=anchored.settings.with_(checkpoint_key_file=Path("/nonexistent/key.pem")),
    )
    schedule = CheckpointSchedule(broken)
    assert schedule.write("schedule") is None and schedule.failures == 1


def test_checkpoints_are_posted_to_the_webhook_and_a_failure_is_audited(
    anchored: App,
) -> None:
    received: list[dict[str, Any]] = []

    class Receiver(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append(json.loads(body))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *_: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_port}/checkpoints?token=secret"
        posting = replace(anchored, settings=anchored.settings.with_(checkpoint_webhook=url))
        written = checkpoint_audit(posting)
        wait_for_webhooks()
        assert received == _lines(anchored) and received[0]["event_id"] == written.event_id
    finally:
        server.shutdown()
        server.server_close()
    # Nobody listening: the checkpoint is still written, the failure logged and audited.
    checkpoint_audit(posting)  # the receiver above is gone
    wait_for_webhooks()
    (failure,) = _events(anchored, "audit.checkpoint_webhook_failed")
    assert failure.details["host"] == "127.0.0.1" and "secret" not in json.dumps(failure.details)
    assert len(_lines(anchored)) == 2 and verify_audit(anchored).ok


def generate_key_public(app: App) -> str:
    """The public key of the installation's checkpoint key, as an oversight body holds it."""
    assert app.settings.checkpoint_key_file is not None
    return public_key_text(load_private_key(app.settings.checkpoint_key_file).public_key())


def verify_chain_ok(app: App) -> bool:
    with app.unit_of_work() as uow:
        return verify_chain(uow.session).ok


def _wait_for(condition: Any, timeout_s: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return False
