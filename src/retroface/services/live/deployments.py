"""Live deployments as governed records: authorise, list alerts, adjudicate, publish, expire.

A supervisor (the authorising officer) creates a deployment for one place,
purpose, window, watchlist version and threshold, with the public notice
text. Officers adjudicate each alert (engaged or not; true, false or
unconfirmed). The publication record gives what the Met publishes per
deployment. Alerts are kept for the deployment's retention period, then
their face crop and box are deleted; counts stay for the statistics.
"""

from __future__ import annotations

import base64
from datetime import datetime, timedelta

from pydantic import BaseModel
from sqlalchemy import func, select

from retroface.errors import AlreadyExistsError, InvalidInputError, NotFoundError
from retroface.governance.calibration_policy import check_floor_calibrated
from retroface.governance.deployment_policy import check_threshold
from retroface.governance.live_policy import check_window, checked_deployment_text, checked_outcome
from retroface.governance.roles import Action
from retroface.services.app import App
from retroface.services.biometrics.face_views import subject_reference_png
from retroface.services.deployment.calibrations import calibrated_points
from retroface.services.deployment.rules import search_rules
from retroface.services.galleries.manage import gallery_cap
from retroface.store.data_protection import DataCipher, alert_crop_associated
from retroface.store.models import Gallery, LiveAlert, LiveDeployment, Subject
from retroface.store.unit_of_work import UnitOfWork

MAX_ID = 64


class LiveDeploymentOut(BaseModel):
    id: str
    purpose: str
    location: str
    authorised_by: str
    starts_at: datetime
    ends_at: datetime
    watchlist: str
    watchlist_version: int
    threshold: float
    model: str
    public_notice: str
    alert_retention_days: int


class LiveAlertOut(BaseModel):
    id: int
    deployment: str
    subject_id: int
    subject: str
    score: float
    frame_time_s: float
    frame_at: datetime
    raised_at: datetime
    latency_ms: float
    frames: int
    box: list[int] | None
    engaged: bool | None
    outcome: str | None
    note: str | None
    adjudicated_by: str | None
    crop_jpeg_base64: str | None = None  # only when asked for, and until retention ends
    purged: bool


class LivePublication(BaseModel):
    """Per-deployment figures for publication (counts only; no person is named)."""

    deployment: str
    location: str
    purpose: str
    authorised_by: str
    window: str
    watchlist_subjects: int
    threshold: float
    runs: int
    hours_live: float
    frames_processed: int
    frames_dropped: int
    faces_seen: int
    alerts: int
    engaged: int
    true_alerts: int
    false_alerts: int
    unconfirmed: int
    not_adjudicated: int
    false_alert_rate: float | None  # false alerts per face seen


def create_live_deployment(
    app: App,
    deployment_id: str,
    *,
    purpose: str,
    location: str,
    starts_at: datetime,
    ends_at: datetime,
    watchlist: str,
    public_notice: str,
    threshold: float | None = None,
    alert_retention_days: int | None = None,
) -> LiveDeploymentOut:
    """The supervisor creating it is its authorising officer."""
    app.require(Action.LIVE_DEPLOY)
    deployment_id = deployment_id.strip()
    if not deployment_id or len(deployment_id) > MAX_ID or not deployment_id.isprintable():
        raise InvalidInputError(f"a deployment id is 1..{MAX_ID} printable characters")
    purpose, location, public_notice = checked_deployment_text(purpose, location, public_notice)
    check_window(starts_at, ends_at)
    retention = app.settings.live_alert_retention_days
    retention = retention if alert_retention_days is None else alert_retention_days
    if not 1 <= retention <= 366:
        raise InvalidInputError("alert retention is 1..366 days")
    model = app.engine.model.tag
    with app.unit_of_work() as uow:
        if uow.session.get(LiveDeployment, deployment_id) is not None:
            raise AlreadyExistsError(f"a live deployment {deployment_id!r} already exists")
        gallery = uow.galleries.require(watchlist)
        subjects, _, templates = uow.galleries.counts(gallery.id)
        _check_watchlist(app, gallery, subjects, templates)
        rules = search_rules(uow, app.settings.threshold)
        rules.check_ready(app.now().date())
        chosen = check_threshold(
            max(app.settings.threshold, rules.threshold_floor) if threshold is None else threshold,
            rules.threshold_floor,
        )
        check_floor_calibrated(chosen, model, calibrated_points(uow))
        row = LiveDeployment(
            id=deployment_id,
            purpose=purpose,
            location=location,
            authorised_by=app.actor,
            starts_at=starts_at,
            ends_at=ends_at,
            gallery_id=gallery.id,
            gallery_version=gallery.version,
            threshold=chosen,
            model=model,
            public_notice=public_notice,
            alert_retention_days=retention,
        )
        uow.session.add(row)
        app.audit(
            uow,
            action="live.deployment_authorised",
            object_type="live_deployment",
            object_id=deployment_id,
            location=location,
            starts_at=starts_at.isoformat(),
            ends_at=ends_at.isoformat(),
            watchlist=gallery.name,
            watchlist_version=gallery.version,
            watchlist_subjects=subjects,
            threshold=chosen,
            model=model,
        )
        uow.commit()
        return _deployment_out(row, gallery)


