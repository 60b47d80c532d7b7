"""Ingest footage into a case: sightings for every file, as a resumable, parallel job.

Why a job, and why per segment: forty hours of CCTV take hours to scan, so
the work is cut into time windows that run in parallel (local processes by
default, a Dask cluster with ``dask_address``) and each finished window
commits with its sightings and audit event. A job is identified by the case
and its parameters, so running the same ingest again (after a kill, a power
cut, or with more files) skips every window already done: nothing is lost
and nothing is stored twice. Searches reuse a case's ingested sightings.

Like a search, an ingest processes evidence, so it needs an operator, a
ready deployment and an open, authorised case; it does not use up the
authorisation's search count (it compares nobody with anybody).

A raw H.264/H.265 stream has no timestamps: its times come from the frame
rate the operator states (``fps``), which the job's parameters, the
``video.ingest_started`` event (``timestamps_from_fps`` per file) and every
frame time derived from it carry. Unstated, the rate follows the case's
latest ingest only for streams that ingest read at it; any other such
stream is refused with a request to state it.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import time
import uuid
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, replace
from pathlib import Path

from sqlalchemy import select

from retroface.errors import InvalidInputError, NotFoundError, RetrofaceError
from retroface.faces import EngineSpec
from retroface.faces.dask_cluster import completed, dask_client
from retroface.faces.engine_description import describe
from retroface.faces.video_analysis import (
    SegmentResult,
    SegmentTask,
    analyse_segment,
    plan_segments,
    run_segment,
)
from retroface.governance import check_case_searchable
from retroface.governance.probe_sources import ProbeProvenance, probe_provenance
from retroface.governance.roles import Action
from retroface.media.media_kind import media_kind
from retroface.media.video_reader import (
    FrameRateNeededError,
    SamplingPolicy,
    VideoInfo,
    is_video_path,
    probe_video,
)
from retroface.services.app import App
from retroface.services.biometrics.face_records import face_row, template_row
from retroface.services.biometrics.uploaded_files import Sources, recorded_source
from retroface.services.deployment.rules import search_rules
from retroface.services.evidence_files import expand_evidence
from retroface.services.progress import Progress, SilentProgress
from retroface.services.results import FileError, VideoFileOut, VideoIngestReport
from retroface.settings import Settings
from retroface.store.models import Face, MediaItem, Sighting, VideoJob, VideoSegment


@dataclass(frozen=True)
class IngestOptions:
    sampling: str | None = None
    segment_s: float | None = None
    dask_address: str | None = None
    #: Frame rate of raw elementary streams (no timestamps of their own); others ignore it.
    fps: float | None = None
    #: Where the footage came from and who supplied it, recorded on each new media item
    #: (governance/probe_sources.py); not part of what identifies a rerun.
    provenance: ProbeProvenance | None = None


def ingest_videos(
    app: App,
    case_reference: str,
    paths: list[Path],
    options: IngestOptions | None = None,
    progress: Progress | None = None,
    *,
    source_type: str | None = None,
    supplied_by: str | None = None,
) -> VideoIngestReport:
    """``source_type``, ``supplied_by``: where the footage came from and who supplied it;
    a sketch, composite or substitute is refused (audited ``video.ingest_refused``)."""
    app.require(Action.VIDEO_INGEST, case_reference=case_reference)
    try:
        provenance = probe_provenance(source_type, supplied_by)
    except InvalidInputError as exc:
        with app.unit_of_work() as uow:
            app.audit(
                uow,
                action="video.ingest_refused",
                object_type="case",
                object_id=case_reference,
                case_reference=case_reference,
                reason=str(exc),
            )
            uow.commit()
        raise
    options = replace(options or IngestOptions(), provenance=provenance or None)
    check_case_open_and_authorised(app, case_reference)
    if not paths:
        raise InvalidInputError("name at least one video file or folder to ingest")
    files, errors = expand_evidence(paths)
    videos = [f for f in files if is_video_path(f)]
    errors += [FileError(source=str(f), error=_not_video(f)) for f in files if not is_video_path(f)]
    return run_ingest(app, case_reference, videos, errors, options, progress)


def _not_video(path: Path) -> str:
    if media_kind(path) == "image":
        return f"{path}: an image, not a video (use 'search' for photos)"
    return f"{path}: not a video (nor an image) retroface can read"


def _rate_needed(path: Path, codec: str) -> str:
    return (
        f"{path}: a raw {codec.upper()} stream carries no timestamps: give its frame rate "
        "with --fps N ('retroface video ingest --fps N' or 'retroface search ... --fps N'), "
        "N being the rate the recorder or its export states (frame i is then at i/N "
        "seconds); a later search of the case reuses that rate"
    )


def check_case_open_and_authorised(app: App, case_reference: str) -> None:
    """The search gates that apply to processing evidence (not the search count)."""
    with app.unit_of_work() as uow:
        search_rules(uow, app.settings.threshold).check_ready(app.now().date())
        check_case_searchable(uow.cases.require(case_reference), app.now())


def video_spec(app: App) -> EngineSpec:
    return footage_spec(app.engine_spec, app.settings)


#: Embedders whose float model computes the same templates more exactly (footage uses it).
FLOAT_TWIN = {"onnx8": "onnx"}


def footage_spec(stills: EngineSpec, settings: Settings) -> EngineSpec:
    """Footage is scanned frame after frame: the video detector and embedder, one embedding
    per face and one alignment (a sighting's template already averages many frames; its
    best views are then embedded with the stills' jitter and mirror, see video_analysis)."""
    return replace(
        stills,
        detector=settings.video_detector,
        embedder=settings.video_embedder or FLOAT_TWIN.get(stills.embedder, stills.embedder),
        min_face_px=settings.video_min_face_px,
        alignments=stills.alignments[:1],
        jitters=1,
        mirror=False,
    )


def run_ingest(
    app: App,
    case_reference: str,
    videos: Sequence[Path],
    errors: list[FileError],
    options: IngestOptions,
    progress: Progress | None = None,
    *,
    sources: Sources | None = None,
) -> VideoIngestReport:
    """Ingest ``videos`` (gates already checked by the caller); returns what this run did.
    ``sources``: where videos read from plaintext copies are kept (sealed uploads)."""
    progress = progress or SilentProgress()
    started = time.perf_counter()
    stated_fps = options.fps
    options = _with_case_defaults(app, case_reference, options)
    policy = SamplingPolicy.parse(options.sampling or app.settings.video_sampling)
    policy = replace(policy, stream_fps=options.fps)  # checked before any file is read
    segment_s = options.segment_s or app.settings.video_segment_s
    if segment_s < 1:
        raise InvalidInputError(f"a segment must be at least 1 second, got {segment_s}")
    spec = video_spec(app)
    inherited = _read_at_inherited_rate(app, case_reference, options.fps, stated_fps)
    infos: list[VideoInfo] = []
    for path in videos:
        try:
            info = probe_video(path, app.settings.max_file_bytes, stream_fps=options.fps)
            if info.timestamps_from_fps and stated_fps is None and info.sha256 not in inherited:
                raise FrameRateNeededError(path, info.codec)
            infos.append(info)
        except FrameRateNeededError as exc:  # 'search' has no --fps: say where to state it
            errors.append(FileError(source=str(path), error=_rate_needed(path, exc.codec)))
        except RetrofaceError as exc:
            errors.append(FileError(source=str(path), error=str(exc)))
    parameters: dict[str, object] = {
        "sampling": policy.text,
        "segment_s": float(segment_s),
        "detector": spec.detector,
        "embedder": spec.embedder,
        "min_face_px": spec.min_face_px,
        "template_jitters": app.engine_spec.jitters,
        "template_mirror": app.engine_spec.mirror,
    }
    if options.fps is not None:  # only then: earlier jobs keep their fingerprints
        parameters["stream_fps"] = float(options.fps)
    job_id, resumed, media_ids, done = _open_job(
        app, case_reference, infos, parameters, sources, options.provenance
    )
    outs = {info.source: _file_out(info) for info in infos}
    tasks: list[SegmentTask] = []
    for info in infos:
        planned = plan_segments(
            Path(info.source),
            info.duration_s,
            policy,
            segment_s,
            template_jitters=app.engine_spec.jitters,
            template_mirror=app.engine_spec.mirror,
        )
        outs[info.source].segments = len(planned)
        for task in planned:
            if (media_ids[info.source], task.start_s) in done:
                outs[info.source].segments_skipped += 1
            else:
                tasks.append(task)
    video_seconds = sum(_task_seconds(t, infos) for t in tasks)
    progress.start("Scanning footage (seconds of video)", round(video_seconds))
    frames = 0
    for result in _execute(app, spec, tasks, options.dask_address):
        source = str(result.task.path)
        _store_segment(app, job_id, case_reference, media_ids[source], result, describe(spec))
        out = outs[source]
        out.frames_sampled += result.frames_sampled
        out.sightings += len(result.sightings)
        if result.error and out.error is None:
            out.error = result.error
            errors.append(FileError(source=source, error=result.error))
        frames += result.frames_sampled
        progress.advance(round(_task_seconds(result.task, infos)))
    progress.finish()
    wall = time.perf_counter() - started
    report = VideoIngestReport(
        job_id=job_id,
        case=case_reference,
        resumed=resumed,
        files=list(outs.values()),
        errors=sorted(errors, key=lambda e: e.source),
        frames_sampled=frames,
        video_seconds=round(video_seconds, 2),
        wall_seconds=round(wall, 2),
        realtime_factor=round(video_seconds / wall, 2) if tasks and wall > 0 else None,
    )
    _close_job(app, job_id, case_reference, report)
    return report


def _with_case_defaults(app: App, case_reference: str, options: IngestOptions) -> IngestOptions:
    """Unstated sampling, segment length and raw-stream frame rate follow the case's latest
    ingest, so a search of footage already ingested reuses its sightings instead of scanning
    it again (the rate only for the streams read at it: ``_read_at_inherited_rate``)."""
    if options.sampling and options.segment_s and options.fps is not None:
        return options
    with app.unit_of_work() as uow:
        job = uow.session.scalar(
            select(VideoJob)
            .where(VideoJob.case_id == uow.cases.require(case_reference).id)
            .order_by(VideoJob.started_at.desc())
            .limit(1)
        )
        if job is None:
            return options
        return replace(
            options,
            sampling=options.sampling or str(job.parameters.get("sampling")),
            segment_s=options.segment_s or float(job.parameters.get("segment_s", 0)) or None,
            fps=options.fps if options.fps is not None else _stated_fps(job),
        )


def _stated_fps(job: VideoJob) -> float | None:
    value = job.parameters.get("stream_fps")
    return float(value) if isinstance(value, int | float) else None


def _read_at_inherited_rate(
    app: App, case_reference: str, fps: float | None, stated_fps: float | None
) -> set[str]:
    """Hashes of the files the case's latest ingest read at ``fps``, when that rate was not
    stated now but inherited from it: only those streams may be read at it again."""
    if fps is None or stated_fps is not None:
        return set()
    with app.unit_of_work() as uow:
        job = uow.session.scalar(
            select(VideoJob)
            .where(VideoJob.case_id == uow.cases.require(case_reference).id)
            .order_by(VideoJob.started_at.desc())
            .limit(1)
        )
        if job is None or _stated_fps(job) != fps:
            return set()
        return set(
            uow.session.scalars(
                select(MediaItem.sha256)
                .join(VideoSegment, VideoSegment.media_item_id == MediaItem.id)
                .where(VideoSegment.job_id == job.id)
            )
        )


def _file_out(info: VideoInfo) -> VideoFileOut:
    return VideoFileOut(
        source=info.source,
        sha256=info.sha256,
        duration_s=info.duration_s,
        segments=0,
        frames_sampled=0,
        sightings=0,
        timestamps_from_fps=info.timestamps_from_fps,
    )


def _task_seconds(task: SegmentTask, infos: list[VideoInfo]) -> float:
    if task.end_s is not None:
        return task.end_s - task.start_s
    duration = next((i.duration_s for i in infos if i.source == str(task.path)), None)
    return max((duration or task.start_s) - task.start_s, 0.0)


def _open_job(
    app: App,
    case_reference: str,
    infos: list[VideoInfo],
    parameters: dict[str, object],
    sources: Sources | None = None,
    provenance: ProbeProvenance | None = None,
) -> tuple[str, bool, dict[str, int], set[tuple[int, float]]]:
    """The case's job for these parameters (new or resumed), media ids, and windows done."""
    with app.unit_of_work() as uow:
        case = uow.cases.require(case_reference)
        fingerprint = hashlib.sha256(
            json.dumps([case.id, app.engine.model.tag, parameters], sort_keys=True).encode()
        ).hexdigest()
        job = uow.session.scalar(
            select(VideoJob).where(VideoJob.case_id == case.id, VideoJob.fingerprint == fingerprint)
        )
        resumed = job is not None
        if job is None:
            job = VideoJob(
                id=str(uuid.uuid4()),
                case_id=case.id,
                fingerprint=fingerprint,
                requested_by=app.actor,
                parameters=parameters,
                started_at=app.now(),
            )
            uow.session.add(job)
        job.status = "running"
        media_ids: dict[str, int] = {}
        for info in infos:
            media = uow.session.scalar(
                select(MediaItem).where(
                    MediaItem.case_id == case.id,
                    MediaItem.sha256 == info.sha256,
                    MediaItem.media_type == "video",
                )
            )
            if media is None:
                media = MediaItem(
                    case_id=case.id,
                    source_path=recorded_source(Path(info.source), sources),
                    sha256=info.sha256,
                    media_type="video",
                    byte_size=info.byte_size,
                    width=info.width,
                    height=info.height,
                    format=info.codec[:16],
                    duration_s=info.duration_s,
                    recorded_at=info.start_time,
                )
                uow.session.add(media)
                uow.flush()
            if provenance is not None and media.source_type is None:
                # Recorded where the footage entered the case; footage ingested before
                # without one gets it now (never overwritten: the first record stands).
                media.source_type = provenance.source_type
                media.supplied_by = provenance.supplied_by
            media_ids[info.source] = media.id
        done = {
            (m, s)
            for m, s in uow.session.execute(
                select(VideoSegment.media_item_id, VideoSegment.start_s).where(
                    VideoSegment.job_id == job.id
                )
            )
        }
        app.audit(
            uow,
            action="video.ingest_started",
            object_type="video_job",
            object_id=job.id,
            case_reference=case_reference,
            resumed=resumed,
            files=[_file_provenance(i) for i in infos],
            **{k: v for k, v in parameters.items() if k != "embedder"},
        )
        uow.commit()
        return job.id, resumed, media_ids, done


def _file_provenance(info: VideoInfo) -> dict[str, object]:
    """A file as the ingest event records it; a raw stream's times come from a stated rate."""
    entry: dict[str, object] = {"sha256": info.sha256, "duration_s": info.duration_s}
    if info.timestamps_from_fps:
        entry |= {"timestamps_from_fps": True, "fps": info.fps}
    return entry


def _execute(
    app: App, spec: EngineSpec, tasks: list[SegmentTask], dask_address: str | None
) -> Iterator[SegmentResult]:
    """Run segments where the deployment says: a Dask cluster, local processes, or here."""
    if not tasks:
        return
    if dask_address:
        yield from _on_dask(spec, tasks, dask_address)
        return
    workers = min(app.settings.workers, len(tasks))
    if workers <= 1:
        engine = app.engine_for(spec)
        for task in tasks:
            yield analyse_segment(engine, task)
        return
    with ProcessPoolExecutor(
        max_workers=workers, mp_context=multiprocessing.get_context("spawn")
    ) as pool:
        futures = [pool.submit(run_segment, spec, task) for task in tasks]
        for future in as_completed(futures):
            yield future.result()


def _on_dask(spec: EngineSpec, tasks: list[SegmentTask], address: str) -> Iterator[SegmentResult]:
    with dask_client(address) as client:
        yield from completed([client.submit(run_segment, spec, t, pure=False) for t in tasks])


def _store_segment(
    app: App, job_id: str, case_reference: str, media_id: int, result: SegmentResult, engine: str
) -> None:
    """One window: its segment row, and per sighting a face, a fused template and a sighting."""
    with app.unit_of_work() as uow:
        segment = VideoSegment(
            job_id=job_id,
            media_item_id=media_id,
            start_s=result.task.start_s,
            end_s=result.task.end_s,
            frames_sampled=result.frames_sampled,
            faces=result.faces,
            sightings=len(result.sightings),
            seconds=round(result.seconds, 3),
            error=result.error,
        )
        uow.session.add(segment)
        uow.flush()
        for sighting in result.sightings:
            best = sighting.best
            face: Face = face_row(
                best.face, media_item_id=media_id, frame_index=best.frame, timestamp_s=best.time_s
            )
            uow.session.add(face)
            uow.flush()
            fused = replace(best.face, embedding=sighting.template)
            uow.session.add(template_row(fused, face.id, None, None, uow.cipher, engine=engine))
            uow.session.add(
                Sighting(
                    media_item_id=media_id,
                    segment_id=segment.id,
                    face_id=face.id,
                    first_frame=sighting.first_frame,
                    last_frame=sighting.last_frame,
                    first_s=sighting.first_s,
                    last_s=sighting.last_s,
                    detections=sighting.detections,
                    views_agreement=round(sighting.agreement, 6),
                    exemplars=[
                        {
                            "frame": o.frame,
                            "time_s": round(o.time_s, 3),
                            "box": o.box.as_list(),
                            "quality": round(o.quality, 3),
                        }
                        for o in sighting.exemplars
                    ],
                )
            )
        app.audit(
            uow,
            action="video.segment_processed",
            object_type="video_segment",
            object_id=segment.id,
            case_reference=case_reference,
            job_id=job_id,
            media_item_id=media_id,
            start_s=result.task.start_s,
            end_s=result.task.end_s,
            frames_sampled=result.frames_sampled,
            faces=result.faces,
            sightings=len(result.sightings),
            error=result.error,
        )
        uow.commit()


def _close_job(app: App, job_id: str, case_reference: str, report: VideoIngestReport) -> None:
    with app.unit_of_work() as uow:
        job = uow.session.get(VideoJob, job_id)
        if job is None:  # pragma: no cover - created above in this run
            raise NotFoundError(f"no video job {job_id}")
        job.status = "completed-with-errors" if report.errors else "completed"
        job.finished_at = app.now()
        job.stats = {
            "frames_sampled": report.frames_sampled,
            "video_seconds": report.video_seconds,
            "wall_seconds": report.wall_seconds,
            "realtime_factor": report.realtime_factor,
        }
        app.audit(
            uow,
            action="video.ingest_completed",
            object_type="video_job",
            object_id=job_id,
            case_reference=case_reference,
            errors=len(report.errors),
            **job.stats,
        )
        uow.commit()
