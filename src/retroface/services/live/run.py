"""Run a live deployment: every face in the stream against the watchlist, alerts out, the rest gone.

The loop takes the newest frame (older ones are dropped and counted when
it falls behind), finds and embeds its faces, and compares each with the
watchlist. A face that matches nobody is forgotten there and then: its
template and pixels are never written anywhere and go out of scope before
the next frame; only the count of faces seen is kept. A match becomes an
alert: written (face crop, score, times) in its own transaction with its
audit event, then handed to the sinks (terminal, JSON lines, webhook, the
web UI's queue reads the database). Further frames of the same person
within the cooldown join that alert instead of raising new ones.
"""

from __future__ import annotations

import io
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Protocol

import numpy as np
from PIL import Image
from pydantic import BaseModel
from sqlalchemy import select

from retroface.errors import AuthorisationError, InvalidInputError, MediaError, NotFoundError
from retroface.faces import AnalysedFace, ModelInfo
from retroface.governance.calibration_policy import check_operating_point_calibrated
from retroface.governance.deployment_policy import check_threshold
from retroface.governance.live_policy import check_running_allowed, check_watchlist_unchanged
from retroface.governance.roles import Action
from retroface.index import AnyIndex
from retroface.media.live_source import LiveFrame, LiveSource, source_spec
from retroface.services.app import App
from retroface.services.biometrics.gallery_index import load_gallery_index
from retroface.services.deployment.calibrations import calibrated_points
from retroface.services.deployment.rules import search_rules
from retroface.services.live.deployments import (
    LiveAlertOut,
    alert_out,
    alert_purge_after,
    get_live_deployment,
)
from retroface.services.search.ranking import rank_subjects
from retroface.services.video.ingest import video_spec
from retroface.store.data_protection import alert_crop_associated
from retroface.store.models import Gallery, LiveAlert, LiveDeployment, Subject, Template

CROP_MARGIN = 0.25


class AlertSink(Protocol):
    """Somewhere an alert goes the moment it is raised."""

    def send(self, alert: LiveAlertOut) -> None: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class LiveOptions:
    #: Stop after this many seconds (None: until the source ends or the window closes).
    max_seconds: float | None = None
    #: Extra seconds spent on every frame: a test hook that stands in for a slower machine.
    extra_delay_s: float = 0.0
    #: How often the status callback hears frames/s, latency and drops.
    status_every_s: float = 5.0


class LiveStatus(BaseModel):
    seconds: float
    frames_decoded: int
    frames_processed: int
    frames_dropped: int
    faces_seen: int
    alerts: int
    processed_fps: float
    last_alert_latency_ms: float | None


class LiveRunSummary(LiveStatus):
    deployment: str
    source_kind: str
    stopped_because: str
    alert_latency_ms_p50: float | None
    alert_latency_ms_max: float | None
    source_error: str | None
    sink_failures: int


@dataclass
class _Watchlist:
    index: AnyIndex
    subject_of: dict[int, int]
    names: dict[int, str]
    threshold: float


@dataclass
class _OpenAlert:
    alert_id: int
    last_seen: float
    frames: int
    score: float


def run_live(
    app: App,
    deployment_id: str,
    source: str,
    *,
    sinks: Sequence[AlertSink] = (),
    options: LiveOptions | None = None,
    on_status: Callable[[LiveStatus], None] | None = None,
    stop: threading.Event | None = None,
) -> LiveRunSummary:
    app.require(Action.LIVE_RUN)
    options = options or LiveOptions()
    stop = stop or threading.Event()
    spec = source_spec(source)
    # The footage detector, one embedding a face: its model is the deployment's to check.
    engine = app.engine_for(video_spec(app))
    deployment, watchlist = _checked_start(app, deployment_id, spec.kind, engine.model)
    with LiveSource(spec) as live:
        run = _Run(app, deployment, watchlist, sinks, live)
        run.audit("live.started", source_kind=spec.kind, threshold=watchlist.threshold)
        reason = "the source ended"
        try:
            for frame in live.frames():
                if stop.is_set():
                    reason = "stopped"
                    break
                if options.max_seconds is not None and run.elapsed() >= options.max_seconds:
                    reason = "time limit reached"
                    break
                if app.now() >= deployment.ends_at:
                    reason = "the authorised window ended"
                    break
                run.process(frame, engine.analyse(frame.pixels))
                if options.extra_delay_s:
                    time.sleep(options.extra_delay_s)
                if on_status and run.status_due(options.status_every_s):
                    on_status(run.status())
        except KeyboardInterrupt:
            reason = "interrupted"
        finally:
            live.stop()
            summary = run.finish(reason, spec.kind)
    return summary


