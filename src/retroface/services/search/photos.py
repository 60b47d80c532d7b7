"""1:N search of every face in evidence images against a gallery, under a case.

Order matters: the case and its authorisation are checked before any
evidence is opened, so an unauthorised request never processes a face. A
refusal is itself audited. Each evidence file commits with its faces and
candidates; the search row records threshold, cap, model, gallery version
and index configuration so a result can be reproduced.
"""

from __future__ import annotations

import uuid
from pathlib import Path

from sqlalchemy import func, select

from retroface.errors import AuthorisationError, InvalidInputError, NotFoundError
from retroface.faces import FileAnalysis, analyse_files
from retroface.governance import check_case_searchable
from retroface.governance.calibration_policy import check_operating_point_calibrated
from retroface.governance.case_policy import check_authorisation_covers
from retroface.governance.deployment_policy import check_threshold
from retroface.governance.roles import Action
from retroface.governance.watchlist_policy import checked_labels
from retroface.index import AnyIndex
from retroface.media.video_reader import is_video_path
from retroface.services.app import App
from retroface.services.biometrics.face_records import face_row, template_row
from retroface.services.biometrics.gallery_index import load_gallery_index
from retroface.services.cases.manage import get_case
from retroface.services.deployment.calibrations import calibrated_points
from retroface.services.deployment.rules import search_rules
from retroface.services.galleries.manage import get_gallery
from retroface.services.progress import Progress, SilentProgress
from retroface.services.results import CandidateOut, FileError, ProbeOut, SearchReport
from retroface.services.search.evidence_files import expand_evidence
from retroface.services.search.footage import case_video_media, match_sightings
from retroface.services.search.ranking import RankedSubject, rank_subjects
from retroface.services.video.ingest import IngestOptions, run_ingest
from retroface.store.models import Candidate, MediaItem, Search

MAX_CANDIDATES_LIMIT = 50


def search(
    app: App,
    case_reference: str,
    gallery_name: str,
    evidence: list[Path],
    *,
    threshold: float | None = None,
    max_candidates: int | None = None,
    probe_labels: dict[str, str] | None = None,
    progress: Progress | None = None,
) -> SearchReport:
    """``probe_labels``: operator-supplied demographic labels of the probe person (statistics)."""
    app.require(Action.SEARCH_RUN, case_reference=case_reference)
    progress = progress or SilentProgress()
    cap = app.settings.max_candidates if max_candidates is None else max_candidates
    if not 1 <= cap <= MAX_CANDIDATES_LIMIT:
        raise InvalidInputError(f"--max-candidates must be 1..{MAX_CANDIDATES_LIMIT}, got {cap}")
    if not evidence:
        raise InvalidInputError("name at least one evidence file or folder to search")
    labels = checked_labels(probe_labels or {})

    search_id, threshold, keep_all = start_search(
        app, case_reference, gallery_name, threshold, cap, labels
    )
    found, errors = expand_evidence(evidence)
    videos = [f for f in found if is_video_path(f)]
    files = [f for f in found if not is_video_path(f)]
    model = app.engine.model
    probes: list[ProbeOut] = []
    with app.unit_of_work() as uow:
        index = load_gallery_index(
            uow,
            app.settings.index_dir,
            get_gallery(uow, gallery_name),
            model,
            app.settings.index_exact_max,
        )

    progress.start("Searching", len(files))
    for result in analyse_files(
        files,
        app.engine_spec,
        app.limits,
        app.settings.workers,
        engine=app.engine if len(files) <= 4 else None,
    ):
        progress.advance()
        if result.error:
            errors.append(FileError(source=str(result.path), error=result.error))
            continue
        if not result.faces:
            errors.append(FileError(source=str(result.path), error=f"{result.path}: no face found"))
        probes.extend(
            _store_file(app, search_id, case_reference, result, index, threshold, cap, keep_all)
        )
    progress.finish()
    if videos:
        probes.extend(
            _search_footage(app, search_id, case_reference, videos, index, errors, progress)
        )

    finish_search(app, search_id, case_reference, len(files) + len(videos), probes, errors)
    probes.sort(key=lambda p: (p.source, p.first_s or 0.0, p.box[0], p.box[1]))
    return SearchReport(
        search_id=search_id,
        case=case_reference,
        gallery=gallery_name,
        threshold=threshold,
        model=model.tag,
        probes=probes,
        errors=sorted(errors, key=lambda e: e.source),
    )


