"""Human review: trained reviewers only, never the operator who searched, a reason for
every decision, two agreeing reviewers to confirm, and non-matches deleted at review."""

from __future__ import annotations

import hashlib
from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from retroface.errors import AuthorisationError, InvalidInputError
from retroface.governance.identity import Principal
from retroface.governance.review_policy import candidate_status, check_reviewer
from retroface.governance.roles import Role
from retroface.services import App
from retroface.services.access.users import add_user
from retroface.services.cases.manage import close_case
from retroface.services.cases.review import (
    AWAITING_YOU,
    record_review,
    review_queue,
    show_candidate,
)
from retroface.services.search.photos import search
from retroface.store.models import AuditEvent, Review, Template
from tests.conftest import ADMIN, SUPERVISOR
from tests.helpers import PASSWORD, authorised_case, gallery_with

pytestmark = pytest.mark.needs_data


def _reviewer(app: App, name: str) -> App:
    add_user(
        app.acting_as(ADMIN),
        name,
        Role.REVIEWER,
        PASSWORD,
        training_completed_on=app.now().date(),
    )
    return app.acting_as(Principal(name, Role.REVIEWER))


def _probe_templates(app: App) -> int:
    with app.unit_of_work() as uow:
        return int(
            uow.session.scalar(select(func.count(Template.id)).where(Template.subject_id.is_(None)))
            or 0
        )


@pytest.fixture
def lead(app: App, data: Path) -> tuple[str, int]:
    """(case, candidate id) of an operator's search that put obama on the list."""
    examples = data / "face_recognition" / "examples"
    gallery_with(app, "g", {"obama": [examples / "obama.jpg"], "biden": [examples / "biden.jpg"]})
    case = authorised_case(app)
    report = search(app, case, "g", [examples / "obama2.jpg"])
    (candidate,) = report.probes[0].candidates
    return case, candidate.candidate_id


def test_a_second_reviewer_decides_blind_to_the_first(app: App, lead: tuple[str, int]) -> None:
    # Attack on independence: the second reviewer reads the first's outcome and reason and
    # simply agrees. Until they have decided, they see neither (nor the standing).
    case, candidate = lead
    first, second = _reviewer(app, "rev-a"), _reviewer(app, "rev-b")
    record_review(first, candidate, "possible-match", "ear shape, scar over left eye")
    (seen,) = review_queue(second, case_reference=case)
    assert seen.status == AWAITING_YOU and seen.reviews == []
    assert show_candidate(second, candidate).reviews == []
    (pending,) = review_queue(second, case_reference=case, pending_only=True)
    assert pending.candidate_id == candidate
    decided = record_review(second, candidate, "possible-match", "nose bridge, hairline")
    assert decided.status == "confirmed" and len(decided.reviews) == 2
    # Supervisors see every decision.
    (overseen,) = review_queue(app.acting_as(SUPERVISOR), case_reference=case)
    assert [r.reviewer for r in overseen.reviews] == ["rev-a", "rev-b"]


def test_the_operator_sees_their_own_cases_candidates_but_never_decides(
    app: App, lead: tuple[str, int]
) -> None:
    case, candidate = lead
    (seen,) = review_queue(app, case_reference=case)  # the operator who ran the search
    assert seen.candidate_id == candidate and seen.status == "unreviewed"
    with pytest.raises(AuthorisationError, match="may not review decide"):
        record_review(app, candidate, "possible-match", "it is him")
    stranger = app.acting_as(Principal("officer-99", Role.OPERATOR))
    with pytest.raises(AuthorisationError, match="not on the team"):
        review_queue(stranger, case_reference=case)


def test_confirmation_needs_two_different_reviewers(app: App, lead: tuple[str, int]) -> None:
    case, candidate = lead
    first, second, third = (_reviewer(app, f"rev-{i}") for i in range(3))

    assert record_review(first, candidate, "possible-match", "ear shape, scar").status == (
        "possible-match"
    )
    # The same reviewer agreeing with themself does not confirm.
    again = record_review(first, candidate, "possible-match", "second look")
    assert again.status == "possible-match"
    confirmed = record_review(second, candidate, "Possible-Match", "nose bridge, hairline")
    assert confirmed.status == "confirmed"
    assert [r.reviewer for r in confirmed.reviews] == ["rev-0", "rev-0", "rev-1"]
    disputed = record_review(third, candidate, "no-match", "different jaw line")
    assert disputed.status == "disputed"

    queue = review_queue(first, case_reference=case)
    assert [c.status for c in queue] == ["disputed"]
    assert queue[0].notice.startswith("investigative lead")
    with app.unit_of_work() as uow:
        viewed = uow.session.scalar(
            select(func.count(AuditEvent.id)).where(AuditEvent.action == "candidates.viewed")
        )
        reviewed = list(
            uow.session.scalars(
                select(AuditEvent.actor).where(AuditEvent.action == "candidate.reviewed")
            )
        )
    assert viewed == 1 and reviewed == ["rev-0", "rev-0", "rev-1", "rev-2"]


@pytest.mark.parametrize(
    ("outcome", "reason", "message"),
    [("match", "looks like him", "review outcome"), ("no-match", "   ", "reason")],
)
def test_a_decision_needs_a_listed_outcome_and_a_reason(
    app: App, lead: tuple[str, int], outcome: str, reason: str, message: str
) -> None:
    _, candidate = lead
    with pytest.raises(InvalidInputError, match=message):
        record_review(_reviewer(app, "rev"), candidate, outcome, reason)
    with app.unit_of_work() as uow:
        assert uow.session.scalar(select(func.count(Review.id))) == 0


