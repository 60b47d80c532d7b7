"""Rules a case must satisfy before any search runs under it.

Lawful bases are a fixed list (UK Data Protection Act 2018 Part 3 and the
common-law policing basis relied on in Bridges v South Wales Police), so
statistics can be grouped by them and nobody can type "because".
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from retroface.errors import AuthorisationError, InvalidInputError

if TYPE_CHECKING:  # annotations only: reading the fixed lists (CLI help) loads no database
    from retroface.store.models import Authorisation, Case

LAWFUL_BASES: dict[str, str] = {
    "law-enforcement": "DPA 2018 s.35: necessary for a law enforcement purpose (Part 3)",
    "common-law-policing": "Common-law policing powers to prevent and detect crime",
    "court-order": "An order or warrant from a court",
    "vulnerable-person": "Safeguarding a missing or vulnerable person (DPA 2018 Sch. 8 para 3)",
    "demo": "Demonstration on consenting or public test data only",
}

#: Home Office police recorded crime groups, plus the non-crime reasons a
#: search may lawfully be made; a fixed list so statistics group cleanly.
OFFENCE_CATEGORIES: dict[str, str] = {
    "violence-against-the-person": "Homicide, violence with or without injury, stalking",
    "sexual-offences": "Rape and other sexual offences",
    "robbery": "Robbery of business or personal property",
    "theft": "Theft, shoplifting, vehicle offences",
    "burglary": "Residential and business burglary",
    "criminal-damage-and-arson": "Criminal damage and arson",
    "drug-offences": "Trafficking and possession of drugs",
    "possession-of-weapons": "Possession of weapons offences",
    "public-order-offences": "Public order offences",
    "fraud": "Fraud and computer misuse",
    "terrorism": "Terrorism offences",
    "other-crime": "Miscellaneous crimes against society",
    "missing-person": "Not a crime: finding a missing or vulnerable person",
    "demo": "Not a crime: demonstration on test data",
}

#: How serious the offence is, by mode of trial; necessity and proportionality
#: are weighed against it, and the transparency report counts by it.
SERIOUSNESS: dict[str, str] = {
    "indictable-only": "Triable only in the Crown Court (the most serious offences)",
    "either-way": "Triable in either the magistrates' court or the Crown Court",
    "summary-only": "Triable only in the magistrates' court",
    "non-crime": "No offence (missing person, safeguarding, demonstration)",
}


def check_choice(value: str, choices: Mapping[str, object], what: str) -> str:
    """The normalised key of a fixed-list value, or an error that lists the choices."""
    key = value.strip().lower()
    if key not in choices:
        raise InvalidInputError(f"unknown {what} {value!r}; choose one of: {', '.join(choices)}")
    return key


def check_lawful_basis(basis: str) -> str:
    return check_choice(basis, LAWFUL_BASES, "lawful basis")


def check_authorisation_window(
    start: datetime, until: datetime, now: datetime, *, max_days: int, clock_skew_s: float
) -> tuple[datetime, datetime]:
    """The (start, end) of an authorisation, or why not.

    An authorisation is a supervisor's judgement of necessity and proportionality
    at a moment (College of Policing APP on facial recognition: authorisations
    are time-limited and reviewed): a window of years, or one that starts in the
    past so that searches already run look authorised, is no authorisation at
    all. A start up to ``clock_skew_s`` in the past is allowed for clocks that
    disagree.
    """
    if start < now - timedelta(seconds=clock_skew_s):
        raise InvalidInputError(
            f"an authorisation cannot start in the past (got {start:%Y-%m-%d %H:%M} UTC)"
        )
    if until <= now:
        raise InvalidInputError(
            f"the authorisation must end in the future (got {until:%Y-%m-%d %H:%M} UTC)"
        )
    if until <= start:
        raise InvalidInputError("the authorisation must end after it starts")
    if until - start > timedelta(days=max_days):
        raise InvalidInputError(
            f"an authorisation lasts at most {max_days} days (this deployment's setting); "
            "authorise again when it ends"
        )
    return start, until


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


def check_authorisation_covers(
    case: Case, auth: Authorisation, gallery_name: str | None, searches_done: int
) -> None:
    """Refuse a search of a gallery outside the scope, or beyond the number authorised.

    ``gallery_name`` is None for a 1:1 comparison, which searches no gallery but still
    counts as a search.
    """
    if (
        gallery_name is not None
        and auth.gallery_scope is not None
        and gallery_name not in auth.gallery_scope
    ):
        raise AuthorisationError(
            f"case {case.reference}: gallery {gallery_name!r} is outside the authorised scope "
            f"({', '.join(auth.gallery_scope) or 'no galleries'})"
        )
    if auth.max_searches is not None and searches_done >= auth.max_searches:
        raise AuthorisationError(
            f"case {case.reference}: the authorisation allows {auth.max_searches} searches "
            f"and {searches_done} have run; a supervisor must authorise more"
        )


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
