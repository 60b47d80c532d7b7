"""Rules of live facial recognition: a deployment is a bounded, authorised, public act.

Live recognition compares everyone who walks past a camera with a
watchlist, so each use is authorised in advance for one place, purpose,
time window and watchlist version (College of Policing APP on LFR, 2022;
Bridges [2020] EWCA Civ 1058 on the "who" and "where" discretion), the
public is told (the notice text is part of the record), every alert is
adjudicated by an officer, and the figures are published per deployment.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from retroface.errors import AuthorisationError, InvalidInputError

MAX_WINDOW = timedelta(days=7)
OUTCOMES = ("true-alert", "false-alert", "unconfirmed")
MAX_TEXT = 5000


def checked_deployment_text(purpose: str, location: str, public_notice: str) -> tuple[str, ...]:
    """Purpose, location and the public notice are all required, in plain text."""
    values = (purpose.strip(), location.strip(), public_notice.strip())
    for name, value in zip(("purpose", "location", "public notice"), values, strict=True):
        if not value:
            raise InvalidInputError(f"a live deployment needs its {name}")
        if len(value) > MAX_TEXT or any(ord(c) < 32 and c not in "\n\t" for c in value):
            raise InvalidInputError(f"the {name} must be plain text of at most {MAX_TEXT} chars")
    return values


def check_window(starts_at: datetime, ends_at: datetime) -> None:
    if ends_at <= starts_at:
        raise InvalidInputError("a live deployment must end after it starts")
    if ends_at - starts_at > MAX_WINDOW:
        raise InvalidInputError(
            f"a live deployment may last at most {MAX_WINDOW.days} days; authorise another"
        )


def check_running_allowed(deployment_id: str, starts_at: datetime, ends_at: datetime,
                          now: datetime) -> None:  # fmt: skip
    """Outside its authorised window a deployment does not run, not even for a minute."""
    if now < starts_at:
        raise AuthorisationError(
            f"live deployment {deployment_id} is authorised from {starts_at.isoformat()}; "
            "it may not run before then"
        )
    if now >= ends_at:
        raise AuthorisationError(
            f"live deployment {deployment_id} ended at {ends_at.isoformat()}; "
            "a new deployment must be authorised"
        )


def check_watchlist_unchanged(deployment_id: str, authorised: int, current: int) -> None:
    """The watchlist is authorised as one version: a changed list needs a new authorisation."""
    if authorised != current:
        raise AuthorisationError(
            f"the watchlist of live deployment {deployment_id} changed since it was authorised "
            f"(version {authorised}, now {current}); authorise a new deployment"
        )


def checked_outcome(outcome: str) -> str:
    value = outcome.strip().lower()
    if value not in OUTCOMES:
        raise InvalidInputError(f"an alert's outcome is one of {', '.join(OUTCOMES)}")
    return value
