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

from retroface.errors import AuthorisationError, InvalidInputError, NotFoundError
from retroface.faces import FileAnalysis, analyse_files
from retroface.governance import check_case_searchable
from retroface.governance.roles import Action
from retroface.index import FlatIndex
from retroface.services.app import App
from retroface.services.candidate_ranking import RankedSubject, rank_subjects
from retroface.services.cases import get_case
from retroface.services.evidence_files import expand_evidence
from retroface.services.face_records import face_row, template_row
from retroface.services.galleries import get_gallery
from retroface.services.gallery_index import load_gallery_index
from retroface.services.progress import Progress, SilentProgress
from retroface.services.results import CandidateOut, FileError, ProbeOut, SearchReport
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
    progress: Progress | None = None,
) -> SearchReport:
    app.require(Action.SEARCH_RUN, case_reference=case_reference)
    progress = progress or SilentProgress()
    threshold = app.settings.threshold if threshold is None else threshold
    cap = app.settings.max_candidates if max_candidates is None else max_candidates
    if not -1.0 <= threshold <= 1.0:
        raise InvalidInputError(f"the threshold is a cosine similarity in [-1, 1], got {threshold}")
    if not 1 <= cap <= MAX_CANDIDATES_LIMIT:
        raise InvalidInputError(f"--max-candidates must be 1..{MAX_CANDIDATES_LIMIT}, got {cap}")
    if not evidence:
        raise InvalidInputError("name at least one evidence file or folder to search")

    search_id = _start_search(app, case_reference, gallery_name, threshold, cap)
    files, errors = expand_evidence(evidence)
    model = app.engine.model
    probes: list[ProbeOut] = []
    with app.unit_of_work() as uow:
        index = load_gallery_index(
            uow, app.settings.index_dir, get_gallery(uow, gallery_name), model
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
        probes.extend(_store_file(app, search_id, case_reference, result, index, threshold, cap))
    progress.finish()

    _finish_search(app, search_id, case_reference, len(files), probes, errors)
    probes.sort(key=lambda p: (p.source, p.box[0], p.box[1]))
    return SearchReport(
        search_id=search_id,
        case=case_reference,
        gallery=gallery_name,
        threshold=threshold,
        model=model.tag,
        probes=probes,
        errors=sorted(errors, key=lambda e: e.source),
    )


def _start_search(
    app: App, case_reference: str, gallery_name: str, threshold: float, cap: int
) -> str:
    """Check the gate, then create the search row; a refusal is audited and re-raised."""
    now = app.now()
    try:
        with app.unit_of_work() as uow:
            case = get_case(uow, case_reference)
            gallery = get_gallery(uow, gallery_name)
            auth = check_case_searchable(case, now)
            if auth.gallery_scope is not None and gallery.name not in auth.gallery_scope:
                raise AuthorisationError(
                    f"case {case.reference}: gallery {gallery.name!r} is outside the authorised scope"
                )
            subjects, _, templates = uow.galleries.counts(gallery.id)
            if templates == 0:
                raise NotFoundError(f"gallery {gallery.name!r} has no enrolled faces to search")
            model = app.engine.model
            search_row = Search(
                id=str(uuid.uuid4()),
                case_id=case.id,
                gallery_id=gallery.id,
                gallery_version=gallery.version,
                threshold=threshold,
                max_candidates=cap,
                model_name=model.name,
                model_version=model.version,
                index_config=FlatIndex.config,
                parameters={
                    "detector": app.engine_spec.detector,
                    "embedder": app.engine_spec.embedder,
                    "min_face_px": app.engine_spec.min_face_px,
                    "max_detect_pixels": app.engine_spec.max_detect_pixels,
                    "jitters": app.engine_spec.jitters,
                    "subject_score": "max over the subject's templates",
                },
                requested_by=app.actor,
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
                max_candidates=cap,
                model=model.tag,
            )
            uow.commit()
            return search_row.id
    except (AuthorisationError, NotFoundError) as exc:
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
    index: FlatIndex,
    threshold: float,
    cap: int,
) -> list[ProbeOut]:
    """Media item, faces, candidates (and probe templates only where a candidate exists)."""
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
            if ranked:
                # Data minimisation: a probe template is kept only when it produced a lead.
                uow.session.add(template_row(face, record.id, None, None))
            names = uow.subjects.by_ids([r.subject_id for r in ranked])
            for rank, hit in enumerate(ranked, start=1):
                uow.session.add(
                    Candidate(
                        search_id=search_id,
                        face_id=record.id,
                        subject_id=hit.subject_id,
                        template_id=hit.template_id,
                        rank=rank,
                        score=hit.score,
                    )
                )
            probes.append(
                ProbeOut(
                    source=str(result.path),
                    frame=None,
                    box=face.detection.box.as_list(),
                    quality=face.quality.overall,
                    candidates=[
                        CandidateOut(
                            rank=rank, subject=names[hit.subject_id].name, score=round(hit.score, 4)
                        )
                        for rank, hit in enumerate(ranked, start=1)
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
        )
        uow.commit()
    return probes


def _finish_search(
    app: App,
    search_id: str,
    case_reference: str,
    files: int,
    probes: list[ProbeOut],
    errors: list[FileError],
) -> None:
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
            files=files,
            faces=len(probes),
            candidates=sum(len(p.candidates) for p in probes),
            errors=len(errors),
        )
        uow.commit()
