"""Human review of candidates: the outcomes, who may decide, and when a match is confirmed.

A candidate list is an investigative lead, not an identification (ICO
Opinion 2019/01; EU AI Act Art 14(5): no action on a remote biometric
identification unless verified by at least two people). So a candidate is
``confirmed`` only when two different trained reviewers both say
``possible-match``, and the operator who ran the search never reviews it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date

from retroface.errors import AuthorisationError, InvalidInputError
from retroface.governance.case_policy import check_choice

OUTCOMES: dict[str, str] = {
    "possible-match": "The reviewer judges the candidate may be the probe person",
    "no-match": "The reviewer judges the candidate is not the probe person",
    "inconclusive": "The images do not allow a judgement",
}
CONFIRMING_REVIEWERS = 2

#: The features a reviewer compares, in the order of a morphological comparison (after the
#: FISWG "Facial Image Comparison Feature List for Morphological Analysis", reduced to the
#: components a reviewer can judge in a custody photo or a CCTV still). Key → label.
COMPARISON_FEATURES: dict[str, str] = {
    "face-shape": "Face shape",
    "hairline": "Hairline",
    "eyebrows": "Eyebrows",
    "eyes": "Eyes",
    "nose": "Nose",
    "ears": "Ears",
    "mouth": "Mouth",
    "marks": "Marks, scars, tattoos",
}
#: What a reviewer may say of one feature. Key → label.
FEATURE_FINDINGS: dict[str, str] = {
    "similar": "similar",
    "different": "different",
    "not-visible": "not visible",
}


def check_outcome(outcome: str, reason: str) -> tuple[str, str]:
    key = check_choice(outcome, OUTCOMES, "review outcome")
    if not reason.strip():
        raise InvalidInputError("a review needs a reason (what in the images supports it)")
    return key, reason.strip()


def check_notes(notes: Mapping[str, str] | None) -> dict[str, str] | None:
    """Structured comparison notes as stored: each feature compared (of
    :data:`COMPARISON_FEATURES`) with its finding (of :data:`FEATURE_FINDINGS`), in the
    list's order; None when no feature was noted. A reviewer may leave a feature out (not
    compared), but never note a feature or a finding outside the lists: notes that differ
    from review to review in their words cannot be read side by side, or counted."""
    if not notes:
        return None
    checked: dict[str, str] = {}
    for feature, finding in notes.items():
        key = check_choice(_as_key(feature), COMPARISON_FEATURES, "compared feature")
        if key in checked:
            raise InvalidInputError(f"the feature {key!r} is noted twice")
        checked[key] = check_choice(_as_key(finding), FEATURE_FINDINGS, f"finding for {key}")
    return {k: checked[k] for k in COMPARISON_FEATURES if k in checked}


def notes_text(notes: Mapping[str, str] | None) -> str:
    """Notes as one line a person reads: ``face shape similar; ears not visible``."""
    return "; ".join(
        f"{COMPARISON_FEATURES.get(k, k).lower()} {FEATURE_FINDINGS.get(v, v)}"
        for k, v in (notes or {}).items()
    )


def _as_key(text: str) -> str:
    """``Face shape``, ``face_shape`` and ``face-shape`` name one feature."""
    return "-".join(text.strip().lower().replace("_", " ").split())


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


#: The standing of a disputed candidate once a supervisor has resolved it. ``confirmed``
#: only where two people say possible-match: the supervisor and a reviewer who said so.
RESOLVED_POSSIBLE_MATCH_ALONE = "possible-match-by-supervisor"
RESOLVED_NO_MATCH = "rejected-by-supervisor"
RESOLVED_INCONCLUSIVE = "inconclusive-by-supervisor"
RESOLVED_STATUSES: dict[str, str] = {
    "confirmed": "confirmed (a reviewer and the resolving supervisor)",
    RESOLVED_POSSIBLE_MATCH_ALONE: "possible match by the supervisor alone: not confirmed",
    RESOLVED_NO_MATCH: "rejected by the supervisor",
    RESOLVED_INCONCLUSIVE: "inconclusive, resolved by the supervisor",
}


def check_resolver(
    supervisor: str, search_requester: str, reviewers: Iterable[str], status: str
) -> None:
    """Who may resolve a disagreement: a supervisor who is neither the person who ran the
    search nor one of the reviewers (a third, independent person, as the College of
    Policing APP asks of a dispute), and only a candidate that is disputed now."""
    if status != "disputed":
        raise InvalidInputError(
            f"this candidate is {status}, not disputed: only a candidate two reviewers "
            "disagree on goes to a supervisor"
        )
    name = supervisor.casefold()
    if name == search_requester.casefold():
        raise AuthorisationError(
            f"{supervisor} ran this search and cannot resolve its candidates (separation of duties)"
        )
    if name in {r.casefold() for r in reviewers}:
        raise AuthorisationError(
            f"{supervisor} reviewed this candidate and cannot resolve the disagreement; "
            "another supervisor must"
        )


def resolved_status(outcome: str, reviews: Iterable[tuple[str, str]]) -> str:
    """The standing a supervisor's resolution gives a disputed candidate.

    EU AI Act Art 14(5) asks for two people: a ``possible-match`` resolution confirms the
    candidate only with a reviewer whose latest decision was also ``possible-match`` (the
    supervisor and that reviewer are the two); otherwise the supervisor stands alone and
    the candidate is not confirmed.
    """
    latest: dict[str, str] = {}
    for reviewer, said in reviews:
        latest[reviewer.casefold()] = said
    if outcome == "possible-match":
        return "confirmed" if "possible-match" in latest.values() else RESOLVED_POSSIBLE_MATCH_ALONE
    return RESOLVED_NO_MATCH if outcome == "no-match" else RESOLVED_INCONCLUSIVE