def _search_footage(
    app: App,
    search_id: str,
    case_reference: str,
    videos: list[Path],
    index: AnyIndex,
    errors: list[FileError],
    progress: Progress,
) -> list[ProbeOut]:
    """Ingest the footage into the case (reusing sightings already there), then match them."""
    ingest = run_ingest(app, case_reference, videos, [], IngestOptions(), progress)
    errors.extend(ingest.errors)
    with app.unit_of_work() as uow:
        case = get_case(uow, case_reference)
        media_ids = case_video_media(uow, case.id, [f.sha256 for f in ingest.files])
        row = uow.session.get(Search, search_id)
        assert row is not None
        probes = match_sightings(
            app, uow, search_id, media_ids, ingest.job_id, index, row.threshold, row.max_candidates
        )
        app.audit(
            uow.session,
            action="search.media_processed",
            object_type="search",
            object_id=search_id,
            case_reference=case_reference,
            search_id=search_id,
            videos=[f.sha256 for f in ingest.files],
            ingest_job=ingest.job_id,
            sightings=len(probes),
            # EU AI Act Art 12(3)(c): the input data that led to each match.
            matches=[
                {"sighting_id": p.sighting_id, "subjects": [c.subject_id for c in p.candidates]}
                for p in probes
                if p.candidates
            ],
        )
        uow.commit()
    return probes


def start_search(
    app: App,
    case_reference: str,
    gallery_name: str,
    threshold: float | None,
    cap: int,
    labels: dict[str, str],
    *,
    kind: str = "photos-and-footage",
) -> tuple[str, float, bool]:
    """Check every gate, then create the search row; a refusal is audited and re-raised.

    Returns (search id, threshold used, whether to keep probe templates of
    faces without a lead until case closure).
    """
    now = app.now()
    try:
        with app.unit_of_work() as uow:
            rules = search_rules(uow, app.settings.threshold)
            rules.check_ready(now.date())
            threshold = check_threshold(
                max(app.settings.threshold, rules.threshold_floor)
                if threshold is None
                else threshold,
                rules.threshold_floor,
            )
            case = get_case(uow, case_reference)
            gallery = get_gallery(uow, gallery_name)
            auth = check_case_searchable(case, now)
            done = uow.session.scalar(
                select(func.count(Search.id)).where(Search.authorisation_id == auth.id)
            )
            check_authorisation_covers(case, auth, gallery.name, int(done or 0))
            subjects, _, templates = uow.galleries.counts(gallery.id)
            if templates == 0:
                raise NotFoundError(f"gallery {gallery.name!r} has no enrolled faces to search")
            model = app.engine.model
            check_operating_point_calibrated(
                model.tag, rules.threshold_floor, calibrated_points(uow)
            )
            index = load_gallery_index(
                uow, app.settings.index_dir, gallery, model, app.settings.index_exact_max
            )
            search_row = Search(
                id=str(uuid.uuid4()),
                case_id=case.id,
                gallery_id=gallery.id,
                gallery_version=gallery.version,
                threshold=threshold,
                max_candidates=cap,
                model_name=model.name,
                model_version=model.version,
                index_config=index.config,
                parameters={
                    "detector": app.engine_spec.detector,
                    "embedder": app.engine_spec.embedder,
                    "min_face_px": app.engine_spec.min_face_px,
                    "max_detect_pixels": app.engine_spec.max_detect_pixels,
                    "jitters": app.engine_spec.jitters,
                    "subject_score": "max over the subject's templates",
                    "kind": kind,
                },
                requested_by=app.actor,
                authorisation_id=auth.id,
                probe_labels=labels or None,
                started_at=now,
            )
            uow.session.add(search_row)
            app.audit(
                uow.session,
                action="search.started",
                object_type="search",
                object_id=search_row.id,
                case_reference=case.reference,
                gallery=gallery.name,
                gallery_version=gallery.version,
                gallery_subjects=subjects,
                authorisation_id=auth.id,
                threshold=threshold,
                threshold_floor=rules.threshold_floor,
                max_candidates=cap,
                model=model.tag,
                dpia=rules.dpia.identifier if rules.dpia else None,
                eu_mode=rules.eu_mode,
            )
            uow.commit()
            return search_row.id, threshold, rules.probe_retention == "case-closure"
    except (AuthorisationError, NotFoundError, InvalidInputError) as exc:
        with app.unit_of_work() as uow:
            app.audit(
                uow.session,
                action="search.refused",
                object_type="case",
                object_id=case_reference,
                case_reference=case_reference,
                gallery=gallery_name,
                reason=str(exc),
            )
            uow.commit()
        raise


