"""A supervisor's resolution of a dispute: who may give it, and the standing it gives (the
EU AI Act Art 14(5) two-person rule counts the supervisor as one of two, never as both)."""

from __future__ import annotations

import pytest

from retroface.errors import AuthorisationError, InvalidInputError
from retroface.governance.review_policy import check_resolver, resolved_status

DISAGREEING = [("rev-a", "possible-match"), ("rev-b", "no-match")]


def test_a_possible_match_resolution_confirms_only_with_a_reviewer_who_said_so() -> None:
    assert resolved_status("possible-match", DISAGREEING) == "confirmed"
    alone = [("rev-a", "inconclusive"), ("rev-b", "no-match")]
    assert resolved_status("possible-match", alone) == "possible-match-by-supervisor"
    # A reviewer's latest decision counts: one who said possible match, then no match, is no
    # longer the second person.
    changed = [("rev-a", "possible-match"), ("rev-a", "no-match"), ("rev-b", "inconclusive")]
    assert resolved_status("possible-match", changed) == "possible-match-by-supervisor"
    assert resolved_status("no-match", DISAGREEING) == "rejected-by-supervisor"
    assert resolved_status("inconclusive", DISAGREEING) == "inconclusive-by-supervisor"


def test_the_resolver_is_a_third_person_and_the_candidate_disputed() -> None:
    check_resolver("sgt-2", "officer-1", ["rev-a", "rev-b"], "disputed")
    with pytest.raises(AuthorisationError, match="ran this search"):
        check_resolver("Officer-1", "officer-1", ["rev-a", "rev-b"], "disputed")
    with pytest.raises(AuthorisationError, match="reviewed this candidate"):
        check_resolver("REV-A", "officer-1", ["rev-a", "rev-b"], "disputed")
    with pytest.raises(InvalidInputError, match="not disputed"):
        check_resolver("sgt-2", "officer-1", ["rev-a"], "possible-match")
