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


def check_reviewer(reviewer: str, trained_on: date | None, search_requester: str) -> None:
    if trained_on is None:
        raise AuthorisationError(
            f"{reviewer} has no face-comparison training on record; an admin must record it"
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