def _checked_start(
    app: App, deployment_id: str, source_kind: str, model: ModelInfo
) -> tuple[LiveDeployment, _Watchlist]:
    """Every rule before the first frame; a refusal is audited and re-raised."""
    try:
        with app.unit_of_work() as uow:
            deployment = get_live_deployment(uow, deployment_id)
            check_running_allowed(
                deployment_id, deployment.starts_at, deployment.ends_at, app.now()
            )
            gallery = uow.session.get_one(Gallery, deployment.gallery_id)
            check_watchlist_unchanged(deployment_id, deployment.gallery_version, gallery.version)
            if model.tag != deployment.model:
                raise AuthorisationError(
                    f"live deployment {deployment_id} was authorised for model "
                    f"{deployment.model}; this system runs {model.tag}"
                )
            rules = search_rules(uow, app.settings.threshold)
            rules.check_ready(app.now().date())
            threshold = check_threshold(deployment.threshold, rules.threshold_floor)
            check_operating_point_calibrated(model.tag, threshold, calibrated_points(uow))
            index = load_gallery_index(
                uow, app.settings.index_dir, gallery, model, app.settings.index_exact_max
            )
            rows = uow.session.execute(
                select(Template.id, Subject.id, Subject.name)
                .join(Subject, Subject.id == Template.subject_id)
                .where(Subject.gallery_id == gallery.id, Subject.removed_at.is_(None))
            ).all()
            uow.session.expunge(deployment)
            watchlist = _Watchlist(
                index=index,
                subject_of={t: s for t, s, _ in rows},
                names={s: n for _, s, n in rows},
                threshold=threshold,
            )
            return deployment, watchlist
    except (AuthorisationError, NotFoundError, InvalidInputError, MediaError) as exc:
        with app.unit_of_work() as uow:
            app.audit(
                uow,
                action="live.refused",
                object_type="live_deployment",
                object_id=deployment_id,
                source_kind=source_kind,
                reason=str(exc),
            )
            uow.commit()
        raise


