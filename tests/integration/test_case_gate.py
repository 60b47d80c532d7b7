"""No search runs without an open, authorised, unexpired case; every refusal is audited."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from retroface.errors import AuthorisationError, InvalidInputError, NotFoundError
from retroface.services import App
from retroface.services.cases import authorise_case, open_case, show_case
from retroface.services.search import search
from retroface.store.models import AuditEvent, Face, MediaItem
from tests.helpers import authorised_case, gallery_with

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
        requester="alice",
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
        from retroface.store.models import Authorisation

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


def test_requester_cannot_authorise_own_case(app: App, supervisor: App) -> None:
    case = open_case(
        supervisor, "C-2", purpose="p", lawful_basis="law-enforcement", offence="theft"
    ).reference  # the supervisor asks for this search themself
    with pytest.raises(AuthorisationError, match="cannot authorise"):
        authorise_case(supervisor, case, until=app.now() + timedelta(days=1))
    assert show_case(app, case).authorisations == []


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
        open_case(app, "C-9", purpose="p", lawful_basis="because", offence="x")


def test_search_refused_for_unknown_gallery(app: App, probe: Path) -> None:
    case = authorised_case(app)
    with pytest.raises(NotFoundError, match="no gallery"):
        search(app, case, "missing", [probe])


def test_authorised_search_records_its_parameters(app: App, gallery: str, probe: Path) -> None:
    case = authorised_case(app)
    report = search(app, case, gallery, [probe], threshold=0.95, max_candidates=3)
    assert report.probes[0].candidates[0].subject == "obama"
    with app.unit_of_work() as uow:
        from retroface.store.models import Search

        row = uow.session.get(Search, report.search_id)
        assert row is not None
        assert (row.threshold, row.max_candidates, row.status) == (0.95, 3, "completed")
        assert row.model_name == "dlib_resnet_v1" and row.gallery_version >= 2
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
