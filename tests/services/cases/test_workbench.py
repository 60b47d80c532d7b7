"""The workbench's reads: a search's results with every face (too poor ones as not searched),
the queue oldest first with its filters, and everything a reviewer compares, footage
included; each an audited read, refused outside the case's team."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image
from sqlalchemy import select

from retroface.errors import AuthorisationError, InvalidInputError
from retroface.governance.identity import Principal
from retroface.governance.roles import Role
from retroface.media import load_image
from retroface.media.degrade import Degradation, degrade
from retroface.services import App
from retroface.services.access.users import add_user
from retroface.services.cases.review import AWAITING_YOU, record_review
from retroface.services.cases.workbench import (
    candidate_comparison,
    case_searches,
    next_pending,
    review_work,
    search_results,
)
from retroface.services.search.photos import search
from retroface.store.models import AuditEvent
from tests.conftest import ADMIN, EXAMPLES, OPERATOR, SUPERVISOR
from tests.helpers import PASSWORD, authorised_case, gallery_with

pytestmark = pytest.mark.needs_data


def _reviewer(app: App, name: str) -> App:
    add_user(
        app.acting_as(ADMIN), name, Role.REVIEWER, PASSWORD, training_completed_on=app.now().date()
    )
    return app.acting_as(Principal(name, Role.REVIEWER))


def _size(jpeg: bytes | None) -> tuple[int, int]:
    assert jpeg is not None
    with Image.open(io.BytesIO(jpeg)) as image:
        return image.size


def test_a_search_shows_every_face_its_candidates_and_the_blurred_face_as_not_searched(
    app: App, data: Path, tmp_path: Path
) -> None:
    gallery_with(app, "g", {"obama": [EXAMPLES / "obama.jpg"], "biden": [EXAMPLES / "biden.jpg"]})
    case = authorised_case(app)
    # A real face photo blurred as bad CCTV is: too poor to search reliably.
    blurred = tmp_path / "blurred.png"
    source = load_image(data / "lfw" / "Colin_Powell" / "Colin_Powell_0002.jpg").pixels
    Image.fromarray(degrade(source, Degradation("gaussian_blur", 5.0), inter_eye_px=40.0)).save(
        blurred
    )
    report = search(app, case, "g", [EXAMPLES / "obama2.jpg", blurred])

    results = search_results(app, report.search_id)  # the operator who ran it
    assert (results.case, results.gallery, results.status) == (case, "g", "completed")
    by_file = {f.source.rsplit("/", 1)[-1]: f for f in results.faces}
    assert set(by_file) == {"obama2.jpg", "blurred.png"}
    found, small = by_file["obama2.jpg"], by_file["blurred.png"]
    assert found.searched and found.bar is not None and _size(found.crop_jpeg) == (160, 160)
    best = found.candidates[0]
    assert (
        best.candidate.subject == "obama"
        and best.rank == 1
        and best.score >= found.bar
        and best.reference_jpeg is not None
    )
    assert not small.searched and small.candidates == [] and small.crop_jpeg
    assert any("blurred" in reason for reason in small.reasons)
    assert case_searches(app, case)[0].search_id == report.search_id

    # Blind review holds here too: a reviewer sees no standing but "awaiting".
    reviewer = _reviewer(app, "rev-a")
    record_review(_reviewer(app, "rev-b"), best.candidate.candidate_id, "possible-match", "eyes")
    seen = search_results(reviewer, report.search_id).faces
    assert {c.candidate.status for f in seen for c in f.candidates} == {AWAITING_YOU}

    # Need to know: an operator off the case's team sees nothing, and the refusal is audited.
    add_user(app.acting_as(ADMIN), "officer-9", Role.OPERATOR, PASSWORD)
    with pytest.raises(AuthorisationError, match="not on the team"):
        search_results(app.acting_as(Principal("officer-9", Role.OPERATOR)), report.search_id)
    with app.unit_of_work() as uow:
        viewed = uow.session.scalars(
            select(AuditEvent.actor).where(AuditEvent.action == "search.results_viewed")
        ).all()
    assert viewed == [OPERATOR.username, "rev-a"]


def test_the_queue_is_oldest_first_filtered_and_next_skips_what_you_decided(app: App) -> None:
    gallery_with(app, "g", {"obama": [EXAMPLES / "obama.jpg"], "biden": [EXAMPLES / "biden.jpg"]})
    first_case, second_case = authorised_case(app, "Q-1"), authorised_case(app, "Q-2")
    older = search(app, first_case, "g", [EXAMPLES / "obama2.jpg"])
    newer = search(app, second_case, "g", [EXAMPLES / "obama2.jpg"])
    reviewer = _reviewer(app, "rev-a")

    work = review_work(reviewer)
    ids = [c.candidate_id for c in work.items]
    assert ids == sorted(ids) and {c.case for c in work.items} == {"Q-1", "Q-2"}
    assert work.cases == ["Q-1", "Q-2"]
    only = review_work(reviewer, case_reference="Q-2", search_id=newer.search_id)
    assert {c.case for c in only.items} == {"Q-2"}

    oldest = next_pending(reviewer)
    assert oldest == older.probes[0].candidates[0].candidate_id
    record_review(reviewer, oldest, "possible-match", "nose")
    assert next_pending(reviewer) != oldest  # decided by them: no longer theirs to do
    assert oldest in [c.candidate_id for c in review_work(reviewer, status="all").items]
    # A supervisor's "pending" still holds it: one more decision is needed.
    supervisor = review_work(app.acting_as(SUPERVISOR), case_reference="Q-1")
    assert oldest in [c.candidate_id for c in supervisor.items]
    with pytest.raises(InvalidInputError, match="unknown status 'later'; choose one of: pending"):
        review_work(reviewer, status="later")


def test_the_comparison_of_a_footage_candidate_has_its_best_views_and_time_range(
    app: App, data: Path
) -> None:
    gallery_with(app, "cast", {"lin-manuel-miranda": [EXAMPLES / "lin-manuel-miranda.png"]})
    case = authorised_case(app, "CLIP-W")
    report = search(app, case, "cast", [data / "video" / "short_hamilton_clip.mp4"])
    sighting = next(p for p in report.probes if p.candidates)
    candidate = sighting.candidates[0].candidate_id

    views = candidate_comparison(app.acting_as(SUPERVISOR), candidate)
    assert views.sighting_id == sighting.sighting_id
    assert (views.first_s, views.last_s) == (
        pytest.approx(sighting.first_s, abs=0.01),
        pytest.approx(sighting.last_s, abs=0.01),
    )
    assert views.best_views and all(
        views.first_s - 0.01 <= b.time_s <= views.last_s + 0.01 for b in views.best_views
    )
    assert _size(views.probe_jpeg) == (480, 480) and _size(views.reference_jpeg) == (480, 480)
    assert _size(views.frame_jpeg) == (640, 360)  # the clip's whole frame
    assert [r.matched for r in views.references] == [True]

    # The results of the footage search list its sightings, each with its time range.
    faces = search_results(app, report.search_id).faces
    assert {f.sighting_id for f in faces} >= {p.sighting_id for p in report.probes}
    assert all(f.first_s is not None and f.crop_jpeg for f in faces)
    # The frame scrubber: frames of the sighting's range, read from the evidence file.
    assert 2 <= len(views.scrub_frames) <= 12
    assert all(views.first_s - 0.05 <= f.time_s <= views.last_s + 0.05 for f in views.scrub_frames)

    # Searched again with a threshold the operator chose: the sightings' faces are shared,
    # yet each search's results keep the bar that search used.
    again = search(app, case, "cast", [data / "video" / "short_hamilton_clip.mp4"], threshold=0.97)
    first = {f.bar for f in search_results(app, report.search_id).faces if f.searched}
    later = {f.bar for f in search_results(app, again.search_id).faces if f.searched}
    assert later == {0.97} and first and 0.97 not in first