class _Run:
    """Counters, open alerts and writes of one run of a deployment."""

    def __init__(
        self,
        app: App,
        deployment: LiveDeployment,
        watchlist: _Watchlist,
        sinks: Sequence[AlertSink],
        live: LiveSource,
    ) -> None:
        self.app, self.deployment, self.watchlist, self.sinks, self.live = (
            app, deployment, watchlist, sinks, live,
        )  # fmt: skip
        self.started_mono = time.monotonic()
        self.started_at = app.now()
        self.processed = 0
        self.faces_seen = 0
        self.latencies: list[float] = []
        self.open_alerts: dict[int, _OpenAlert] = {}
        self.alerts = 0
        self.sink_failures = 0
        self._last_status = self.started_mono

    def elapsed(self) -> float:
        return time.monotonic() - self.started_mono

    def process(self, frame: LiveFrame, faces: list[AnalysedFace]) -> None:
        self.processed += 1
        self.faces_seen += len(faces)
        for face in faces:
            hits = rank_subjects(
                self.watchlist.index,
                face.embedding,
                lambda ids: {
                    i: self.watchlist.subject_of[i] for i in ids if i in self.watchlist.subject_of
                },
                max_candidates=1,
                threshold=self.watchlist.threshold,
            )
            if hits:
                self._alert(frame, face, hits[0].subject_id, hits[0].score)
        # Nothing of a face that matched nobody outlives this call.
        faces.clear()

    def _alert(self, frame: LiveFrame, face: AnalysedFace, subject_id: int, score: float) -> None:
        now_mono = time.monotonic()
        current = self.open_alerts.get(subject_id)
        cooldown = self.app.settings.live_alert_cooldown_s
        if current is not None and now_mono - current.last_seen < cooldown:
            current.last_seen, current.frames = now_mono, current.frames + 1
            current.score = max(current.score, score)
            return
        frame_at = self.started_at + timedelta(seconds=frame.captured - self.started_mono)
        with self.app.unit_of_work() as uow:
            alert = LiveAlert(
                deployment_id=self.deployment.id,
                subject_id=subject_id,
                score=score,
                frame_time_s=frame.stream_s,
                frame_at=frame_at,
                raised_at=self.app.now(),
                latency_ms=0.0,
                box=face.detection.box.as_list(),
                purge_after=alert_purge_after(self.app.now(), self.deployment.alert_retention_days),
            )
            uow.session.add(alert)
            uow.session.flush()
            # Sealed under the data key where the directory is encrypted, bound to this alert.
            alert.crop_jpeg = uow.cipher.encrypt(
                _crop_jpeg(frame.pixels, face), alert_crop_associated(alert.id)
            )
            alert.latency_ms = (time.monotonic() - frame.captured) * 1000.0
            self.app.audit(
                uow,
                action="live.alert_raised",
                object_type="live_alert",
                object_id=alert.id,
                deployment=self.deployment.id,
                subject_id=subject_id,
                score=round(score, 4),
                latency_ms=round(alert.latency_ms, 1),
            )
            uow.commit()
            out = alert_out(alert, self.watchlist.names.get(subject_id, "?"))
        self.alerts += 1
        self.latencies.append(out.latency_ms)
        self.open_alerts[subject_id] = _OpenAlert(out.id, now_mono, 1, score)
        for sink in self.sinks:
            try:
                sink.send(out)
            except OSError:  # a full disk or closed pipe must not stop the camera
                self.sink_failures += 1

    def status_due(self, every_s: float) -> bool:
        if time.monotonic() - self._last_status >= every_s:
            self._last_status = time.monotonic()
            return True
        return False

    def status(self) -> LiveStatus:
        seconds = self.elapsed()
        return LiveStatus(
            seconds=round(seconds, 2),
            frames_decoded=self.live.decoded,
            frames_processed=self.processed,
            frames_dropped=self.live.dropped,
            faces_seen=self.faces_seen,
            alerts=self.alerts,
            processed_fps=round(self.processed / seconds, 2) if seconds > 0 else 0.0,
            last_alert_latency_ms=self.latencies[-1] if self.latencies else None,
        )

    def audit(self, action: str, **details: object) -> None:
        with self.app.unit_of_work() as uow:
            self.app.audit(
                uow,
                action=action,
                object_type="live_deployment",
                object_id=self.deployment.id,
                **details,
            )
            uow.commit()

    def finish(self, reason: str, source_kind: str) -> LiveRunSummary:
        """Fold merged frames into their alerts and the run into the deployment's record."""
        status = self.status()
        with self.app.unit_of_work() as uow:
            for open_alert in self.open_alerts.values():
                row = uow.session.get(LiveAlert, open_alert.alert_id)
                if row is not None:
                    row.frames, row.score = open_alert.frames, max(row.score, open_alert.score)
            row = uow.session.get_one(LiveDeployment, self.deployment.id)
            row.runs += 1
            row.seconds_live += status.seconds
            row.frames_processed += status.frames_processed
            row.frames_dropped += status.frames_dropped
            row.faces_seen += status.faces_seen
            self.app.audit(
                uow,
                action="live.stopped",
                object_type="live_deployment",
                object_id=self.deployment.id,
                reason=reason,
                **status.model_dump(exclude={"last_alert_latency_ms"}),
                source_error=self.live.error,
            )
            uow.commit()
        for sink in self.sinks:
            try:
                sink.close()
            except OSError:  # closing is best effort; the alert is stored
                self.sink_failures += 1
        latencies = np.asarray(self.latencies)
        return LiveRunSummary(
            **status.model_dump(),
            deployment=self.deployment.id,
            source_kind=source_kind,
            stopped_because=reason,
            alert_latency_ms_p50=float(np.median(latencies)) if len(latencies) else None,
            alert_latency_ms_max=float(latencies.max()) if len(latencies) else None,
            source_error=self.live.error,
            sink_failures=self.sink_failures,
        )


def _crop_jpeg(pixels: np.ndarray, face: AnalysedFace) -> bytes:
    """The face with a margin, as JPEG: what the officer compares with the watchlist photo."""
    box = face.detection.box
    pad_x, pad_y = int(box.w * CROP_MARGIN), int(box.h * CROP_MARGIN)
    h, w = pixels.shape[:2]
    x0, y0 = max(0, box.x - pad_x), max(0, box.y - pad_y)
    x1, y1 = min(w, box.x + box.w + pad_x), min(h, box.y + box.h + pad_y)
    buffer = io.BytesIO()
    Image.fromarray(pixels[y0:y1, x0:x1]).save(buffer, format="JPEG", quality=85)
    return buffer.getvalue()
