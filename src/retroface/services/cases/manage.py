"""Case use cases: open, authorise (window, gallery scope, search count), record a
judicial authorisation (EU mode), show, and close (which purges probe biometrics)."""

from __future__ import annotations

import string
from datetime import datetime

from sqlalchemy import select

from retroface.errors import AlreadyExistsError, InvalidInputError, NotFoundError
from retroface.governance import LAWFUL_BASES, check_authoriser, check_lawful_basis
from retroface.governance.case_access import on_case_team
from retroface.governance.case_policy import (
    OFFENCE_CATEGORIES,
    SERIOUSNESS,
    check_authorisation_window,
    check_choice,
    current_authorisation,
)
from retroface.governance.roles import Action
from retroface.services.app import App
from retroface.services.biometrics.deletion import (
    case_face_ids,
    delete_probe_templates,
    purge_search_probes,
)
from retroface.services.biometrics.uploaded_files import case_upload_files, remove_case_uploads
from retroface.services.results import AuthorisationOut, CaseDetail
from retroface.store.models import Authorisation, Case, CaseMember, Search, User
from retroface.store.unit_of_work import UnitOfWork

MAX_REFERENCE = 200
#: What a case reference is made of: it appears in URLs, file names and reports as it is.
REFERENCE_CHARS = frozenset(string.ascii_letters + string.digits + "-_.:")


def lawful_bases() -> list[str]:
    """The fixed list a case's lawful basis is chosen from."""
    return list(LAWFUL_BASES)


def offence_categories() -> list[str]:
    return list(OFFENCE_CATEGORIES)


def seriousness_levels() -> list[str]:
    return list(SERIOUSNESS)


def open_case(
    app: App,
    reference: str,
    *,
    purpose: str,
    lawful_basis: str,
    offence: str,
    seriousness: str,
    demo: bool = False,
) -> CaseDetail:
    """Open a case in the name of the logged-in operator, who is its requester.

    Nobody names a requester: the separation of duties (a supervisor never
    authorises a case they asked for) holds only if the requester is the
    authenticated person who opened it, and only operators open cases.
    """
    requester = app.require(Action.CASE_OPEN)
    reference = reference.strip()
    if (
        not reference
        or len(reference) > MAX_REFERENCE
        or not REFERENCE_CHARS.issuperset(reference)
        or not reference[0].isalnum()
    ):
        raise InvalidInputError(
            f"a case reference is 1..{MAX_REFERENCE} of the letters A-Z and a-z, the digits 0-9 "
            f"and - _ . :, starting with a letter or digit (got {reference!r}); other characters "
            "break its links or can disguise it (a '/', a right-to-left override)"
        )
    if not purpose.strip():
        raise InvalidInputError("the case purpose is required")
    basis = check_lawful_basis(lawful_basis)
    offence = check_choice(offence, OFFENCE_CATEGORIES, "offence category")
    seriousness = check_choice(seriousness, SERIOUSNESS, "seriousness")
    if "demo" in (basis, offence) and not demo:
        raise InvalidInputError("the 'demo' lawful basis and offence exist only for quickstart")
    with app.unit_of_work() as uow:
        if uow.cases.get(reference) is not None:
            raise AlreadyExistsError(f"case {reference!r} already exists")
        case = uow.cases.add(
            Case(
                reference=reference,
                purpose=purpose.strip(),
                lawful_basis=basis,
                offence_category=offence,
                seriousness=seriousness,
                requester=requester.username,
                is_demo=demo,
            )
        )
        app.audit(
            uow,
            action="case.opened",
            object_type="case",
            object_id=case.id,
            case_reference=reference,
            requester=requester.username,
            requester_user_id=uow.session.scalar(
                select(User.id).where(User.username == requester.username)
            ),
            lawful_basis=basis,
            offence_category=case.offence_category,
            seriousness=seriousness,
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
    galleries: list[str] | None = None,
    max_searches: int | None = None,
) -> CaseDetail:
    """Record the acting supervisor's authorisation; ``by`` may only restate their own name.

    ``galleries`` limits the searchable galleries (None: any) and
    ``max_searches`` the number of searches under this authorisation.
    """
    supervisor = app.require(Action.CASE_AUTHORISE, case_reference=reference)
    if by is not None and by.strip().casefold() != supervisor.username.casefold():
        raise InvalidInputError(
            f"you are logged in as {supervisor.username}; an authorisation is recorded "
            "in the name of the supervisor who gives it"
        )
    by = supervisor.username
    now = app.now()
    start, until = check_authorisation_window(
        valid_from or now,
        until,
        now,
        max_days=app.settings.authorisation_max_days,
        clock_skew_s=app.settings.clock_skew_s,
    )
    if max_searches is not None and max_searches < 1:
        raise InvalidInputError(f"--max-searches must be at least 1, got {max_searches}")
    scope = None if galleries is None else sorted({g.strip() for g in galleries if g.strip()})
    if scope is not None and not scope:
        raise InvalidInputError("a gallery scope must name at least one gallery")
    with app.unit_of_work() as uow:
        case = uow.cases.require(reference)
        check_authoriser(case, by)
        if case.status != "open":
            raise InvalidInputError(f"case {reference} is {case.status}; it cannot be authorised")
        for name in scope or []:
            if uow.galleries.get(name) is None:
                raise NotFoundError(f"no gallery named {name!r} to put in the scope")
        auth = Authorisation(
            case_id=case.id,
            authorised_by=by.strip(),
            valid_from=start,
            valid_until=until,
            gallery_scope=scope,
            max_searches=max_searches,
        )
        uow.session.add(auth)
        uow.flush()
        app.audit(
            uow,
            action="case.authorised",
            object_type="authorisation",
            object_id=auth.id,
            case_reference=reference,
            authorised_by=auth.authorised_by,
            valid_from=start.isoformat(),
            valid_until=until.isoformat(),
            gallery_scope=scope,
            max_searches=max_searches,
        )
        uow.commit()
        uow.session.refresh(case)
        return _detail(uow, case, now)


