"""Run every doctor check in order and, when asked, repair and check again."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from retroface.governance.roles import Action
from retroface.services.app import App
from retroface.services.operations.doctor.database import (
    audit_chain,
    schema_revision,
    sqlite_foreign_keys,
    sqlite_integrity,
)
from retroface.services.operations.doctor.files import (
    leftover_temp_files,
    missing_uploads,
    unreferenced_uploads,
)
from retroface.services.operations.doctor.findings import (
    DEFAULT_STALE_AFTER,
    DoctorReport,
    Finding,
    Repair,
)
from retroface.services.operations.doctor.indexes import gallery_indexes, orphan_index_files
from retroface.services.operations.doctor.interrupted import (
    interrupted_searches,
    interrupted_video_jobs,
)
from retroface.services.operations.doctor.records import (
    dangling_record_links,
    erased_subject_biometrics,
    orphan_faces,
    segment_sighting_counts,
    sighting_cluster_links,
    template_gallery_mismatch,
)


def run_doctor(
    app: App, *, repair: bool = False, stale_after: timedelta = DEFAULT_STALE_AFTER
) -> DoctorReport:
    """Check everything; with ``repair``, fix what is repairable and check again."""
    app.require(Action.SYSTEM_MAINTAIN)
    if stale_after < timedelta(0):
        raise ValueError("stale_after cannot be negative")
    checked = _check_all(app, stale_after)
    if repair:
        done: dict[str, int] = {}
        for finding, fix in checked:
            if finding.status == "problem" and fix is not None:
                done[finding.name] = fix()
        checked = _check_all(app, stale_after)
        for finding, _ in checked:
            finding.repaired = done.get(finding.name, 0)
    findings = [f for f, _ in checked]
    return DoctorReport(
        home=str(app.settings.home.resolve()),
        database=app.db.engine.dialect.name,
        repair=repair,
        stale_after_minutes=stale_after.total_seconds() / 60,
        findings=findings,
        problems=sum(1 for f in findings if f.status == "problem"),
    )


def _check_all(app: App, stale_after: timedelta) -> list[tuple[Finding, Repair | None]]:
    checks: list[Callable[[App, timedelta], tuple[Finding, Repair | None]]] = [
        sqlite_integrity,
        sqlite_foreign_keys,
        schema_revision,
        audit_chain,
        orphan_faces,
        template_gallery_mismatch,
        erased_subject_biometrics,
        segment_sighting_counts,
        sighting_cluster_links,
        dangling_record_links,
        interrupted_video_jobs,
        interrupted_searches,
        # after the row repairs above, which can change what an index must hold
        gallery_indexes,
        orphan_index_files,
        leftover_temp_files,
        unreferenced_uploads,
        missing_uploads,
    ]
    return [check(app, stale_after) for check in checks]
