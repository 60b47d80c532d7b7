"""1:N search of the chosen faces in evidence images against a gallery, under a case.

Order matters: the case and its authorisation are checked before any
evidence is opened, so an unauthorised request never processes a face. A
refusal is itself audited. Which face of an image is searched is the
operator's choice (search/probe_faces.py): a single image with several faces
and no choice is listed, not searched. Each evidence file commits with its
faces and candidates; the search row records threshold, cap, model, gallery
version, index configuration and the face choice so a result can be reproduced.
"""

from __future__ import annotations

from pathlib import Path

from retroface.errors import InvalidInputError
from retroface.faces import FileAnalysis, analyse_files
from retroface.faces.face_choice import FaceChoice
from retroface.faces.manual_alignment import MANUAL_DETECTOR
from retroface.governance.roles import Action
from retroface.governance.watchlist_policy import checked_labels
from retroface.index import AnyIndex
from retroface.media.video_reader import is_video_path
from retroface.services.app import App
from retroface.services.biometrics.face_records import face_row, template_row
from retroface.services.biometrics.gallery_index import load_gallery_index
from retroface.services.biometrics.sighting_templates import case_video_media
from retroface.services.biometrics.uploaded_files import Sources, recorded_source
from retroface.services.deployment.decision_rule import (
    DecisionRule,
    decision_rule,
    probe_decision_fields,
)
from retroface.services.evidence_files import expand_evidence
from retroface.services.progress import Progress, SilentProgress
from retroface.services.results import FileError, ProbeOut, SearchReport
from retroface.services.search.decision import decide_and_rank
from retroface.services.search.footage import match_sightings
from retroface.services.search.gate import (
    MAX_CANDIDATES_LIMIT,
    audit_search_refusal,
    check_search_allowed,
    failed_on_error,
    finish_search,
    record_candidates,
    start_search,
)
from retroface.services.search.probe_faces import (
    PreparedImage,
    analyse_prepared,
    check_choice_fits,
    prepare_image,
)
from retroface.services.video.ingest import IngestOptions, run_ingest
from retroface.store.models import MediaItem, Search


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
    sources: Sources | None = None,
    low_quality_justification: str | None = None,
    face_choice: FaceChoice | None = None,
) -> SearchReport:
    """``probe_labels``: operator-supplied demographic labels of the probe person (statistics).
    ``sources``: where evidence read from plaintext copies is kept (sealed uploads), which
    is what the media rows record. ``low_quality_justification``: the operator's recorded
    reason to search faces that are too poor to search reliably (otherwise they are not).
    ``face_choice``: which face of the image to search (search/probe_faces.py); without one,
    a single image with several faces raises ``FaceChoiceNeededError`` before a search exists."""
    app.require(Action.SEARCH_RUN, case_reference=case_reference)
    progress = progress or SilentProgress()
    cap = app.settings.max_candidates if max_candidates is None else max_candidates
    if not 1 <= cap <= MAX_CANDIDATES_LIMIT:
        raise InvalidInputError(f"--max-candidates must be 1..{MAX_CANDIDATES_LIMIT}, got {cap}")
    if not evidence:
        raise InvalidInputError("name at least one evidence file or folder to search")
    labels = checked_labels(probe_labels or {})

    # The gate first (no path is even listed for a refused search), then the evidence: an
    # attempt that names nothing readable is a mistake, refused before a search exists, so
    # it uses none of the authorised searches and is no search in the statistics.
    check_search_allowed(app, case_reference, gallery_name, threshold, cap)
    found, errors = expand_evidence(evidence)
    if not found:
        missing = InvalidInputError(
            "none of the evidence named could be found: " + "; ".join(e.error for e in errors)
        )
        audit_search_refusal(app, case_reference, gallery_name, missing)
        raise missing
    choice = face_choice or FaceChoice()
    videos = sum(1 for f in found if is_video_path(f))
    try:
        check_choice_fits(choice, len(found) - videos, videos)
    except InvalidInputError as exc:
        audit_search_refusal(app, case_reference, gallery_name, exc)
        raise
    # One image: its faces are detected, and the one to search chosen, before a search
    # exists (several and no choice: listed, no search used); several files: per file.
    prepared = (
        prepare_image(app, case_reference, gallery_name, found[0], choice)
        if len(found) == 1 and not videos
        else None
    )
    fixed = threshold is not None
    search_id, threshold, keep_all = start_search(
        app, case_reference, gallery_name, threshold, cap, labels,
        justification=low_quality_justification, face_choice=choice.parameters(),
    )  # fmt: skip
    with failed_on_error(app, search_id, case_reference):
        with app.unit_of_work() as uow:
            rule = decision_rule(app, uow, threshold, low_quality_justification, fixed=fixed)
        return _run(
            app, search_id, case_reference, gallery_name, found, errors, rule, cap,
            keep_all, progress, sources, choice, prepared,
        )  # fmt: skip


