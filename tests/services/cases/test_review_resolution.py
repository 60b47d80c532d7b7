"""Two reviewers who disagree send the candidate to a supervisor: a third person (not the
searcher, not a reviewer, on the case's team) records the final standing; the two-person
rule of the EU AI Act Art 14(5) holds; every step is audited."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from retroface.errors import AuthorisationError, InvalidInputError
from retroface.governance.identity import Principal
from retroface.governance.roles import Role
from retroface.services import App
from retroface.services.access.users import add_user
from retroface.services.cases.manage import assign_to_case
from retroface.services.cases.report import candidate_lines, case_report
from retroface.services.cases.resolution import disputed_queue, resolve_review
from retroface.services.cases.review import record_review, review_queue
from retroface.services.search.photos import search
from retroface.store.models import AuditEvent, Template
from tests.conftest import ADMIN, SUPERVISOR
from tests.helpers import PASSWORD, authorised_case, gallery_with

pytestmark = pytest.mark.needs_data


def _person(app: App, name: str, role: Role) -> App:
    add_user(app.acting_as(ADMIN), name, role, PASSWORD, training_completed_on=app.now().date())
    return app.acting_as(Principal(name, role))


def _events(app: App, action: str) -> list[tuple[str, str, dict[str, Any]]]:
    """(actor, object id, details) of each audit event of ``action``, oldest first."""
    with app.unit_of_work() as uow:
        rows = uow.session.execute(
            select(AuditEvent.actor, AuditEvent.object_id, AuditEvent.details)
            .where(AuditEvent.action == action)
            .order_by(AuditEvent.id)
        ).all()
    return [(r[0], r[1], r[2]) for r in rows]


def _probe_templates(app: App) -> int:
    with app.unit_of_work() as uow:
        return int(
            uow.session.scalar(select(func.count(Template.id)).where(Template.subject_id.is_(None)))
            or 0
        )


@pytest.fixture
def lead(app: App, data: Path) -> tuple[str, int]:
    """(case, candidate id): an operator's search put obama on the list."""
    examples = data / "face_recognition" / "examples"
    gallery_with(app, "g", {"obama": [examples / "obama.jpg"], "biden": [examples / "biden.jpg"]})
    case = authorised_case(app)
    report = search(app, case, "g", [examples / "obama2.jpg"])
    (candidate,) = report.probes[0].candidates
    return case, candidate.candidate_id


def _dispute(app: App, candidate: int, first: str, second: str) -> None:
    a, b = _person(app, "rev-a", Role.REVIEWER), _person(app, "rev-b", Role.REVIEWER)
    record_review(a, candidate, first, "ear shape and hairline")
    record_review(b, candidate, second, "jaw line differs")


def test_disagreement_goes_to_a_supervisor_whose_possible_match_confirms_with_a_reviewer(
    app: App, lead: tuple[str, int]
) -> None:
    case, candidate = lead
    supervisor = app.acting_as(SUPERVISOR)
    assert disputed_queue(supervisor) == []
    _dispute(app, candidate, "possible-match", "no-match")
    ((_, _, disputed),) = _events(app, "review.disputed")
    assert disputed["reviewers"] == ["rev-a", "rev-b"]

    (item,) = disputed_queue(supervisor)
    assert item.candidate.candidate_id == candidate and item.candidate.status == "disputed"
    assert item.may_resolve and [r.outcome for r in item.candidate.reviews] == [
        "possible-match",
        "no-match",
    ]
    resolved = resolve_review(supervisor, candidate, "possible-match", "same scar, same ear")
    # Two people said possible match: rev-a and the supervisor.
    assert resolved.status == "confirmed"
    assert resolved.resolution is not None and resolved.resolution.supervisor == "sgt-2"
    ((actor, _, event),) = _events(app, "review.resolved")
    assert actor == "sgt-2" and event["status"] == "confirmed"
    assert event["reviews"] == {"rev-a": "possible-match", "rev-b": "no-match"}
    assert disputed_queue(supervisor) == []
    (seen,) = review_queue(supervisor, case_reference=case)
    assert seen.status == "confirmed" and seen.resolution is not None
    # The case report names the supervisor, the outcome and the reason, in HTML and PDF.
    files = case_report(app, case)
    html = Path(files.html).read_text(encoding="utf-8")
    assert "supervisor sgt-2: possible-match" in html and "same scar, same ear" in html
    assert "standing: confirmed" in html
    assert "Resolved: supervisor sgt-2: possible-match - same scar, same ear" in "\n".join(
        candidate_lines(seen, "not shown")  # the lines the PDF prints under the faces
    )

    # The resolution is final: no more reviews, no second resolution.
    third = _person(app, "rev-c", Role.REVIEWER)
    with pytest.raises(InvalidInputError, match="resolved by supervisor sgt-2"):
        record_review(third, candidate, "no-match", "late opinion")
    with pytest.raises(InvalidInputError, match="already resolved"):
        resolve_review(supervisor, candidate, "no-match", "changed my mind")


def test_who_may_not_resolve_a_dispute(app: App, lead: tuple[str, int]) -> None:
    case, candidate = lead
    supervisor = app.acting_as(SUPERVISOR)
    # Not disputed yet: nothing to resolve.
    with pytest.raises(InvalidInputError, match="not disputed"):
        resolve_review(supervisor, candidate, "no-match", "too early")
    _dispute(app, candidate, "possible-match", "no-match")
    # Roles: a reviewer, the operator who searched.
    with pytest.raises(AuthorisationError, match="may not review resolve"):
        resolve_review(app.acting_as(Principal("rev-a", Role.REVIEWER)), candidate, "no-match", "r")
    with pytest.raises(AuthorisationError, match="may not review resolve"):
        resolve_review(app, candidate, "no-match", "r")
    # A supervisor outside the case's team.
    outsider = _person(app, "sgt-9", Role.SUPERVISOR)
    with pytest.raises(AuthorisationError, match="not on the team"):
        resolve_review(outsider, candidate, "no-match", "r")
    assert disputed_queue(outsider) == []
    # One of the two reviewers, since promoted to supervisor and added to the team.
    assign_to_case(supervisor, case, "rev-a")
    promoted = app.acting_as(Principal("rev-a", Role.SUPERVISOR))
    with pytest.raises(AuthorisationError, match="reviewed this candidate"):
        resolve_review(promoted, candidate, "possible-match", "my own view")
    (shown,) = disputed_queue(promoted)
    assert not shown.may_resolve and "reviewed this candidate" in (shown.why_not or "")
    # A reason is required.
    with pytest.raises(InvalidInputError, match="needs a reason"):
        resolve_review(supervisor, candidate, "no-match", "  ")
    refusals = [
        d["reason"] for _, what, d in _events(app, "access.refused") if what == "review.resolve"
    ]
    assert any("reviewed this candidate" in r for r in refusals)
    assert "not on the case team" in refusals
    rejected = resolve_review(supervisor, candidate, "no-match", "different ear lobes")
    assert rejected.status == "rejected-by-supervisor"
    assert _probe_templates(app) == 0  # the face's only candidate is rejected: its probe goes
    assert [d["reason"] for _, _, d in _events(app, "probe.deleted")] == [
        "every candidate reviewed as no match"
    ]