def record_judicial_authorisation(app: App, reference: str, judicial_reference: str) -> CaseDetail:
    """EU AI Act Art 26(10): the court's or authority's reference that authorises the searches."""
    app.require(Action.CASE_RECORD_JUDICIAL, case_reference=reference)
    if not judicial_reference.strip():
        raise InvalidInputError("the judicial or administrative authorisation reference is empty")
    with app.unit_of_work() as uow:
        case = uow.cases.require(reference)
        if case.status != "open":
            raise InvalidInputError(
                f"case {reference} is {case.status}: a closed case is read-only"
            )
        case.judicial_reference = judicial_reference.strip()
        case.judicial_recorded_at = app.now()
        app.audit(
            uow,
            action="case.judicial_authorisation_recorded",
            object_type="case",
            object_id=case.id,
            case_reference=reference,
            judicial_reference=case.judicial_reference,
        )
        uow.commit()
        return _detail(uow, case, app.now())


def close_case(app: App, reference: str, reason: str) -> CaseDetail:
    """Close a case: no more searches; every probe template and uploaded evidence file of
    the case is deleted."""
    app.require(Action.CASE_CLOSE, case_reference=reference)
    if not reason.strip():
        raise InvalidInputError("closing a case needs a reason")
    with app.unit_of_work() as uow:
        case = uow.cases.require(reference)
        if case.status != "open":
            raise InvalidInputError(f"case {reference} is already {case.status}")
        now = app.now()
        case.status, case.closed_at, case.close_reason = "closed", now, reason.strip()
        searches = list(uow.session.scalars(select(Search).where(Search.case_id == case.id)))
        deleted = purge_search_probes(uow, searches, now)
        deleted += delete_probe_templates(uow, case_face_ids(uow, case.id))  # footage
        uploads = case_upload_files(app.settings.home, reference)
        app.audit(
            uow,
            action="case.closed",
            object_type="case",
            object_id=case.id,
            case_reference=reference,
            reason=case.close_reason,
            searches=len(searches),
            probe_templates_deleted=deleted,
            uploaded_files_deleted=len(uploads),
        )
        uow.commit()
        remove_case_uploads(app.settings.home, reference)  # after the commit: never lost early
        return _detail(uow, case, now)


def list_cases(app: App, *, status: str | None = None) -> list[CaseDetail]:
    """The cases the person may see (their team's: need to know), newest first (``status``:
    open or closed), for dashboards."""
    principal = app.require(Action.CASE_READ)
    with app.unit_of_work() as uow:
        query = select(Case).order_by(Case.id.desc())
        if status is not None:
            query = query.where(Case.status == status)
        return [
            _detail(uow, case, app.now())
            for case in uow.session.scalars(query)
            if on_case_team(principal, app.case_team(uow, case))
        ]


def assign_to_case(app: App, reference: str, username: str) -> CaseDetail:
    """Add a person to a case's team, so they may see and work on it.

    Role: supervisor on the case (its authoriser, or any supervisor while it awaits one).
    Writes ``case.member_added``. Raises AuthorisationError, NotFoundError (case or user),
    InvalidInputError (an admin or a closed case), AlreadyExistsError.
    """
    supervisor = app.require(Action.CASE_ASSIGN, case_reference=reference)
    with app.unit_of_work() as uow:
        case = uow.cases.require(reference)
        if case.status != "open":
            raise InvalidInputError(
                f"case {reference} is {case.status}: a closed case is read-only"
            )
        user = uow.session.scalar(select(User).where(User.username == username.strip()))
        if user is None or not user.active:
            raise NotFoundError(f"no active user {username!r}")
        if user.role == "admin":
            raise InvalidInputError("admins do no case work; they cannot join a case's team")
        members, _, _ = uow.cases.team_of(case)
        if user.username in members or user.username == case.requester:
            raise AlreadyExistsError(f"{user.username} is already on the team of {reference}")
        uow.session.add(
            CaseMember(case_id=case.id, username=user.username, added_by=supervisor.username)
        )
        app.audit(
            uow,
            action="case.member_added",
            object_type="case",
            object_id=case.id,
            case_reference=reference,
            member=user.username,
            member_role=user.role,
        )
        uow.commit()
        return _detail(uow, case, app.now())


def show_case(app: App, reference: str) -> CaseDetail:
    app.require(Action.CASE_READ, case_reference=reference)
    with app.unit_of_work() as uow:
        return _detail(uow, uow.cases.require(reference), app.now())


def _detail(uow: UnitOfWork, case: Case, now: datetime) -> CaseDetail:
    active = current_authorisation(case, now)
    return CaseDetail(
        reference=case.reference,
        purpose=case.purpose,
        lawful_basis=case.lawful_basis,
        offence_category=case.offence_category,
        seriousness=case.seriousness,
        requester=case.requester,
        status=case.status,
        judicial_reference=case.judicial_reference,
        demo=case.is_demo,
        created_at=case.created_at,
        searches=uow.cases.search_count(case.id),
        authorisations=[
            AuthorisationOut(
                authorised_by=a.authorised_by,
                valid_from=a.valid_from,
                valid_until=a.valid_until,
                galleries=a.gallery_scope,
                max_searches=a.max_searches,
                active=a is active,
            )
            for a in case.authorisations
        ],
    )