def _check_watchlist(app: App, gallery: Gallery, subjects: int, templates: int) -> None:
    if not gallery.live_watchlist:
        raise InvalidInputError(
            f"gallery {gallery.name!r} is not a live watchlist; a supervisor marks one with "
            f"'retroface gallery live-watchlist {gallery.name} on'"
        )
    if templates == 0:
        raise InvalidInputError(f"watchlist {gallery.name!r} has no enrolled faces")
    cap = gallery_cap(app, gallery)
    if subjects > cap:
        raise InvalidInputError(
            f"watchlist {gallery.name!r} holds {subjects} subjects, over its live cap of {cap}"
        )


def get_live_deployment(uow: UnitOfWork, deployment_id: str) -> LiveDeployment:
    row = uow.session.get(LiveDeployment, deployment_id)
    if row is None:
        raise NotFoundError(f"no live deployment {deployment_id!r}")
    return row


def list_live_deployments(app: App) -> list[LiveDeploymentOut]:
    app.require(Action.LIVE_READ)
    with app.unit_of_work() as uow:
        rows = uow.session.scalars(select(LiveDeployment).order_by(LiveDeployment.starts_at))
        return [_deployment_out(r, uow.session.get_one(Gallery, r.gallery_id)) for r in rows]


def show_live_deployment(app: App, deployment_id: str) -> LiveDeploymentOut:
    app.require(Action.LIVE_READ)
    with app.unit_of_work() as uow:
        row = get_live_deployment(uow, deployment_id)
        return _deployment_out(row, uow.session.get_one(Gallery, row.gallery_id))


def list_live_alerts(
    app: App, deployment_id: str, *, pending_only: bool = False, with_crops: bool = False
) -> list[LiveAlertOut]:
    """Alerts newest first; crops only when asked (the review queue shows them)."""
    app.require(Action.LIVE_READ)
    with app.unit_of_work() as uow:
        get_live_deployment(uow, deployment_id)
        query = (
            select(LiveAlert, Subject.name)
            .join(Subject, Subject.id == LiveAlert.subject_id)
            .where(LiveAlert.deployment_id == deployment_id)
            .order_by(LiveAlert.raised_at.desc(), LiveAlert.id.desc())
        )
        if pending_only:
            query = query.where(LiveAlert.outcome.is_(None), LiveAlert.purged_at.is_(None))
        rows = uow.session.execute(query).all()
        if with_crops:
            app.audit(
                uow,
                action="live.alerts_viewed",
                object_type="live_deployment",
                object_id=deployment_id,
                alerts=len(rows),
            )
            uow.commit()
        cipher = uow.cipher if with_crops else None
        return [alert_out(alert, name, cipher=cipher) for alert, name in rows]


class LiveQueueItem(BaseModel):
    alert: LiveAlertOut
    reference_png_base64: str | None


def live_review_queue(app: App, deployment_id: str) -> list[LiveQueueItem]:
    """Alerts awaiting adjudication first, then decided ones, each with its face crop and the
    watchlist reference face to compare it with; the view is audited."""
    alerts = list_live_alerts(app, deployment_id, with_crops=True)
    references: dict[int, str | None] = {}
    with app.unit_of_work() as uow:
        for subject_id in {a.subject_id for a in alerts}:
            png = subject_reference_png(uow, subject_id)
            references[subject_id] = base64.b64encode(png).decode() if png else None
    ordered = sorted(alerts, key=lambda a: a.outcome is not None)
    return [LiveQueueItem(alert=a, reference_png_base64=references[a.subject_id]) for a in ordered]


