"""Live mode: the Hamilton clip played as a camera against a one-person watchlist."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from retroface.errors import AlreadyExistsError, AuthorisationError, InvalidInputError
from retroface.services import App
from retroface.services.galleries.enrol import enroll
from retroface.services.galleries.manage import set_live_watchlist
from retroface.services.live.alert_sinks import JsonLinesSink
from retroface.services.live.deployments import (
    adjudicate_alert,
    create_live_deployment,
    list_live_alerts,
    live_publication,
)
from retroface.services.live.run import LiveOptions, run_live
from retroface.services.oversight.retention import run_retention
from retroface.store.models import AuditEvent, Face, LiveAlert, MediaItem, Sighting, Template
from tests.conftest import ADMIN, AUDITOR, SUPERVISOR
from tests.helpers import gallery_with, live_deployment, provenance

pytestmark = pytest.mark.needs_data

CLIP_FRAMES = 275  # short_hamilton_clip.mp4: 9.2 s at 29.97 fps


@pytest.fixture
def clip(data: Path) -> Path:
    return data / "video" / "short_hamilton_clip.mp4"


@pytest.fixture
def deployment(app: App, data: Path) -> str:
    """Miranda alone on a live watchlist; a deployment authorised for the next hour."""
    examples = data / "face_recognition" / "examples"
    gallery_with(app, "live-wl", {"lin-manuel-miranda": [examples / "lin-manuel-miranda.png"]})
    supervisor = app.acting_as(SUPERVISOR)
    set_live_watchlist(supervisor, "live-wl", True)
    live_deployment(supervisor, "LFR-1", "live-wl")
    return "LFR-1"


def _counts(app: App) -> dict[str, int]:
    with app.unit_of_work() as uow:
        return {
            m.__name__: int(uow.session.scalar(select(func.count()).select_from(m)) or 0)
            for m in (Face, Template, MediaItem, Sighting, LiveAlert)
        }


def _files(home: Path) -> set[str]:
    return {str(p.relative_to(home)) for p in home.rglob("*") if p.is_file()}


def test_the_clip_played_live_raises_alerts_for_miranda_and_keeps_nobody_else(
    app: App, deployment: str, clip: Path, tmp_path: Path
) -> None:
    before, files_before = _counts(app), _files(app.settings.home)
    jsonl = tmp_path / "alerts.jsonl"
    summary = run_live(app, deployment, str(clip), sinks=[JsonLinesSink(jsonl)])
    print(
        f"live: {summary.frames_processed} processed, {summary.frames_dropped} dropped, "
        f"{summary.processed_fps} frames/s, faces {summary.faces_seen}, alerts {summary.alerts}, "
        f"latency p50 {summary.alert_latency_ms_p50} ms, max {summary.alert_latency_ms_max} ms"
    )
    assert summary.stopped_because == "the source ended" and summary.source_error is None
    # Played at its real rate: the run lasts about as long as the clip.
    assert 8.5 <= summary.seconds <= 15
    assert summary.frames_decoded == CLIP_FRAMES
    assert summary.frames_processed + summary.frames_dropped == CLIP_FRAMES
    assert summary.alerts >= 1 and summary.faces_seen > summary.alerts
    assert summary.alert_latency_ms_max is not None and summary.alert_latency_ms_max < 2000

    alerts = list_live_alerts(app, deployment, with_crops=True)
    assert {a.subject for a in alerts} == {"lin-manuel-miranda"}
    # Checked by eye (see test_footage): Miranda is on screen at 0-1 s and 2.8-7.1 s.
    assert all(t < 1.0 or 2.6 <= t <= 7.3 for t in (a.frame_time_s for a in alerts))
    assert all(a.crop_jpeg_base64 and a.score >= 0.93 for a in alerts)
    lines = [json.loads(line) for line in jsonl.read_text().splitlines()]
    assert [line["id"] for line in lines] == [a.id for a in reversed(alerts)]
    assert all("crop_jpeg_base64" not in line and "box" not in line for line in lines)

    # Nothing of anyone else: no face, template, media item or sighting was written, and
    # no file appeared in the data directory besides the database's own.
    after = _counts(app)
    assert after == before | {"LiveAlert": before["LiveAlert"] + summary.alerts}
    new_files = _files(app.settings.home) - files_before
    assert all(name.startswith("retroface.sqlite3") for name in new_files), new_files

    # Adjudication and the publication record.
    first = alerts[-1]
    decided = adjudicate_alert(app, first.id, engaged=True, outcome="true-alert", note="spoken to")
    assert decided.adjudicated_by == app.actor
    with pytest.raises(AlreadyExistsError, match="already adjudicated"):
        adjudicate_alert(app, first.id, engaged=False, outcome="false-alert")
    with pytest.raises(InvalidInputError, match="outcome is one of"):
        adjudicate_alert(app, alerts[0].id, engaged=False, outcome="maybe")
    with pytest.raises(AuthorisationError, match="may not live adjudicate"):
        adjudicate_alert(app.acting_as(AUDITOR), alerts[0].id, engaged=False, outcome="unconfirmed")
    record = live_publication(app.acting_as(AUDITOR), deployment)
    assert record.alerts == summary.alerts and record.true_alerts == 1
    assert record.faces_seen == summary.faces_seen and record.runs == 1
    assert record.not_adjudicated == summary.alerts - 1 and record.false_alert_rate == 0.0

    # Alerts outlive the run only for the retention period (31 days by default).
    later = replace(app, clock=lambda: app.now() + timedelta(days=32))
    report = run_retention(later.acting_as(ADMIN))
    assert report.live_alerts_purged == summary.alerts
    assert all(
        a.crop_jpeg_base64 is None and a.purged
        for a in list_live_alerts(app, deployment, with_crops=True)
    )


def test_a_slow_machine_drops_frames_and_counts_them(app: App, deployment: str, clip: Path) -> None:
    summary = run_live(app, deployment, str(clip), options=LiveOptions(extra_delay_s=0.25))
    print(f"slowed: {summary.frames_processed} processed, {summary.frames_dropped} dropped")
    assert summary.frames_dropped > CLIP_FRAMES // 2
    assert summary.frames_processed + summary.frames_dropped == CLIP_FRAMES
    assert summary.seconds <= 15  # it kept up with the stream instead of lagging behind it
    with app.unit_of_work() as uow:
        stopped = uow.session.scalars(
            select(AuditEvent).where(AuditEvent.action == "live.stopped")
        ).one()
        assert stopped.details["frames_dropped"] == summary.frames_dropped


def test_running_outside_the_window_or_with_a_changed_watchlist_is_refused(
    app: App, deployment: str, clip: Path, data: Path
) -> None:
    for moved in (timedelta(hours=-1), timedelta(hours=2)):
        moved_app = replace(app, clock=lambda m=moved: app.now() + m)
        with pytest.raises(AuthorisationError, match=r"may not run before|ended at"):
            run_live(moved_app, deployment, str(clip))
    examples = data / "face_recognition" / "examples"
    enroll(
        app.acting_as(SUPERVISOR),
        "live-wl",
        [examples / "alex-lacamoire.png"],
        subject="alex-lacamoire",
        provenance=provenance("REC-alex"),
    )
    with pytest.raises(AuthorisationError, match="changed since it was authorised"):
        run_live(app, deployment, str(clip))
    with app.unit_of_work() as uow:
        refusals = uow.session.scalars(
            select(AuditEvent).where(AuditEvent.action == "live.refused")
        ).all()
    assert len(refusals) == 3 and _counts(app)["LiveAlert"] == 0


def test_a_deployment_needs_a_live_watchlist_a_window_a_notice_and_the_floor(
    app: App, data: Path
) -> None:
    examples = data / "face_recognition" / "examples"
    gallery_with(app, "plain", {"obama": [examples / "obama.jpg"]})
    supervisor, now = app.acting_as(SUPERVISOR), app.now()
    fields = {
        "purpose": "p",
        "location": "l",
        "starts_at": now,
        "ends_at": now + timedelta(hours=2),
        "watchlist": "plain",
        "public_notice": "notice",
    }
    with pytest.raises(InvalidInputError, match="not a live watchlist"):
        create_live_deployment(supervisor, "D-1", **fields)  # type: ignore[arg-type]
    set_live_watchlist(supervisor, "plain", True)
    with pytest.raises(InvalidInputError, match="end after it starts"):
        create_live_deployment(supervisor, "D-1", **fields | {"ends_at": now})  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="public notice"):
        create_live_deployment(supervisor, "D-1", **fields | {"public_notice": " "})  # type: ignore[arg-type]
    with pytest.raises(AuthorisationError, match="below the deployment's floor"):
        create_live_deployment(supervisor, "D-1", **fields, threshold=0.8)  # type: ignore[arg-type]
    with pytest.raises(AuthorisationError, match="may not live deploy"):
        create_live_deployment(app, "D-1", **fields)  # type: ignore[arg-type]
    created = create_live_deployment(supervisor, "D-1", **fields)  # type: ignore[arg-type]
    assert created.authorised_by == SUPERVISOR.username and created.alert_retention_days == 31
