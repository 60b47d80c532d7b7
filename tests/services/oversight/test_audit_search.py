"""The auditor's search of the log: by user, action, case and time, a page at a time (keyset
paging that events written meanwhile never shift), and the matching rows as a CSV sheet.
Each search and each export is itself audited with its filters."""

from __future__ import annotations

import csv
import io
from dataclasses import replace
from datetime import timedelta

import pytest
from sqlalchemy import select

from retroface.errors import AuthorisationError, InvalidInputError
from retroface.services import App
from retroface.services.cases.manage import open_case
from retroface.services.galleries.manage import create_gallery
from retroface.services.oversight.audit_log import (
    AuditFilter,
    audit_actions,
    export_audit_csv,
    search_audit_events,
)
from retroface.store.models import AuditEvent
from tests.conftest import ADMIN, OPERATOR, SUPERVISOR


@pytest.fixture
def logged(app: App, supervisor: App, auditor: App) -> App:
    """Eight real events (DPIA and policy by the admin, 3 galleries by the supervisor, 3
    cases by the operator); the auditor's view."""
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


def _last_event(app: App) -> AuditEvent:
    with app.unit_of_work() as uow:
        event = uow.session.scalar(select(AuditEvent).order_by(AuditEvent.id.desc()).limit(1))
        assert event is not None
        uow.session.expunge(event)
        return event


def test_the_log_is_searched_by_user_action_case_and_time(logged: App) -> None:
    by_operator = search_audit_events(logged, AuditFilter(actor=OPERATOR.username.upper()))
    assert by_operator.matching == 3
    assert {e.actor for e in by_operator.events} == {OPERATOR.username}

    galleries = search_audit_events(logged, AuditFilter(action="gallery.*"))
    assert galleries.matching == 3 and all(
        e.action.startswith("gallery.") for e in galleries.events
    )
    exact = search_audit_events(logged, AuditFilter(action=galleries.events[0].action))
    assert exact.matching == 3
    assert search_audit_events(logged, AuditFilter(action="gallery")).matching == 0
    assert search_audit_events(logged, AuditFilter(action="gallery_*")).matching == 0  # no LIKE

    case = search_audit_events(logged, AuditFilter(case_reference="C-2"))
    assert case.matching == 1 and case.events[0].case_reference == "C-2"

    now = logged.now()
    hour = timedelta(hours=1)
    assert (
        search_audit_events(
            logged, AuditFilter(actor=SUPERVISOR.username, since=now - hour, until=now + hour)
        ).matching
        == 3
    )
    assert search_audit_events(logged, AuditFilter(since=now + hour)).matching == 0
    assert search_audit_events(logged, AuditFilter(until=now - hour)).matching == 0

    combined = search_audit_events(
        logged, AuditFilter(actor=ADMIN.username, action="deployment.*", until=now + hour)
    )
    assert combined.matching == 2

    read = _last_event(logged)
    assert read.action == "audit.read" and read.actor == "auditor-4"
    assert read.details["matching"] == 2 and read.details["filters"]["actor"] == ADMIN.username
    assert read.details["filters"]["action"] == "deployment.*"


def test_pages_follow_one_another_without_gaps_or_repeats(logged: App) -> None:
    wanted = AuditFilter()
    first = search_audit_events(logged, wanted, limit=3)
    assert first.matching == 8 and len(first.events) == 3 and first.newer_after_id is None
    seen = [e.id for e in first.events]
    page = first
    while page.older_before_id is not None:
        page = search_audit_events(logged, wanted, before_id=page.older_before_id, limit=3)
        seen += [e.id for e in page.events]
    # The searches wrote audit.read events meanwhile: paging by id, the pages did not shift.
    assert seen == sorted(seen, reverse=True) and len(set(seen)) == len(seen) == 8
    assert page.newer_after_id is not None and len(page.events) == 2

    back = search_audit_events(logged, wanted, before_id=seen[2], limit=3)  # the second page
    newer = search_audit_events(logged, wanted, after_id=back.newer_after_id, limit=3)
    assert [e.id for e in newer.events] == seen[:3]
    assert newer.events[0].id > newer.events[-1].id  # newest first on every page


def test_the_matching_events_export_as_csv_oldest_first_with_their_hashes(logged: App) -> None:
    exported = export_audit_csv(logged, AuditFilter(actor=SUPERVISOR.username))
    rows = list(csv.reader(io.StringIO(exported.text)))
    assert rows[0][:5] == ["id", "occurred_at", "actor", "role", "action"]
    assert exported.events == 3 and len(rows) == 4
    ids = [int(r[0]) for r in rows[1:]]
    assert ids == sorted(ids)
    assert all(r[2] == SUPERVISOR.username and len(r[9]) == 64 for r in rows[1:])
    recorded = _last_event(logged)
    assert recorded.action == "audit.csv_exported" and recorded.details["events"] == 3
    assert recorded.details["filters"] == {"actor": SUPERVISOR.username}

    # A cell a spreadsheet would run as a formula is written as text.
    robot = replace(logged, principal=None, settings=logged.settings.with_(actor="=HYPERLINK(1)"))
    with robot.unit_of_work() as uow:
        robot.audit(uow, action="test.formula", object_type="test", object_id="-1+2")
        uow.commit()
    sheet = export_audit_csv(logged, AuditFilter(action="test.formula")).text
    (row,) = list(csv.reader(io.StringIO(sheet)))[1:]
    assert row[2] == "'=HYPERLINK(1)" and row[6] == "'-1+2"


def test_only_auditors_search_or_export_and_bad_searches_are_refused(logged: App, app: App) -> None:
    with pytest.raises(AuthorisationError):
        search_audit_events(app, AuditFilter())
    with pytest.raises(AuthorisationError):
        export_audit_csv(app.acting_as(SUPERVISOR), AuditFilter())
    now = logged.now()
    with pytest.raises(InvalidInputError, match="before its end"):
        search_audit_events(logged, AuditFilter(since=now, until=now))
    with pytest.raises(InvalidInputError, match="not both"):
        search_audit_events(logged, AuditFilter(), before_id=5, after_id=2)
    with pytest.raises(InvalidInputError, match="limit"):
        search_audit_events(logged, AuditFilter(), limit=0)
    assert "case.opened" in audit_actions(logged)
    with pytest.raises(AuthorisationError):
        audit_actions(app)
