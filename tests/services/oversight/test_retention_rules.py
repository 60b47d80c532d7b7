"""Retention: probe biometrics go when they are no longer needed, EU-mode searches without a
judicial authorisation are suspended after 48 hours, listings expire and are then purged.
The schedule is applied by ``run_retention``, which must be idempotent."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from retroface.errors import NotFoundError
from retroface.faces.face_choice import FaceChoice
from retroface.governance.deployment_policy import DpiaRecord
from retroface.governance.watchlist_policy import RETENTION_CLASSES
from retroface.services import App
from retroface.services.cases.manage import (
    authorise_case,
    close_case,
    record_judicial_authorisation,
)
from retroface.services.deployment.rules import (
    register_dpia,
    set_eu_mode,
    set_probe_retention,
)
from retroface.services.galleries.manage import restore_subject, show_gallery
from retroface.services.oversight.retention import run_retention
from retroface.services.search.photos import search
from retroface.store.models import AuditEvent, Candidate, ReferenceImage, Search, Subject, Template
from tests.conftest import ADMIN
from tests.helpers import authorised_case, gallery_with

pytestmark = pytest.mark.needs_data


@pytest.fixture
def examples(data: Path) -> Path:
    return data / "face_recognition" / "examples"


@pytest.fixture
def gallery(app: App, examples: Path) -> str:
    return gallery_with(
        app, "g", {"obama": [examples / "obama.jpg"], "biden": [examples / "biden.jpg"]}
    )


def _scalar(app: App, query) -> int:  # type: ignore[no-untyped-def]
    with app.unit_of_work() as uow:
        return int(uow.session.scalar(query) or 0)


def _probe_templates(app: App) -> int:
    return _scalar(app, select(func.count(Template.id)).where(Template.subject_id.is_(None)))


def _at(app: App, delta: timedelta) -> App:
    """The same deployment, its clock moved on by ``delta``."""
    moment = app.now() + delta
    return replace(app, clock=lambda: moment)


def test_faces_without_a_lead_keep_no_template_unless_the_deployment_says_case_closure(
    app: App, gallery: str, examples: Path
) -> None:
    group = examples / "knn_examples" / "test" / "obama_and_biden.jpg"
    everyone = FaceChoice(all_faces_reason="every face of the group photo")
    case = authorised_case(app)
    report = search(app, case, gallery, [group], face_choice=everyone)
    with_lead = sum(1 for p in report.probes if p.candidates)
    assert len(report.probes) == 3 and with_lead == 2
    assert _probe_templates(app) == with_lead  # the child's template went at completion

    set_probe_retention(app.acting_as(ADMIN), "case-closure")
    search(app, case, gallery, [group], face_choice=everyone)
    assert _probe_templates(app) == with_lead + 3
    close_case(app, case, "suspect charged")
    assert _probe_templates(app) == 0
    admin = app.acting_as(ADMIN)
    assert run_retention(admin).probe_templates_deleted == 0  # closure already did it


def test_eu_mode_suspends_searches_without_judicial_authorisation_after_48_hours(
    app: App, supervisor: App, gallery: str, examples: Path
) -> None:
    admin = app.acting_as(ADMIN)
    set_eu_mode(admin, True)
    probe = examples / "obama2.jpg"
    unauthorised = authorised_case(app, "EU-1")
    judicial = authorised_case(app, "EU-2")
    doomed = search(app, unauthorised, gallery, [probe])
    kept = search(app, judicial, gallery, [probe])
    record_judicial_authorisation(supervisor, judicial, "MAG-COURT-2026-881")

    assert run_retention(_at(admin, timedelta(hours=47))).searches_suspended == 0
    report = run_retention(_at(admin, timedelta(hours=49)))
    assert report.searches_suspended == 1
    assert report.candidates_deleted == 1 and report.probe_templates_deleted == 1
    assert run_retention(_at(admin, timedelta(hours=50))).searches_suspended == 0  # idempotent
    with app.unit_of_work() as uow:
        statuses = {s.id: s.status for s in uow.session.scalars(select(Search))}
        left = set(uow.session.scalars(select(Candidate.search_id)))
    assert statuses[doomed.search_id] == "suspended" and doomed.search_id not in left
    assert statuses[kept.search_id] == "completed" and kept.search_id in left


def test_eu_mode_off_leaves_searches_alone(app: App, gallery: str, examples: Path) -> None:
    case = authorised_case(app)
    search(app, case, gallery, [examples / "obama2.jpg"])
    report = run_retention(_at(app.acting_as(ADMIN), timedelta(days=30)))
    assert report.searches_suspended == 0 and _probe_templates(app) == 1


def test_listings_leave_search_on_their_review_date_and_are_purged_after_the_grace_period(
    app: App, supervisor: App, gallery: str, examples: Path
) -> None:
    admin = app.acting_as(ADMIN)
    year = RETENTION_CLASSES["review-1-year"]
    grace = app.settings.removal_grace_days
    case = authorised_case(app)
    today = app.now().date()
    register_dpia(admin, DpiaRecord("DPIA-3Y", "1", today, today + timedelta(days=3 * 365)))
    assert run_retention(_at(admin, timedelta(days=year - 1))).listings_expired == 0

    expired = run_retention(_at(admin, timedelta(days=year + 1)))
    assert expired.listings_expired == 2 and expired.subjects_purged == 0
    assert show_gallery(supervisor, gallery).subjects == 0
    # A year on, the case is authorised again (authorisations last at most 90 days).
    authorise_case(
        _at(supervisor, timedelta(days=year + 1)), case, until=app.now() + timedelta(days=year + 2)
    )
    with pytest.raises(NotFoundError, match="no enrolled faces"):
        search(_at(app, timedelta(days=year + 1)), case, gallery, [examples / "obama2.jpg"])

    # A supervisor's review brings one back, with a fresh review date.
    restore_subject(_at(supervisor, timedelta(days=year + 2)), gallery, "obama")
    assert run_retention(_at(admin, timedelta(days=year + 3))).listings_expired == 0

    purged = run_retention(_at(admin, timedelta(days=year + 1 + grace)))
    assert purged.subjects_purged == 1 and purged.listings_expired == 0
    again = run_retention(_at(admin, timedelta(days=year + 2 + grace)))
    assert again.subjects_purged == 0 and again.listings_expired == 0
    assert _scalar(app, select(func.count(ReferenceImage.id))) == 1  # obama's only
    with app.unit_of_work() as uow:
        biden_removed = uow.session.scalar(
            select(Subject.removed_at).where(Subject.name == "biden")
        )
        runs = uow.session.scalar(
            select(func.count(AuditEvent.id)).where(AuditEvent.action == "retention.run")
        )
    assert biden_removed is not None
    assert runs == 5  # one audited event per run, even when nothing was due
