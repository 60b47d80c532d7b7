"""A script opens a deployment as a person, and every rule still holds: log-in, roles, the
case gate and the audit log are the services', never the facade's own."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Row, select, update

import retroface
from retroface.errors import AuthorisationError, InvalidInputError, LockedOutError, NotFoundError
from retroface.governance.roles import ALLOWED, Action, Role
from retroface.scripting import Deployment
from retroface.services import App
from retroface.settings import Settings
from retroface.store.models import AuditEvent, LoginSession, MediaItem
from tests.conftest import ADMIN, EXAMPLES, OPERATOR, SUPERVISOR
from tests.helpers import (
    PASSWORD,
    authorised_case,
    gallery_with,
    provenance,
    register_users,
)

pytestmark = pytest.mark.needs_data

CASE = {
    "purpose": "street robbery, 3 May",
    "lawful_basis": "law-enforcement",
    "offence": "robbery",
    "seriousness": "indictable-only",
}


@pytest.fixture
def home(app: App) -> Path:
    """A ready deployment (DPIA and policy on record) with real accounts: an admin, an
    operator and a supervisor, each with PASSWORD."""
    register_users(app, {OPERATOR: PASSWORD, SUPERVISOR: PASSWORD})
    return app.settings.home


@pytest.fixture
def custody(app: App, home: Path) -> str:
    return gallery_with(app, "custody", {"obama": [EXAMPLES / "obama.jpg"]})


def _events(app: App, action: str) -> list[Row[tuple[str, str | None, str, str | None]]]:
    """Who did it, in which role, to what, under which case: each audit event of ``action``."""
    columns = (AuditEvent.actor, AuditEvent.role, AuditEvent.object_id, AuditEvent.case_reference)
    with app.unit_of_work() as uow:
        query = select(*columns).where(AuditEvent.action == action).order_by(AuditEvent.id)
        return list(uow.session.execute(query).all())


def test_a_five_line_script_searches_only_once_a_supervisor_authorises_the_case(
    app: App, home: Path, custody: str, settings: Settings
) -> None:
    probe = EXAMPLES / "obama2.jpg"
    with retroface.Deployment(home, OPERATOR.username, PASSWORD, settings=settings) as rf:
        rf.open_case("OP-1", **CASE)
        with pytest.raises(AuthorisationError, match="no authorisation"):
            rf.search("OP-1", custody, probe)
    (refusal,) = _events(app, "search.refused")
    assert (refusal.actor, refusal.role, refusal.case_reference) == (
        "officer-1",
        "operator",
        "OP-1",
    )
    with app.unit_of_work() as uow:  # refused before any evidence was opened
        assert uow.session.scalars(select(MediaItem)).all() == []

    with Deployment(home, SUPERVISOR.username, PASSWORD, settings=settings) as sgt:
        sgt.authorise_case("OP-1", until=app.now().date() + timedelta(days=7), galleries=[custody])
    with Deployment(home, OPERATOR.username, PASSWORD, settings=settings) as rf:
        report = rf.search("OP-1", custody, [probe])
    assert [c.subject for c in report.probes[0].candidates] == ["obama"]
    (started,) = _events(app, "search.started")
    assert (started.actor, started.case_reference) == ("officer-1", "OP-1")


def test_a_one_to_one_comparison_runs_under_an_authorised_case(
    app: App, home: Path, settings: Settings
) -> None:
    case = authorised_case(app, "OP-4")
    with Deployment(home, OPERATOR.username, PASSWORD, settings=settings) as rf:
        same = rf.verify(case, EXAMPLES / "obama.jpg", EXAMPLES / "obama2.jpg")
        different = rf.verify(case, EXAMPLES / "obama.jpg", EXAMPLES / "biden.jpg")
    assert same.same_person_above_threshold and not different.same_person_above_threshold
    assert [(e.actor, e.case_reference) for e in _events(app, "verify.run")] == [
        ("officer-1", "OP-4"),
        ("officer-1", "OP-4"),
    ]


def test_a_supervisor_enrols_in_their_own_name(app: App, home: Path, settings: Settings) -> None:
    with Deployment(home, SUPERVISOR.username, PASSWORD, settings=settings) as sgt:
        sgt.create_gallery("custody")
        report = sgt.enrol(
            "custody",
            [EXAMPLES / "obama.jpg"],
            subject="Barack Obama",
            provenance=retroface.SubjectProvenance(
                category="wanted",
                source_system="custody",
                record_id="CR-1",
                holding_basis="custody-image",
            ),
        )
    assert (report.enrolled, report.subjects_created, report.skipped) == (1, 1, [])
    (enrolled,) = _events(app, "reference.enrolled")
    assert (enrolled.actor, enrolled.role) == ("sgt-2", "supervisor")


def test_an_operator_cannot_enrol_and_the_refusal_is_audited(
    app: App, home: Path, custody: str, settings: Settings
) -> None:
    with (
        Deployment(home, OPERATOR.username, PASSWORD, settings=settings) as rf,
        pytest.raises(AuthorisationError, match="may not gallery enroll"),
    ):
        rf.enrol(custody, [EXAMPLES / "biden.jpg"], subject="x", provenance=provenance("R"))
    assert [(e.actor, e.object_id) for e in _events(app, "access.refused")] == [
        ("officer-1", "gallery.enroll")
    ]


def test_an_admin_cannot_search_and_the_refusal_is_audited(
    app: App, home: Path, custody: str, settings: Settings
) -> None:
    with Deployment(home, ADMIN.username, PASSWORD, settings=settings) as admin:
        assert admin.role == "admin"
        with pytest.raises(AuthorisationError, match="may not search run"):
            admin.search("OP-1", custody, [EXAMPLES / "obama2.jpg"])
    (refusal,) = _events(app, "access.refused")
    assert (refusal.actor, refusal.role, refusal.object_id) == ("admin-5", "admin", "search.run")


def test_a_wrong_password_is_refused_audited_and_locks_the_name(
    app: App, home: Path, settings: Settings
) -> None:
    with pytest.raises(AuthorisationError, match="unknown user or wrong password"):
        Deployment(home, OPERATOR.username, "not the password", settings=settings)
    (failed,) = _events(app, "login.failed")
    assert failed.object_id == "officer-1"
    assert _events(app, "login.succeeded") == []

    for _ in range(app.settings.login_max_failures - 1):
        with pytest.raises(AuthorisationError):
            Deployment(home, OPERATOR.username, "guess", settings=settings)
    with pytest.raises(LockedOutError):  # now not even the right password is checked
        Deployment(home, OPERATOR.username, PASSWORD, settings=settings)
    assert len(_events(app, "login.locked")) == 1 and _events(app, "login.succeeded") == []


def test_opening_and_closing_are_on_the_record_and_a_closed_deployment_refuses(
    app: App, home: Path, settings: Settings
) -> None:
    rf = Deployment(home, OPERATOR.username, PASSWORD, settings=settings)
    (login,) = _events(app, "login.succeeded")
    assert login.actor == "officer-1"
    rf.close()
    rf.close()  # twice is harmless
    assert [e.actor for e in _events(app, "logout")] == ["officer-1"]
    with pytest.raises(InvalidInputError, match="closed"):
        rf.open_case("OP-2", **CASE)


def test_a_script_loses_its_rights_when_its_session_is_revoked(
    app: App, home: Path, settings: Settings
) -> None:
    with Deployment(home, OPERATOR.username, PASSWORD, settings=settings) as rf:
        with app.unit_of_work() as uow:  # as revoking every session of the account would
            uow.session.execute(update(LoginSession).values(revoked_at=app.now()))
            uow.commit()
        with pytest.raises(AuthorisationError, match="session of officer-1 has ended"):
            rf.open_case("OP-3", **CASE)
    assert _events(app, "case.opened") == []


def test_a_script_never_creates_a_data_directory(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere"
    with pytest.raises(NotFoundError, match="no retroface data directory"):
        Deployment(missing, "anyone", PASSWORD, settings=Settings(home=missing))
    assert not missing.exists()


#: Each method and the action its service requires.
METHOD_ACTIONS = {
    "create_gallery": Action.GALLERY_CREATE,
    "enrol": Action.GALLERY_ENROLL,
    "open_case": Action.CASE_OPEN,
    "authorise_case": Action.CASE_AUTHORISE,
    "close_case": Action.CASE_CLOSE,
    "case_report": Action.REPORT_CASE,
    "search": Action.SEARCH_RUN,
    "verify": Action.VERIFY_RUN,
}


@pytest.mark.parametrize(("method", "action"), METHOD_ACTIONS.items())
def test_each_method_documents_its_role_audit_event_and_errors(method: str, action: Action) -> None:
    doc = getattr(Deployment, method).__doc__
    role_line = re.search(r"Role: ([^.]*)\.", doc)
    assert role_line, f"Deployment.{method} does not name its role"
    named = {role for role in Role if re.search(rf"\b{role.value}\b", role_line.group(1))}
    assert named == ALLOWED[action], f"Deployment.{method}: the role line disagrees with roles.py"
    assert re.search(r"Audit: ``[a-z_.]+``", doc) and "Raises:" in doc
    assert "AuthorisationError" in doc


def test_every_public_method_is_one_the_role_test_covers() -> None:
    public = {
        name
        for name, value in vars(Deployment).items()
        if callable(value) and not name.startswith("_")
    }
    assert public - {"close"} == set(METHOD_ACTIONS)
