"""Human review of candidates: the outcomes, who may decide, and when a match is confirmed.

A candidate list is an investigative lead, not an identification (ICO
Opinion 2019/01; EU AI Act Art 14(5): no action on a remote biometric
identification unless verified by at least two people). So a candidate is
``confirmed`` only when two different trained reviewers both say
``possible-match``, and the operator who ran the search never reviews it.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

from retroface.errors import AuthorisationError, InvalidInputError
from retroface.governance.case_policy import check_choice

OUTCOMES: dict[str, str] = {
    "possible-match": "The reviewer judges the candidate may be the probe person",
    "no-match": "The reviewer judges the candidate is not the probe person",
    "inconclusive": "The images do not allow a judgement",
}
CONFIRMING_REVIEWERS = 2


def check_outcome(outcome: str, reason: str) -> tuple[str, str]:
    key = check_choice(outcome, OUTCOMES, "review outcome")
    if not reason.strip():
        raise InvalidInputError("a review needs a reason (what in the images supports it)")
    return key, reason.strip()


def check_training_date(trained_on: date, today: date) -> date:
    """A training date is a past event: a future date would make an untrained reviewer count
    as trained until that day."""
    if trained_on > today:
        raise InvalidInputError(
            f"the training date {trained_on.isoformat()} is in the future; record it once done"
        )
    return trained_on


def check_reviewer(
    reviewer: str,
    trained_on: date | None,
    search_requester: str,
    *,
    today: date,
    training_valid_days: int,
) -> None:
    """Only a trained reviewer, whose training is past and not older than the refresher
    period (College of Policing APP: reviewers are trained and their training kept current),
    and never the person who ran the search."""
    if trained_on is None:
        raise AuthorisationError(
            f"{reviewer} has no face-comparison training on record; an admin must record it"
        )
    if trained_on > today:
        raise AuthorisationError(
            f"{reviewer}'s training date {trained_on.isoformat()} is in the future: not trained yet"
        )
    if (today - trained_on).days > training_valid_days:
        raise AuthorisationError(
            f"{reviewer}'s training of {trained_on.isoformat()} is older than the "
            f"{training_valid_days}-day refresher period; an admin records the refresher"
        )
    if reviewer.casefold() == search_requester.casefold():
        raise AuthorisationError(
            f"{reviewer} ran this search and cannot review its candidates (separation of duties)"
        )


def candidate_status(reviews: Iterable[tuple[str, str]]) -> str:
    """The standing of a candidate from its (reviewer, outcome) rows, oldest first.

    Each reviewer's latest decision counts. ``confirmed`` needs two or more
    reviewers and all of them at ``possible-match``; reviewers who disagree
    leave the candidate ``disputed``.
    """
    latest: dict[str, str] = {}
    for reviewer, outcome in reviews:
        latest[reviewer.casefold()] = outcome
    if not latest:
        return "unreviewed"
    outcomes = set(latest.values())
    if len(outcomes) > 1:
        return "disputed"
    (outcome,) = outcomes
    if outcome == "possible-match" and len(latest) >= CONFIRMING_REVIEWERS:
        return "confirmed"
    return outcome