def _run(
    app: App,
    search_id: str,
    case_reference: str,
    gallery_name: str,
    found: list[Path],
    errors: list[FileError],
    rule: DecisionRule,
    cap: int,
    keep_all: bool,
    progress: Progress,
    sources: Sources | None,
    choice: FaceChoice,
    prepared: PreparedImage | None,
) -> SearchReport:
    """The search once it has started: analyse the chosen faces, rank and record each file."""
    videos = [f for f in found if is_video_path(f)]
    files = [f for f in found if not is_video_path(f)]
    model = app.engine.model
    probes: list[ProbeOut] = []
    with app.unit_of_work() as uow:
        index = load_gallery_index(
            uow,
            app.settings.index_dir,
            uow.galleries.require(gallery_name),
            model,
            app.settings.index_exact_max,
        )

    progress.start("Searching", len(files))
    analyses = (
        iter([analyse_prepared(app, prepared)])
        if prepared is not None
        else analyse_files(
            files,
            app.engine_spec,
            app.limits,
            app.settings.workers,
            engine=app.engine if len(files) <= 4 else None,
            choice=choice,
        )
    )
    for result in analyses:
        progress.advance()
        if result.error:
            errors.append(FileError(source=str(result.path), error=result.error))
            continue
        if not result.faces:
            errors.append(FileError(source=str(result.path), error=_no_face(result.path, files)))
        probes.extend(
            _store_file(
                app,
                search_id,
                case_reference,
                result,
                index,
                rule,
                cap,
                keep_all,
                recorded_source(result.path, sources),
            )
        )
    progress.finish()
    if videos:
        probes.extend(
            _search_footage(
                app, search_id, case_reference, videos, index, errors, progress, sources, rule
            )
        )

    finish_search(app, search_id, case_reference, len(files) + len(videos), probes, errors)
    probes.sort(key=lambda p: (p.source, p.first_s or 0.0, p.box[0], p.box[1]))
    return SearchReport(
        search_id=search_id,
        case=case_reference,
        gallery=gallery_name,
        threshold=rule.floor,
        model=model.tag,
        engine=app.engine_description,
        target_fpir=rule.target_fpir if rule.open_set else None,
        gallery_templates=len(index),
        probes=probes,
        errors=sorted(errors, key=lambda e: e.source),
    )


def _no_face(path: Path, files: list[Path]) -> str:
    where = "" if len(files) == 1 else " in a search of this image alone"
    return f"{path}: no face found (a face the detector missed can be marked by hand{where})"


def _search_footage(
    app: App,
    search_id: str,
    case_reference: str,
    videos: list[Path],
    index: AnyIndex,
    errors: list[FileError],
    progress: Progress,
    sources: Sources | None,
    rule: DecisionRule,
) -> list[ProbeOut]:
    """Ingest the footage into the case (reusing sightings already there), then match them."""
    ingest = run_ingest(app, case_reference, videos, [], IngestOptions(), progress, sources=sources)
    errors.extend(ingest.errors)
    with app.unit_of_work() as uow:
        case = uow.cases.require(case_reference)
        media_ids = case_video_media(uow, case.id, [f.sha256 for f in ingest.files])
        row = uow.session.get(Search, search_id)
        assert row is not None
        probes = match_sightings(
            app, uow, search_id, media_ids, ingest.job_id, index, rule, row.max_candidates
        )
        app.audit(
            uow,
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


def _store_file(
    app: App,
    search_id: str,
    case_reference: str,
    result: FileAnalysis,
    index: AnyIndex,
    rule: DecisionRule,
    cap: int,
    keep_all_templates: bool,
    source_path: str,
) -> list[ProbeOut]:
    """Media item, faces, candidates; probe templates only where a candidate exists,
    unless the deployment keeps them all until the case closes."""
    assert result.sha256 is not None
    probes: list[ProbeOut] = []
    with app.unit_of_work() as uow:
        case = uow.cases.require(case_reference)
        media = MediaItem(
            case_id=case.id,
            search_id=search_id,
            source_path=source_path,
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
            decision, ranked = decide_and_rank(
                rule, uow, index, face.embedding, face.quality.overall, face.quality.parts, cap
            )
            marked_by = app.actor if face.detection.detector == MANUAL_DETECTOR else None
            record = face_row(face, media_item_id=media.id, marked_by=marked_by)
            record.decision = decision.record()
            uow.session.add(record)
            uow.flush()
            if ranked or keep_all_templates:
                # Data minimisation: by default a probe template is kept only when it
                # produced a lead; the others are never written (deleted "at once").
                uow.session.add(
                    template_row(
                        face, record.id, None, None, uow.cipher, engine=app.engine_description
                    )
                )
            candidates = record_candidates(uow, search_id, record.id, ranked)
            probes.append(
                ProbeOut(
                    source=str(result.path),
                    frame=None,
                    box=face.detection.box.as_list(),
                    quality=face.quality.overall,
                    candidates=candidates,
                    marked_by=marked_by,
                    **probe_decision_fields(decision),
                )
            )
        app.audit(
            uow,
            action="search.media_processed",
            object_type="media_item",
            object_id=media.id,
            case_reference=case_reference,
            search_id=search_id,
            sha256=result.sha256,
            faces=len(result.faces),
            # Faces the detector found, searched or not (one chosen of several, or none and
            # a face marked by hand); the faces not chosen are counted, never located.
            faces_detected=result.detected,
            faces_marked_by_hand=sum(1 for p in probes if p.marked_by),
            faces_too_poor=sum(1 for p in probes if not p.searched),
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
