"""Rules a case must satisfy before any search runs under it.

Lawful bases are a fixed list (UK Data Protection Act 2018 Part 3 and the
common-law policing basis relied on in Bridges v South Wales Police), so
statistics can be grouped by them and nobody can type "because".
"""

from __future__ import annotations

from datetime import datetime

from retroface.errors import AuthorisationError, InvalidInputError
from retroface.store.models import Authorisation, Case

LAWFUL_BASES: dict[str, str] = {
    "law-enforcement": "DPA 2018 s.35: necessary for a law enforcement purpose (Part 3)",
    "common-law-policing": "Common-law policing powers to prevent and detect crime",
    "court-order": "An order or warrant from a court",
    "vulnerable-person": "Safeguarding a missing or vulnerable person (DPA 2018 Sch. 8 para 3)",
    "demo": "Demonstration on consenting or public test data only",
}


def check_lawful_basis(basis: str) -> str:
    key = basis.strip().lower()
    if key not in LAWFUL_BASES:
        raise InvalidInputError(
            f"unknown lawful basis {basis!r}; choose one of: {', '.join(LAWFUL_BASES)}"
        )
    return key


def check_authoriser(case: Case, authoriser: str) -> None:
    """The person who authorises a case must not be the person who asked for it."""
    if not authoriser.strip():
        raise InvalidInputError("the authoriser's name is empty")
    if authoriser.strip().casefold() == case.requester.strip().casefold():
        raise AuthorisationError(
            f"case {case.reference}: the requester ({case.requester}) cannot authorise "
            "their own case; ask a supervisor"
        )


def current_authorisation(case: Case, now: datetime) -> Authorisation | None:
    """The latest unrevoked authorisation whose window contains ``now``."""
    for auth in reversed(case.authorisations):
        if auth.revoked_at is None and auth.valid_from <= now <= auth.valid_until:
            return auth
    return None


def check_case_searchable(case: Case, now: datetime) -> Authorisation:
    """Refuse a search under a closed, unauthorised or expired case."""
    if case.status != "open":
        raise AuthorisationError(f"case {case.reference} is {case.status}; no search can run")
    if not case.authorisations:
        raise AuthorisationError(
            f"case {case.reference} has no authorisation; a supervisor must run "
            f"'retroface case authorise {case.reference} --by NAME --until DATE'"
        )
    auth = current_authorisation(case, now)
    if auth is None:
        latest = case.authorisations[-1]
        if latest.valid_from > now:
            raise AuthorisationError(
                f"case {case.reference}: the authorisation starts at {latest.valid_from:%Y-%m-%d %H:%M} UTC"
            )
        raise AuthorisationError(
            f"case {case.reference}: the authorisation expired at "
            f"{latest.valid_until:%Y-%m-%d %H:%M} UTC; it must be renewed"
        )
    return auth
