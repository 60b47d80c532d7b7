"""One candidate per (face or sighting, subject): a repeated search of the same evidence
reuses the case's candidates and their reviews, says so, and keeps its own finding."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from sqlalchemy import func, select

from retroface.governance.identity import Principal
from retroface.governance.roles import Role
from retroface.services import App
from retroface.services.access.users import add_user
from retroface.services.cases.review import record_review, review_queue
from retroface.services.search.footage import find_person
from retroface.services.search.photos import search
from retroface.store.models import AuditEvent, Candidate, CandidateFinding, Template
from tests.conftest import ADMIN, SUPERVISOR
from tests.helpers import PASSWORD, authorised_case, gallery_with

pytestmark = pytest.mark.needs_data


def _count(app: App, model: type) -> int:
    with app.unit_of_work() as uow:
        return int(uow.session.scalar(select(func.count()).select_from(model)) or 0)


def _completed(app: App) -> list[int]:
    """``candidates_reused`` of each search.completed event, oldest first."""
    with app.unit_of_work() as uow:
        details = uow.session.scalars(
            select(AuditEvent.details)
            .where(AuditEvent.action == "search.completed")
            .order_by(AuditEvent.id)
        ).all()
    return [d["candidates_reused"] for d in details]


def test_a_repeated_search_of_the_same_photo_reuses_the_candidate_and_its_reviews(
    app: App, data: Path, tmp_path: Path
) -> None:
    examples = data / "face_recognition" / "examples"
    gallery_with(app, "g", {"obama": [examples / "obama.jpg"], "biden": [examples / "biden.jpg"]})
    case = authorised_case(app)
    first = search(app, case, "g", [examples / "obama2.jpg"])
    ((made,),) = [p.candidates for p in first.probes]
    assert not made.reused and first.candidates_reused == 0 and first.reuse_note is None
    add_user(
        app.acting_as(ADMIN), "rev-a", Role.REVIEWER, PASSWORD,
        training_completed_on=app.now().date(),
    )  # fmt: skip
    record_review(
        app.acting_as(Principal("rev-a", Role.REVIEWER)), made.candidate_id, "no-match", "ears"
    )
    assert _count(app, Template) == 2  # the two gallery templates: the probe's went at review

    # The same bytes under another name (a re-upload): a new face row, the same face.
    copy = shutil.copy(examples / "obama2.jpg", tmp_path / "again.jpg")
    second = search(app, case, "g", [Path(copy)])
    ((again,),) = [p.candidates for p in second.probes]
    assert again.candidate_id == made.candidate_id and again.reused
    assert second.candidates_reused == 1
    assert second.reuse_note == "1 candidate reused with their reviews"
    assert _count(app, Candidate) == 1 and _count(app, CandidateFinding) == 2
    assert _completed(app) == [0, 1]
    # The lead stands rejected: the repeated search's probe template goes at once.
    assert _count(app, Template) == 2

    # The second search's list carries the review; the case's queue lists the lead once.
    (listed,) = review_queue(app.acting_as(SUPERVISOR), search_id=second.search_id)
    assert listed.candidate_id == made.candidate_id
    assert [r.reviewer for r in listed.reviews] == ["rev-a"]
    assert listed.found_by_searches == [first.search_id, second.search_id]
    queue = review_queue(app.acting_as(SUPERVISOR), case_reference=case)
    assert [c.candidate_id for c in queue] == [made.candidate_id]

    # Another face of other evidence is another candidate.
    third = search(app, case, "g", [examples / "obama.jpg"])
    assert not third.probes[0].candidates[0].reused
    assert len(review_queue(app, case_reference=case)) == 2


def test_a_repeated_search_of_the_same_footage_reuses_the_sightings_candidates(
    app: App, data: Path
) -> None:
    examples = data / "face_recognition" / "examples"
    gallery_with(app, "cast", {"lin-manuel-miranda": [examples / "lin-manuel-miranda.png"]})
    case = authorised_case(app)
    clip = data / "video" / "short_hamilton_clip.mp4"
    first = search(app, case, "cast", [clip])
    made = {c.candidate_id for p in first.probes for c in p.candidates}
    assert made and first.candidates_reused == 0
    # ``video find`` of the same person in the same footage: each appearance is a sighting
    # already searched, so it is one of those candidates, reused; and again the same.
    for _ in range(2):
        timeline = find_person(app, case, "cast", "lin-manuel-miranda")
        assert {a.candidate_id for a in timeline.appearances} <= made
        assert timeline.appearances and all(a.reused for a in timeline.appearances)
        assert timeline.candidates_reused == len(timeline.appearances)
    queue = review_queue(app, case_reference=case)
    assert sorted(c.candidate_id for c in queue) == sorted(made)  # no duplicates
