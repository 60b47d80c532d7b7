"""Case use cases: open a case, authorise it, show it."""

from __future__ import annotations

from datetime import datetime

from retroface.errors import AlreadyExistsError, InvalidInputError, NotFoundError
from retroface.governance import LAWFUL_BASES, check_authoriser, check_lawful_basis
from retroface.governance.case_policy import current_authorisation
from retroface.governance.roles import Action
from retroface.services.app import App
from retroface.services.results import AuthorisationOut, CaseDetail
from retroface.store.models import Authorisation, Case
from retroface.store.unit_of_work import UnitOfWork

MAX_REFERENCE = 200


def lawful_bases() -> list[str]:
    """The fixed list a case's lawful basis is chosen from."""
    return list(LAWFUL_BASES)


def get_case(uow: UnitOfWork, reference: str) -> Case:
    case = uow.cases.get(reference)
    if case is None:
        raise NotFoundError(
            f"no case {reference!r}; open it with 'retroface case open {reference} ...'"
        )
    return case


def open_case(
    app: App,
    reference: str,
    *,
    purpose: str,
    lawful_basis: str,
    offence: str,
    requester: str | None = None,
    demo: bool = False,
) -> CaseDetail:
    app.require(Action.CASE_OPEN)
    reference = reference.strip()
    if not reference or len(reference) > MAX_REFERENCE or any(ord(c) < 32 for c in reference):
        raise InvalidInputError(f"a case reference must be 1..{MAX_REFERENCE} printable characters")
    for label, value in (("purpose", purpose), ("offence category", offence)):
        if not value.strip():
            raise InvalidInputError(f"the case {label} is required")
    basis = check_lawful_basis(lawful_basis)
    with app.unit_of_work() as uow:
        if uow.cases.get(reference) is not None:
            raise AlreadyExistsError(f"case {reference!r} already exists")
        case = uow.cases.add(
            Case(
                reference=reference,
                purpose=purpose.strip(),
                lawful_basis=basis,
                offence_category=offence.strip(),
                requester=(requester or app.actor).strip(),
                is_demo=demo,
            )
        )
        app.audit(
            uow.session,
            action="case.opened",
            object_type="case",
            object_id=case.id,
            case_reference=reference,
            lawful_basis=basis,
            offence_category=case.offence_category,
            demo=demo,
        )
        uow.commit()
        return _detail(uow, case, app.now())


def authorise_case(
    app: App,
    reference: str,
    *,
    until: datetime,
    by: str | None = None,
    valid_from: datetime | None = None,
) -> CaseDetail:
    """Record the acting supervisor's authorisation; ``by`` may only restate their own name."""
    supervisor = app.require(Action.CASE_AUTHORISE, case_reference=reference)
    if by is not None and by.strip().casefold() != supervisor.username.casefold():
        raise InvalidInputError(
            f"you are logged in as {supervisor.username}; an authorisation is recorded "
            "in the name of the supervisor who gives it"
        )
    by = supervisor.username
    now = app.now()
    start = valid_from or now
    if until <= now:
        raise InvalidInputError(
            f"the authorisation must end in the future (got {until:%Y-%m-%d %H:%M} UTC)"
        )
    if until <= start:
        raise InvalidInputError("the authorisation must end after it starts")
    with app.unit_of_work() as uow:
        case = get_case(uow, reference)
        check_authoriser(case, by)
        if case.status != "open":
            raise InvalidInputError(f"case {reference} is {case.status}; it cannot be authorised")
        auth = Authorisation(
            case_id=case.id, authorised_by=by.strip(), valid_from=start, valid_until=until
        )
        uow.session.add(auth)
        uow.flush()
        app.audit(
            uow.session,
            action="case.authorised",
            object_type="authorisation",
            object_id=auth.id,
            case_reference=reference,
            authorised_by=auth.authorised_by,
            valid_from=start.isoformat(),
            valid_until=until.isoformat(),
        )
        uow.commit()
        uow.session.refresh(case)
        return _detail(uow, case, now)


def show_case(app: App, reference: str) -> CaseDetail:
    app.require(Action.CASE_READ, case_reference=reference)
    with app.unit_of_work() as uow:
        return _detail(uow, get_case(uow, reference), app.now())


def _detail(uow: UnitOfWork, case: Case, now: datetime) -> CaseDetail:
    active = current_authorisation(case, now)
    return CaseDetail(
        reference=case.reference,
        purpose=case.purpose,
        lawful_basis=case.lawful_basis,
        offence_category=case.offence_category,
        requester=case.requester,
        status=case.status,
        demo=case.is_demo,
        created_at=case.created_at,
        searches=uow.cases.search_count(case.id),
        authorisations=[
            AuthorisationOut(
                authorised_by=a.authorised_by,
                valid_from=a.valid_from,
                valid_until=a.valid_until,
                active=a is active,
            )
            for a in case.authorisations
        ],
    )
