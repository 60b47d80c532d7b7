"""No search runs without an open, authorised, unexpired case; every refusal is audited."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from retroface.errors import AuthorisationError, InvalidInputError, NotFoundError
from retroface.faces.engine_description import parse as parse_engine
from retroface.governance.deployment_policy import DpiaRecord
from retroface.services import App
from retroface.services.cases.manage import (
    authorise_case,
    close_case,
    open_case,
    record_judicial_authorisation,
    show_case,
)
from retroface.services.deployment.rules import (
    deployment_status,
    register_dpia,
    register_policy,
    set_threshold_floor,
)
from retroface.services.search.photos import search
from retroface.services.search.verify import verify
from retroface.store.models import (
    AuditEvent,
    Authorisation,
    Face,
    MediaItem,
    Search,
    Template,
    User,
)
from tests.conftest import ADMIN, OPERATOR, SUPERVISOR
from tests.helpers import PASSWORD, authorised_case, gallery_with, register_users

pytestmark = pytest.mark.needs_data


@pytest.fixture
def gallery(app: App, data: Path) -> str:
    examples = data / "face_recognition" / "examples"
    return gallery_with(app, "g", {"obama": [examples / "obama.jpg"]})


@pytest.fixture
def probe(data: Path) -> Path:
    return data / "face_recognition" / "examples" / "obama2.jpg"


def _open(app: App, reference: str = "C-1") -> str:
    open_case(
        app,
        reference,
        purpose="p",
        lawful_basis="law-enforcement",
        offence="theft",
        seriousness="either-way",
    )
    return reference


def _no_evidence_processed(app: App) -> bool:
    with app.unit_of_work() as uow:
        return (
            not uow.session.scalars(select(MediaItem)).all()
            and not uow.session.scalars(select(Face).where(Face.media_item_id.is_not(None))).all()
        )


def _refusals(app: App) -> list[str | None]:
    """Case references of the audited refusals."""
    with app.unit_of_work() as uow:
        return list(
            uow.session.scalars(
                select(AuditEvent.case_reference).where(AuditEvent.action == "search.refused")
            )
        )


def test_search_refused_for_missing_case(app: App, gallery: str, probe: Path) -> None:
    with pytest.raises(NotFoundError, match="no case"):
        search(app, "NOPE", gallery, [probe])
    assert len(_refusals(app)) == 1 and _no_evidence_processed(app)


def test_search_refused_without_authorisation(app: App, gallery: str, probe: Path) -> None:
    case = _open(app)
    with pytest.raises(AuthorisationError, match="no authorisation"):
        search(app, case, gallery, [probe])
    refusals = _refusals(app)
    assert refusals == [case]
    assert _no_evidence_processed(app)


def test_search_refused_after_authorisation_expires(app: App, gallery: str, probe: Path) -> None:
    case = _open(app)
    start = app.now() - timedelta(days=3)
    with app.unit_of_work() as uow:  # an authorisation that ran out yesterday
        c = uow.cases.get(case)
        assert c is not None
        uow.session.add(
            Authorisation(
                case_id=c.id,
                authorised_by="sup",
                valid_from=start,
                valid_until=start + timedelta(days=2),
            )
        )
        uow.commit()
    with pytest.raises(AuthorisationError, match="expired"):
        search(app, case, gallery, [probe])
    assert _no_evidence_processed(app)


def test_a_supervisor_cannot_open_a_case_so_never_authorises_their_own(
    app: App, supervisor: App
) -> None:
    # Attack: a supervisor opens a case (naming someone else as requester, as the CLI and
    # API once allowed) and then authorises it. Only operators open cases, in their own name.
    with pytest.raises(AuthorisationError, match="may not case open"):
        open_case(
            supervisor,
            "C-2",
            purpose="p",
            lawful_basis="law-enforcement",
            offence="theft",
            seriousness="either-way",
        )
    with app.unit_of_work() as uow:
        assert uow.cases.get("C-2") is None
        refusal = uow.session.scalars(
            select(AuditEvent).where(AuditEvent.action == "access.refused")
        ).all()[-1]
        assert refusal.actor == SUPERVISOR.username


def test_the_requester_is_the_logged_in_operator_recorded_by_user_id(app: App) -> None:
    register_users(app, {OPERATOR: PASSWORD})
    case = _open(app)
    with app.unit_of_work() as uow:
        row = uow.cases.require(case)
        assert row.requester == OPERATOR.username
        user_id = uow.session.scalar(select(User.id).where(User.username == OPERATOR.username))
        opened = uow.session.scalars(
            select(AuditEvent).where(AuditEvent.action == "case.opened")
        ).one()
        assert user_id is not None
        assert opened.details["requester_user_id"] == user_id
        assert opened.details["requester"] == OPERATOR.username


def test_authorisation_windows_are_bounded_and_never_start_in_the_past(
    app: App, supervisor: App
) -> None:
    case = _open(app)
    now = app.now()
    with pytest.raises(InvalidInputError, match="at most 90 days"):
        authorise_case(supervisor, case, until=now + timedelta(days=91))
    with pytest.raises(InvalidInputError, match="at most 90 days"):
        authorise_case(supervisor, case, until=datetime(9999, 12, 31, tzinfo=UTC))
    with pytest.raises(InvalidInputError, match="cannot start in the past"):
        authorise_case(
            supervisor,
            case,
            valid_from=datetime(2000, 1, 1, tzinfo=UTC),
            until=now + timedelta(days=1),
        )
    assert show_case(app, case).authorisations == []
    # A little clock skew is fine, and so is the longest window.
    authorise_case(
        supervisor, case, valid_from=now - timedelta(seconds=60), until=now + timedelta(days=89)
    )
    assert len(show_case(app, case).authorisations) == 1


def test_a_closed_case_is_read_only(app: App, supervisor: App) -> None:
    case = _open(app)
    close_case(app, case, "done")
    with pytest.raises(InvalidInputError, match="read-only"):
        record_judicial_authorisation(supervisor, case, "MAG-1")
    assert show_case(app, case).judicial_reference is None


def test_operator_cannot_authorise(app: App) -> None:
    case = _open(app)
    with pytest.raises(AuthorisationError, match="may not case authorise"):
        authorise_case(app, case, until=app.now() + timedelta(days=1))


def test_authorisation_is_in_the_supervisors_own_name(supervisor: App, app: App) -> None:
    case = _open(app)
    with pytest.raises(InvalidInputError, match="logged in as"):
        authorise_case(supervisor, case, by="someone-else", until=app.now() + timedelta(days=1))
    detail = authorise_case(supervisor, case, until=app.now() + timedelta(days=1))
    assert detail.authorisations[0].authorised_by == "sgt-2"


def test_authorisation_must_end_in_future(supervisor: App, app: App) -> None:
    case = _open(app)
    with pytest.raises(InvalidInputError, match="future"):
        authorise_case(supervisor, case, until=app.now() - timedelta(minutes=1))


def test_unknown_lawful_basis_refused(app: App) -> None:
    with pytest.raises(InvalidInputError, match="lawful basis"):
        open_case(
            app,
            "C-9",
            purpose="p",
            lawful_basis="because",
            offence="theft",
            seriousness="either-way",
        )


def test_search_refused_for_unknown_gallery(app: App, probe: Path) -> None:
    case = authorised_case(app)
    with pytest.raises(NotFoundError, match="no gallery"):
        search(app, case, "missing", [probe])


def test_authorised_search_records_its_parameters(app: App, gallery: str, probe: Path) -> None:
    case = authorised_case(app)
    report = search(app, case, gallery, [probe], threshold=0.95, max_candidates=3)
    assert report.probes[0].candidates[0].subject == "obama"
    with app.unit_of_work() as uow:
        row = uow.session.get(Search, report.search_id)
        assert row is not None
        assert (row.threshold, row.max_candidates, row.status) == (0.95, 3, "completed")
        assert row.model_name == "dlib_resnet_v1" and row.gallery_version >= 2
        # The whole engine is recorded, so the search can be rerun exactly from its record.
        assert row.engine == app.engine_description
        assert parse_engine(row.engine) == app.engine_spec
        probe_templates = uow.session.scalars(
            select(Template.engine)
            .join(Face, Template.face_id == Face.id)
            .join(MediaItem, Face.media_item_id == MediaItem.id)
            .where(MediaItem.search_id == report.search_id)
        ).all()
        assert probe_templates and set(probe_templates) == {row.engine}
        actions = [
            e.action
            for e in uow.session.scalars(
                select(AuditEvent).where(AuditEvent.case_reference == case).order_by(AuditEvent.id)
            )
        ]
    assert actions == [
        "case.opened",
        "case.authorised",
        "search.started",
        "search.media_processed",
        "search.completed",
    ]
    assert show_case(app, case).searches == 1


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("offence", "shoplifting-ish", "offence category"),
        ("seriousness", "quite bad", "seriousness"),
        ("offence", "demo", "only for quickstart"),
        ("lawful_basis", "demo", "only for quickstart"),
        ("purpose", "  ", "purpose"),
    ],
)
def test_case_fields_come_from_fixed_lists(app: App, field: str, value: str, message: str) -> None:
    fields = {
        "purpose": "p",
        "lawful_basis": "law-enforcement",
        "offence": "theft",
        "seriousness": "either-way",
    }
    fields[field] = value
    with pytest.raises(InvalidInputError, match=message):
        open_case(app, "C-LIST", **fields)
    with pytest.raises(NotFoundError):
        show_case(app, "C-LIST")


def test_search_refused_until_dpia_and_policy_are_on_record_and_in_date(
    bare_app: App, probe: Path, data: Path
) -> None:
    examples = data / "face_recognition" / "examples"
    gallery = gallery_with(bare_app, "g", {"obama": [examples / "obama.jpg"]})
    case = authorised_case(bare_app)
    admin = bare_app.acting_as(ADMIN)
    today = bare_app.now().date()

    with pytest.raises(AuthorisationError, match="no DPIA"):
        search(bare_app, case, gallery, [probe])
    register_dpia(
        admin, DpiaRecord("DPIA-1", "2", today - timedelta(days=400), today - timedelta(days=1))
    )
    with pytest.raises(AuthorisationError, match="due for review"):
        search(bare_app, case, gallery, [probe])
    register_dpia(admin, DpiaRecord("DPIA-1", "3", today, today + timedelta(days=365)))
    with pytest.raises(AuthorisationError, match="no policy document"):
        search(bare_app, case, gallery, [probe])
    assert deployment_status(bare_app).searching_allowed is False
    register_policy(admin, "FRT-POLICY-7", "Retrospective facial recognition policy")
    assert deployment_status(bare_app).searching_allowed is True
    assert search(bare_app, case, gallery, [probe]).probes[0].candidates[0].subject == "obama"
    assert len(_refusals(bare_app)) == 3

    later = replace(bare_app, clock=lambda: bare_app.now() + timedelta(days=366))
    assert deployment_status(later).searching_allowed is False  # the DPIA's review date passed
    with pytest.raises(InvalidInputError, match="future"):
        register_dpia(
            admin, DpiaRecord("DPIA-2", "1", today + timedelta(days=2), today + timedelta(days=9))
        )
    with pytest.raises(InvalidInputError, match="after its approval"):
        register_dpia(admin, DpiaRecord("DPIA-2", "1", today, today))


def test_operators_may_raise_the_threshold_never_go_below_the_floor(
    app: App, gallery: str, probe: Path
) -> None:
    case = authorised_case(app)
    admin = app.acting_as(ADMIN)
    set_threshold_floor(admin, 0.95)
    with pytest.raises(AuthorisationError, match="below the deployment's floor"):
        search(app, case, gallery, [probe], threshold=0.94)
    assert search(app, case, gallery, [probe]).threshold == 0.95  # the floor lifts the default
    assert search(app, case, gallery, [probe], threshold=0.97).threshold == 0.97
    for bad in (0.0, 1.0, -0.3):
        with pytest.raises(InvalidInputError, match="floor"):
            set_threshold_floor(admin, bad)
    with pytest.raises(AuthorisationError, match="may not deployment configure"):
        set_threshold_floor(app, 0.5)
    assert _refusals(app) == [case]


def test_search_outside_gallery_scope_or_count_is_refused(
    app: App, supervisor: App, gallery: str, probe: Path, data: Path
) -> None:
    examples = data / "face_recognition" / "examples"
    other = gallery_with(app, "other", {"biden": [examples / "biden.jpg"]})
    case = _open(app)
    with pytest.raises(NotFoundError, match="no gallery named 'nope'"):
        authorise_case(supervisor, case, until=app.now() + timedelta(days=1), galleries=["nope"])
    with pytest.raises(InvalidInputError, match="at least 1"):
        authorise_case(supervisor, case, until=app.now() + timedelta(days=1), max_searches=0)
    authorise_case(
        supervisor, case, until=app.now() + timedelta(days=1), galleries=[gallery], max_searches=2
    )
    with pytest.raises(AuthorisationError, match="outside the authorised scope"):
        search(app, case, other, [probe])
    search(app, case, gallery, [probe])
    search(app, case, gallery, [probe])
    with pytest.raises(AuthorisationError, match="allows 2 searches"):
        search(app, case, gallery, [probe])
    assert _refusals(app) == [case, case]
    # A fresh authorisation starts a fresh count and may widen the scope.
    authorise_case(
        supervisor, case, until=app.now() + timedelta(days=2), galleries=[gallery, other]
    )
    assert search(app, case, other, [probe]).gallery == "other"


def test_a_one_to_one_comparison_is_a_search_gated_and_counted(
    app: App, supervisor: App, probe: Path
) -> None:
    # Attack: a 1:1 comparison with no case, or below the floor, or past the authorised count.
    obama = probe.parent / "obama.jpg"
    case = _open(app)
    with pytest.raises(AuthorisationError, match="no authorisation"):
        verify(app, case, obama, probe)
    authorise_case(supervisor, case, until=app.now() + timedelta(days=1), max_searches=1)
    for too_low in (0.1, -1.0):
        with pytest.raises(AuthorisationError, match="below the deployment's floor"):
            verify(app, case, obama, probe, threshold=too_low)
    report = verify(app, case, obama, probe)
    assert report.same_person_above_threshold and report.case == case
    with pytest.raises(AuthorisationError, match="allows 1 searches"):
        verify(app, case, obama, probe)
    with app.unit_of_work() as uow:
        refusals = uow.session.scalars(
            select(AuditEvent).where(AuditEvent.action == "search.refused")
        ).all()
        assert len(refusals) == 4
        assert {r.details["kind"] for r in refusals} == {"comparison"}
        done = uow.session.scalars(select(AuditEvent).where(AuditEvent.action == "verify.run"))
        assert [e.details["score"] for e in done] == [report.score]


def test_attempts_that_read_no_evidence_use_no_authorised_search(
    app: App, supervisor: App, gallery: str, probe: Path, tmp_path: Path
) -> None:
    # A missing file is a mistake, not a search: refused (audited) before a search exists.
    case = _open(app)
    authorise_case(supervisor, case, until=app.now() + timedelta(days=1), max_searches=1)
    with pytest.raises(InvalidInputError, match="none of the evidence named could be found"):
        search(app, case, gallery, [tmp_path / "no-such-still.jpg"])
    with app.unit_of_work() as uow:
        assert uow.session.scalars(select(Search)).all() == []
        refused = uow.session.scalars(
            select(AuditEvent).where(AuditEvent.action == "search.refused")
        ).all()
        assert len(refused) == 1 and "could be found" in refused[0].details["reason"]
    assert search(app, case, gallery, [probe]).probes  # the one authorised search is still there


def test_a_search_that_fails_ends_failed_and_is_not_counted(
    app: App, supervisor: App, gallery: str, probe: Path
) -> None:
    # A fault halfway (here the disk behind the progress display fails after the first file
    # is analysed) ends the search as failed, audited, never "running" for ever; a fault is
    # no use of the authorisation.
    case = _open(app)
    authorise_case(supervisor, case, until=app.now() + timedelta(days=1), max_searches=1)
    with pytest.raises(OSError, match="disk full"):
        search(app, case, gallery, [probe], progress=_DiskFullProgress())
    with app.unit_of_work() as uow:
        (row,) = uow.session.scalars(select(Search)).all()
        assert row.status == "failed" and row.finished_at is not None
        (failed,) = uow.session.scalars(
            select(AuditEvent).where(AuditEvent.action == "search.failed")
        ).all()
        assert failed.details["error"] == "OSError"
    assert search(app, case, gallery, [probe]).probes  # the one authorised search is still there


class _DiskFullProgress:
    def start(self, description: str, total: int) -> None:
        pass

    def advance(self, steps: int = 1) -> None:
        raise OSError(28, "disk full")

    def finish(self) -> None:
        pass
