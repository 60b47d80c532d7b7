"""When biometric data must go: the schedule that ``retroface retention run`` applies.

DPA 2018 s.39 (storage limitation) and DESIGN rule 4: probe templates of
faces that led nowhere go when the search completes (or, if the deployment
chooses, at case closure); reviewed non-matches go at review; case closure
purges every probe template of the case. Watchlist entries leave search on
their review date and are deleted for good after a grace period, so a
mistaken expiry can still be undone. EU AI Act Art 26(10): in EU mode a
search without a judicial or administrative authorisation reference is
suspended after 48 hours and its results purged.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from retroface.errors import InvalidInputError

#: When probe templates of faces with no candidate above threshold are deleted.
PROBE_RETENTION = ("immediate", "case-closure")
EU_AUTHORISATION_DEADLINE = timedelta(hours=48)


def check_probe_retention(value: str) -> str:
    if value not in PROBE_RETENTION:
        raise InvalidInputError(
            f"probe retention must be one of {', '.join(PROBE_RETENTION)}, got {value!r}"
        )
    return value


def eu_search_overdue(started_at: datetime, judicial_reference: str | None, now: datetime) -> bool:
    return judicial_reference is None and now - started_at > EU_AUTHORISATION_DEADLINE


def listing_expired(review_due_on: date | None, today: date) -> bool:
    return review_due_on is not None and review_due_on < today


def removal_final(removed_at: datetime, now: datetime, grace_days: int) -> bool:
    """A reversible removal becomes a deletion once the grace period has passed."""
    return now - removed_at >= timedelta(days=grace_days)
