"""``retroface retention run``: apply the retention schedule (safe to run from cron).

Idempotent: each step selects only what is still due, so a second run finds
nothing to do. Every step commits with its audit event (ids and counts,
never the data); the index files of changed galleries get the deletions as tombstones
and are merged at once, so the deleted templates leave the disk too.
"""

from __future__ import annotations

from sqlalchemy import select

from retroface.governance.retention import eu_search_overdue, listing_expired, removal_final
from retroface.governance.roles import Action
from retroface.services.app import App
from retroface.services.biometrics.deletion import (
    purge_expired_alerts,
    purge_search_probes,
    purge_search_results,
    purge_subject_data,
)
from retroface.services.biometrics.gallery_index import refresh_gallery_indexes
from retroface.services.deployment.rules import search_rules
from retroface.services.galleries.versions import bump_version
from retroface.services.results import RetentionReport
from retroface.store.models import Case, Gallery, ReferenceImage, Search, Subject


def run_retention(app: App) -> RetentionReport:
    app.require(Action.RETENTION_RUN)
    report = RetentionReport()
    _suspend_unauthorised_eu_searches(app, report)
    _purge_closed_cases(app, report)
    changed = _expire_listings(app, report) | _finalise_removals(app, report)
    for gallery_id in changed:
        refresh_gallery_indexes(app, gallery_id, purge=True)
    with app.unit_of_work() as uow:
        report.live_alerts_purged = purge_expired_alerts(app, uow)
        uow.commit()
    with app.unit_of_work() as uow:
        app.audit(
            uow,
            action="retention.run",
            object_type="deployment",
            object_id="retention",
            **report.model_dump(),
        )
        uow.commit()
    return report


def _suspend_unauthorised_eu_searches(app: App, report: RetentionReport) -> None:
    now = app.now()
    with app.unit_of_work() as uow:
        if not search_rules(uow, app.settings.threshold).eu_mode:
            return
        rows = uow.session.execute(
            select(Search, Case)
            .join(Case, Search.case_id == Case.id)
            .where(Search.status != "suspended", Case.is_demo.is_(False))
        ).all()
        for search, case in rows:
            if not eu_search_overdue(search.started_at, case.judicial_reference, now):
                continue
            counts = purge_search_results(uow, search, now)
            search.status = "suspended"
            app.audit(
                uow,
                action="search.suspended",
                object_type="search",
                object_id=search.id,
                case_reference=case.reference,
                reason="EU mode: no judicial or administrative authorisation within 48 hours",
                **counts,
            )
            report.searches_suspended += 1
            report.probe_templates_deleted += counts["probe_templates_deleted"]
            report.candidates_deleted += counts["candidates_deleted"]
        uow.commit()


def _purge_closed_cases(app: App, report: RetentionReport) -> None:
    """Case closure already purges; this catches anything written since (idempotent)."""
    now = app.now()
    with app.unit_of_work() as uow:
        rows = uow.session.execute(
            select(Search, Case)
            .join(Case, Search.case_id == Case.id)
            .where(Case.status == "closed", Search.probes_purged_at.is_(None))
        ).all()
        for search, case in rows:
            deleted = purge_search_probes(uow, [search], now)
            app.audit(
                uow,
                action="probe.deleted",
                object_type="search",
                object_id=search.id,
                case_reference=case.reference,
                reason="case closed",
                templates_deleted=deleted,
            )
            report.probe_templates_deleted += deleted
        uow.commit()


def _expire_listings(app: App, report: RetentionReport) -> set[int]:
    """Entries past their review date leave search (a reversible removal)."""
    today = app.now().date()
    changed: set[int] = set()
    with app.unit_of_work() as uow:
        rows = uow.session.execute(
            select(Subject, Gallery)
            .join(Gallery, Subject.gallery_id == Gallery.id)
            .where(Subject.removed_at.is_(None), Subject.review_due_on.is_not(None))
        ).all()
        for subject, gallery in rows:
            if not listing_expired(subject.review_due_on, today):
                continue
            subject.removed_at = app.now()
            version = bump_version(uow, gallery, app.actor, "subject-removed", subject.id)
            app.audit(
                uow,
                action="subject.removed",
                object_type="subject",
                object_id=subject.id,
                gallery=gallery.name,
                gallery_version=version,
                reason=f"review date {subject.review_due_on} passed",
            )
            report.listings_expired += 1
            changed.add(gallery.id)
        uow.commit()
    return changed


def _finalise_removals(app: App, report: RetentionReport) -> set[int]:
    """Removed entries whose grace period is over lose their images and templates for good."""
    now = app.now()
    changed: set[int] = set()
    with app.unit_of_work() as uow:
        rows = uow.session.execute(
            select(Subject, Gallery)
            .join(Gallery, Subject.gallery_id == Gallery.id)
            .where(
                Subject.removed_at.is_not(None),
                Subject.id.in_(select(ReferenceImage.subject_id)),
            )
        ).all()
        for subject, gallery in rows:
            assert subject.removed_at is not None
            if not removal_final(subject.removed_at, now, app.settings.removal_grace_days):
                continue
            counts = purge_subject_data(uow, subject, app)
            version = bump_version(uow, gallery, app.actor, "subject-purged", subject.id)
            app.audit(
                uow,
                action="subject.purged",
                object_type="subject",
                object_id=subject.id,
                gallery=gallery.name,
                gallery_version=version,
                reason=f"removed more than {app.settings.removal_grace_days} days ago",
                **counts,
            )
            report.subjects_purged += 1
            changed.add(gallery.id)
        uow.commit()
    return changed