def adjudicate_alert(
    app: App, alert_id: int, *, engaged: bool, outcome: str, note: str = ""
) -> LiveAlertOut:
    """An officer's decision on one alert; decided once (a correction is a new audit event
    only through a supervisor's note, never a silent overwrite)."""
    app.require(Action.LIVE_ADJUDICATE)
    outcome = checked_outcome(outcome)
    if len(note) > 2000:
        raise InvalidInputError("the note is at most 2000 characters")
    with app.unit_of_work() as uow:
        alert = uow.session.get(LiveAlert, alert_id)
        if alert is None:
            raise NotFoundError(f"no live alert {alert_id}")
        if alert.outcome is not None:
            raise AlreadyExistsError(
                f"alert {alert_id} was already adjudicated by {alert.adjudicated_by}"
            )
        if alert.purged_at is not None:
            raise InvalidInputError(f"alert {alert_id} is past its retention and was deleted")
        alert.engaged, alert.outcome, alert.note = engaged, outcome, note.strip() or None
        alert.adjudicated_by, alert.adjudicated_at = app.actor, app.now()
        app.audit(
            uow,
            action="live.alert_adjudicated",
            object_type="live_alert",
            object_id=alert_id,
            deployment=alert.deployment_id,
            engaged=engaged,
            outcome=outcome,
        )
        uow.commit()
        name = uow.session.get_one(Subject, alert.subject_id).name
        return alert_out(alert, name)


def live_publication(app: App, deployment_id: str) -> LivePublication:
    app.require(Action.LIVE_REPORT)
    with app.unit_of_work() as uow:
        row = get_live_deployment(uow, deployment_id)

        def count(*conditions: object) -> int:
            query = select(func.count(LiveAlert.id)).where(
                LiveAlert.deployment_id == deployment_id, *conditions
            )
            return int(uow.session.scalar(query) or 0)

        alerts = count()
        false_alerts = count(LiveAlert.outcome == "false-alert")
        subjects, _, _ = uow.galleries.counts(row.gallery_id)
        app.audit(
            uow,
            action="live.publication_read",
            object_type="live_deployment",
            object_id=deployment_id,
        )
        uow.commit()
        return LivePublication(
            deployment=row.id,
            location=row.location,
            purpose=row.purpose,
            authorised_by=row.authorised_by,
            window=f"{row.starts_at.isoformat()} to {row.ends_at.isoformat()}",
            watchlist_subjects=subjects,
            threshold=row.threshold,
            runs=row.runs,
            hours_live=round(row.seconds_live / 3600, 3),
            frames_processed=row.frames_processed,
            frames_dropped=row.frames_dropped,
            faces_seen=row.faces_seen,
            alerts=alerts,
            engaged=count(LiveAlert.engaged.is_(True)),
            true_alerts=count(LiveAlert.outcome == "true-alert"),
            false_alerts=false_alerts,
            unconfirmed=count(LiveAlert.outcome == "unconfirmed"),
            not_adjudicated=count(LiveAlert.outcome.is_(None)),
            false_alert_rate=false_alerts / row.faces_seen if row.faces_seen else None,
        )


def alert_purge_after(raised_at: datetime, retention_days: int) -> datetime:
    return raised_at + timedelta(days=retention_days)


def alert_out(alert: LiveAlert, subject: str, *, cipher: DataCipher | None = None) -> LiveAlertOut:
    """The alert; with a cipher, its face crop too (opened from its sealed form)."""
    crop = None
    if cipher is not None and alert.crop_jpeg:
        crop = cipher.decrypt(alert.crop_jpeg, alert_crop_associated(alert.id))
    return LiveAlertOut(
        id=alert.id,
        deployment=alert.deployment_id,
        subject_id=alert.subject_id,
        subject=subject,
        score=alert.score,
        frame_time_s=alert.frame_time_s,
        frame_at=alert.frame_at,
        raised_at=alert.raised_at,
        latency_ms=alert.latency_ms,
        frames=alert.frames,
        box=list(alert.box) if alert.box else None,
        engaged=alert.engaged,
        outcome=alert.outcome,
        note=alert.note,
        adjudicated_by=alert.adjudicated_by,
        crop_jpeg_base64=base64.b64encode(crop).decode() if crop else None,
        purged=alert.purged_at is not None,
    )


def _deployment_out(row: LiveDeployment, gallery: Gallery) -> LiveDeploymentOut:
    return LiveDeploymentOut(
        id=row.id,
        purpose=row.purpose,
        location=row.location,
        authorised_by=row.authorised_by,
        starts_at=row.starts_at,
        ends_at=row.ends_at,
        watchlist=gallery.name,
        watchlist_version=row.gallery_version,
        threshold=row.threshold,
        model=row.model,
        public_notice=row.public_notice,
        alert_retention_days=row.alert_retention_days,
    )