def test_untrained_reviewers_and_the_searching_operator_are_refused(
    app: App, lead: tuple[str, int]
) -> None:
    _, candidate = lead
    no_record = app.acting_as(Principal("rev-untrained", Role.REVIEWER))
    with pytest.raises(AuthorisationError, match="no face-comparison training"):
        record_review(no_record, candidate, "no-match", "different person")
    with pytest.raises(AuthorisationError, match="may not review decide"):
        record_review(app, candidate, "possible-match", "it is him")  # the operator
    with app.unit_of_work() as uow:
        refusals = list(
            uow.session.scalars(
                select(AuditEvent.actor).where(AuditEvent.action == "access.refused")
            )
        )
        assert uow.session.scalar(select(func.count(Review.id))) == 0
    assert refusals == ["rev-untrained", "officer-1"]
    with pytest.raises(InvalidInputError, match="training"):
        add_user(app.acting_as(ADMIN), "rev-x", Role.REVIEWER, PASSWORD)


def test_separation_of_duties_holds_even_for_one_person_with_two_roles() -> None:
    rules = {"today": date(2026, 6, 1), "training_valid_days": 365}
    with pytest.raises(AuthorisationError, match="ran this search"):
        check_reviewer("Officer-1", date(2026, 1, 1), "officer-1", **rules)
    check_reviewer("rev-1", date(2026, 1, 1), "officer-1", **rules)


def test_a_training_date_in_the_future_or_past_its_refresher_does_not_count(
    app: App, lead: tuple[str, int]
) -> None:
    # Attack: an admin records a future training date so an untrained reviewer counts as
    # trained; or a reviewer trained years ago keeps deciding.
    _, candidate = lead
    admin = app.acting_as(ADMIN)
    today = app.now().date()
    with pytest.raises(InvalidInputError, match="in the future"):
        add_user(
            admin,
            "rev-soon",
            Role.REVIEWER,
            PASSWORD,
            training_completed_on=today + timedelta(days=30),
        )
    stale_on = today - timedelta(days=app.settings.reviewer_training_valid_days + 1)
    add_user(admin, "rev-stale", Role.REVIEWER, PASSWORD, training_completed_on=stale_on)
    with pytest.raises(AuthorisationError, match="refresher period"):
        record_review(
            app.acting_as(Principal("rev-stale", Role.REVIEWER)), candidate, "no-match", "x"
        )
    with pytest.raises(AuthorisationError, match="in the future"):
        check_reviewer(
            "rev-1", today + timedelta(days=1), "officer-1", today=today, training_valid_days=365
        )
    with app.unit_of_work() as uow:
        assert uow.session.scalar(select(func.count(Review.id))) == 0
        refused = uow.session.scalars(
            select(AuditEvent.actor).where(AuditEvent.action == "access.refused")
        ).all()
    assert "rev-stale" in refused


def test_reviewed_non_match_loses_its_probe_template(app: App, lead: tuple[str, int]) -> None:
    _, candidate = lead
    assert _probe_templates(app) == 1
    record_review(_reviewer(app, "rev-a"), candidate, "inconclusive", "blurred")
    assert _probe_templates(app) == 1
    record_review(_reviewer(app, "rev-b"), candidate, "no-match", "different person")
    assert _probe_templates(app) == 1  # disputed (inconclusive vs no-match): kept
    record_review(app.acting_as(Principal("rev-a", Role.REVIEWER)), candidate, "no-match", "again")
    assert _probe_templates(app) == 0
    with app.unit_of_work() as uow:
        deleted = uow.session.scalar(
            select(AuditEvent.details).where(AuditEvent.action == "probe.deleted")
        )
    assert deleted is not None and deleted["templates_deleted"] == 1


def test_no_review_after_the_case_closes(app: App, lead: tuple[str, int]) -> None:
    case, candidate = lead
    reviewer = _reviewer(app, "rev-late")
    close_case(app, case, "charged")
    with pytest.raises(InvalidInputError, match="closed"):
        record_review(reviewer, candidate, "possible-match", "late")
    assert _probe_templates(app) == 0  # closure purged every probe template


def test_status_rules() -> None:
    assert candidate_status([]) == "unreviewed"
    assert candidate_status([("a", "possible-match"), ("A", "possible-match")]) == "possible-match"
    assert candidate_status([("a", "no-match"), ("a", "possible-match")]) == "possible-match"
    assert candidate_status([("a", "possible-match"), ("b", "possible-match")]) == "confirmed"
    assert candidate_status([("a", "no-match"), ("b", "no-match")]) == "no-match"


def test_audit_carries_the_eu_ai_act_article_12_3_fields(
    app: App, lead: tuple[str, int], data: Path
) -> None:
    """(a) start and end, (b) reference database and version, (c) the input that led to a
    match, (d) who verified the result."""
    case, candidate = lead
    record_review(_reviewer(app, "rev-v"), candidate, "possible-match", "same ears")
    with app.unit_of_work() as uow:
        events = {
            action: (actor, details)
            for action, actor, details in uow.session.execute(
                select(AuditEvent.action, AuditEvent.actor, AuditEvent.details).where(
                    AuditEvent.case_reference == case
                )
            )
        }
    _, started = events["search.started"]
    _, processed = events["search.media_processed"]
    _, completed = events["search.completed"]
    reviewer, reviewed = events["candidate.reviewed"]
    assert completed["started_at"] <= completed["finished_at"]
    assert started["gallery"] == "g" and started["gallery_version"] >= 2
    obama2 = data / "face_recognition" / "examples" / "obama2.jpg"
    assert processed["sha256"] == hashlib.sha256(obama2.read_bytes()).hexdigest()
    (match,) = processed["matches"]
    assert len(match["box"]) == 4 and match["subjects"] == [reviewed["subject_id"]]
    assert reviewer == "rev-v" and reviewed["outcome"] == "possible-match"