def _store_file(
    app: App,
    search_id: str,
    case_reference: str,
    result: FileAnalysis,
    index: AnyIndex,
    threshold: float,
    cap: int,
    keep_all_templates: bool,
) -> list[ProbeOut]:
    """Media item, faces, candidates; probe templates only where a candidate exists,
    unless the deployment keeps them all until the case closes."""
    assert result.sha256 is not None
    probes: list[ProbeOut] = []
    with app.unit_of_work() as uow:
        case = get_case(uow, case_reference)
        media = MediaItem(
            case_id=case.id,
            search_id=search_id,
            source_path=str(result.path.resolve()),
            sha256=result.sha256,
            media_type="image",
            byte_size=result.byte_size,
            width=result.width,
            height=result.height,
            format=result.format or "unknown",
        )
        uow.session.add(media)
        uow.flush()
        for face in result.faces:
            ranked: list[RankedSubject] = rank_subjects(
                index,
                face.embedding,
                uow.templates.subjects_of,
                max_candidates=cap,
                threshold=threshold,
            )
            record = face_row(face, media_item_id=media.id)
            uow.session.add(record)
            uow.flush()
            if ranked or keep_all_templates:
                # Data minimisation: by default a probe template is kept only when it
                # produced a lead; the others are never written (deleted "at once").
                uow.session.add(template_row(face, record.id, None, None, uow.cipher))
            names = uow.subjects.by_ids([r.subject_id for r in ranked])
            rows = [
                Candidate(
                    search_id=search_id,
                    face_id=record.id,
                    subject_id=hit.subject_id,
                    template_id=hit.template_id,
                    rank=rank,
                    score=hit.score,
                )
                for rank, hit in enumerate(ranked, start=1)
            ]
            uow.session.add_all(rows)
            uow.flush()
            probes.append(
                ProbeOut(
                    source=str(result.path),
                    frame=None,
                    box=face.detection.box.as_list(),
                    quality=face.quality.overall,
                    candidates=[
                        CandidateOut(
                            candidate_id=row.id,
                            rank=row.rank,
                            subject=names[row.subject_id].name,
                            subject_id=row.subject_id,
                            score=round(row.score, 4),
                        )
                        for row in rows
                    ],
                )
            )
        app.audit(
            uow.session,
            action="search.media_processed",
            object_type="media_item",
            object_id=media.id,
            case_reference=case_reference,
            search_id=search_id,
            sha256=result.sha256,
            faces=len(result.faces),
            faces_with_candidates=sum(1 for p in probes if p.candidates),
            # EU AI Act Art 12(3)(c): the input data that led to each match.
            matches=[
                {"box": p.box, "subjects": [c.subject_id for c in p.candidates]}
                for p in probes
                if p.candidates
            ],
        )
        uow.commit()
    return probes


def finish_search(
    app: App,
    search_id: str,
    case_reference: str,
    files: int,
    probes: list[ProbeOut] | int,
    errors: list[FileError],
) -> None:
    """Mark the search completed; ``probes`` is the probe list or, for a timeline, a count."""
    faces = probes if isinstance(probes, int) else len(probes)
    candidates = probes if isinstance(probes, int) else sum(len(p.candidates) for p in probes)
    with app.unit_of_work() as uow:
        row = uow.session.get(Search, search_id)
        assert row is not None
        row.status = "completed"
        row.finished_at = app.now()
        app.audit(
            uow.session,
            action="search.completed",
            object_type="search",
            object_id=search_id,
            case_reference=case_reference,
            # EU AI Act Art 12(3)(a): the period of each use.
            started_at=row.started_at.isoformat(),
            finished_at=row.finished_at.isoformat(),
            files=files,
            faces=faces,
            candidates=candidates,
            errors=len(errors),
        )
        uow.commit()
