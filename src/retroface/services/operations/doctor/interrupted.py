"""Doctor: work left running by a stopped process — video jobs and searches marked running for ever."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, select, update

from retroface.services.app import App
from retroface.services.operations.doctor.findings import (
    INTERRUPTED,
    Finding,
    Repair,
    make_finding,
    record_repair,
)
from retroface.store.models import (
    AuditEvent,
    MediaItem,
    Search,
    VideoJob,
    VideoSegment,
)


def _latest(*values: datetime | None) -> datetime:
    return max(v for v in values if v is not None)


def interrupted_video_jobs(app: App, stale_after: timedelta) -> tuple[Finding, Repair | None]:
    """A job's last sign of life: its start, a finished segment, or a (re)start audited."""
    cutoff = app.now() - stale_after
    with app.unit_of_work() as uow:
        rows = uow.session.execute(
            select(
                VideoJob.id,
                VideoJob.started_at,
                select(func.max(VideoSegment.created_at))
                .where(VideoSegment.job_id == VideoJob.id)
                .scalar_subquery(),
                select(func.max(AuditEvent.occurred_at))
                .where(
                    AuditEvent.object_type == "video_job",
                    AuditEvent.object_id == VideoJob.id,
                )
                .scalar_subquery(),
            ).where(VideoJob.status == "running")
        ).all()
    stale = sorted(str(job_id) for job_id, *times in rows if _latest(*times) <= cutoff)

    finding = make_finding(
        "interrupted-video-jobs",
        stale,
        ok="no video job is marked running without progress"
        + (f" ({len(rows)} running and active)" if rows else ""),
        found="{n} video job(s) marked running made no progress for " + _minutes(stale_after),
        repair=f"mark them '{INTERRUPTED}'; running the same 'video ingest' again resumes "
        "each from its last finished segment",
    )
    fix = _mark_interrupted(app, VideoJob, "interrupted-video-jobs", stale, "job_ids")
    return finding, fix if stale else None


def interrupted_searches(app: App, stale_after: timedelta) -> tuple[Finding, Repair | None]:
    cutoff = app.now() - stale_after
    with app.unit_of_work() as uow:
        rows = uow.session.execute(
            select(
                Search.id,
                Search.started_at,
                select(func.max(MediaItem.created_at))
                .where(MediaItem.search_id == Search.id)
                .scalar_subquery(),
            ).where(Search.status == "running")
        ).all()
    stale = sorted(str(search_id) for search_id, *times in rows if _latest(*times) <= cutoff)

    finding = make_finding(
        "interrupted-searches",
        stale,
        ok="no search is marked running without progress",
        found="{n} search(es) marked running made no progress for " + _minutes(stale_after),
        repair=f"mark them '{INTERRUPTED}' (the files they finished keep their candidates; "
        "search the rest again)",
    )
    fix = _mark_interrupted(app, Search, "interrupted-searches", stale, "search_ids")
    return finding, fix if stale else None


def _mark_interrupted(
    app: App, model: type[VideoJob] | type[Search], name: str, stale: list[str], ids_key: str
) -> Repair:
    """The repair of work left running: mark exactly those rows, if still running, interrupted
    (the resume logic picks them up), audited with their ids."""

    def fix() -> int:
        with app.unit_of_work() as uow:
            uow.session.execute(
                update(model)
                .where(model.id.in_(stale), model.status == "running")
                .values(status=INTERRUPTED)
            )
            record_repair(uow, app, name, len(stale), **{ids_key: stale})
            uow.commit()
        return len(stale)

    return fix


def _minutes(span: timedelta) -> str:
    return f"{span.total_seconds() / 60:g} minute(s)"
