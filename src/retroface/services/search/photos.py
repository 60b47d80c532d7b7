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
from typing import Any

from retroface.errors import InvalidInputError
from retroface.faces import FileAnalysis, analyse_files
from retroface.faces.face_choice import FaceChoice
from retroface.faces.manual_alignment import MANUAL_DETECTOR
from retroface.governance.probe_sources import ProbeProvenance, probe_provenance
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
from retroface.services.search.enhanced_probe import (
    EnhancedImage,
    ProbeEnhancement,
    check_enhancement_fits,
    enhancement_parameters,
    enhancement_shown,
    record_enhancement,
)
from retroface.services.search.footage import match_sightings
from retroface.services.search.fused_probe import (
    ProbePart,
    fused_audit,
    fusion_parameters,
    search_fused,
)
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
    source_type: str | None = None,
    supplied_by: str | None = None,
    one_person: bool = False,
    enhancement: ProbeEnhancement | None = None,
    fps: float | None = None,
) -> SearchReport:
    """``probe_labels``: operator-supplied demographic labels of the probe person (statistics).
    ``sources``: where evidence read from plaintext copies is kept (sealed uploads), which
    is what the media rows record. ``low_quality_justification``: the operator's recorded
    reason to search faces that are too poor to search reliably (otherwise they are not).
    ``face_choice``: which face of the image to search (search/probe_faces.py); without one,
    a single image with several faces raises ``FaceChoiceNeededError`` before a search exists.
    ``source_type``, ``supplied_by``: where the evidence came from and who supplied it
    (governance/probe_sources.py), recorded on every media item; a sketch, composite,
    artist's impression or substitute image is refused (audited). ``one_person``: the
    images are stills of one unknown person, searched as one fused probe (fused_probe.py).
    ``enhancement``: steps applied to the one probe image before its faces are detected
    (search/enhanced_probe.py: recorded on its media item, each step audited). ``fps``: the
    frame rate of raw H.264/H.265 streams among the evidence (no timestamps of their own),
    as ``video ingest --fps``; without it a stream the case already ingested is read at the
    rate stated then."""
    app.require(Action.SEARCH_RUN, case_reference=case_reference)
    progress = progress or SilentProgress()
    cap = app.settings.max_candidates if max_candidates is None else max_candidates
    if not 1 <= cap <= MAX_CANDIDATES_LIMIT:
        raise InvalidInputError(f"--max-candidates must be 1..{MAX_CANDIDATES_LIMIT}, got {cap}")
    if not evidence:
        raise InvalidInputError("name at least one evidence file or folder to search")
    labels = checked_labels(probe_labels or {})
    provenance = checked_provenance(app, case_reference, gallery_name, source_type, supplied_by)

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
        check_enhancement_fits(enhancement, len(found) - videos, videos)
        if one_person:
            check_one_person(choice, len(found) - videos, videos)
    except InvalidInputError as exc:
        audit_search_refusal(app, case_reference, gallery_name, exc)
        raise
    # One image: its faces are detected, and the one to search chosen, before a search
    # exists (several and no choice: listed, no search used); several files: per file.
    prepared = (
        prepare_image(app, case_reference, gallery_name, found[0], choice, enhancement)
        if len(found) == 1 and not videos
        else None
    )
    fixed = threshold is not None
    search_id, threshold, keep_all = start_search(
        app, case_reference, gallery_name, threshold, cap, labels,
        justification=low_quality_justification, face_choice=choice.parameters(),
        probe={
            **_probe_parameters(provenance, len(found) if one_person else 0),
            **enhancement_parameters(enhancement),
        },
    )  # fmt: skip
    with failed_on_error(app, search_id, case_reference):
        with app.unit_of_work() as uow:
            rule = decision_rule(app, uow, threshold, low_quality_justification, fixed=fixed)
        return _run(
            app, search_id, case_reference, gallery_name, found, errors, rule, cap,
            keep_all, progress, sources, choice, prepared, provenance, one_person, fps,
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
    provenance: ProbeProvenance | None = None,
    one_person: bool = False,
    fps: float | None = None,
) -> SearchReport:
    """The search once it has started: analyse the chosen faces, rank and record each file
    (or, for one person, fuse the files' faces into one probe)."""
    videos = [f for f in found if is_video_path(f)]
    files = [f for f in found if not is_video_path(f)]
    model = app.engine.model
    probes: list[ProbeOut] = []
    stills: list[FileAnalysis] = []
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
        if one_person:
            stills.append(result)
            continue
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
                provenance,
                enhanced=prepared.enhanced if prepared is not None else None,
            )
        )
    progress.finish()
    if one_person:
        probes.extend(
            _store_one_person(
                app, search_id, case_reference, stills, index, rule, cap, keep_all, sources,
                provenance,
            )
        )  # fmt: skip
    if videos:
        probes.extend(
            _search_footage(
                app,
                search_id,
                case_reference,
                videos,
                index,
                errors,
                progress,
                sources,
                rule,
                provenance,
                fps,
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
    provenance: ProbeProvenance | None = None,
    fps: float | None = None,
) -> list[ProbeOut]:
    """Ingest the footage into the case (reusing sightings already there), then match them."""
    options = IngestOptions(provenance=provenance, fps=fps)
    ingest = run_ingest(app, case_reference, videos, [], options, progress, sources=sources)
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
    provenance: ProbeProvenance | None = None,
    *,
    enhanced: EnhancedImage | None = None,
) -> list[ProbeOut]:
    """Media item, faces, candidates; probe templates only where a candidate exists,
    unless the deployment keeps them all until the case closes. ``enhanced``: the steps
    the image was searched after, recorded on the media item and audited step by step."""
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
            **_provenance_columns(provenance),
        )
        uow.session.add(media)
        uow.flush()
        if enhanced is not None:
            record_enhancement(app, uow, media, enhanced, case_reference, search_id)
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
                    enhancement=enhancement_shown(media.enhancement),
                    **_provenance_columns(provenance),
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
            enhanced=enhanced is not None,
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


def _provenance_columns(provenance: ProbeProvenance | None) -> dict[str, str | None]:
    """The media item's source type and supplier (None: not recorded)."""
    return {
        "source_type": provenance.source_type if provenance else None,
        "supplied_by": provenance.supplied_by if provenance else None,
    }


def _probe_parameters(provenance: ProbeProvenance | None, fused_files: int) -> dict[str, Any]:
    """What the search row and ``search.started`` record about the probe: its provenance
    and, for one person's stills, the fusion."""
    return {
        **({"provenance": provenance.record()} if provenance else {}),
        **(fusion_parameters(fused_files) if fused_files else {}),
    }


def checked_provenance(
    app: App,
    case_reference: str,
    gallery_name: str,
    source_type: str | None,
    supplied_by: str | None,
) -> ProbeProvenance | None:
    """The evidence's provenance, checked before anything is opened (or stored, for an
    upload): a sketch, composite, artist's impression or substitute image, an unknown
    source type or no supplier is refused and the refusal audited (``search.refused``)."""
    try:
        return probe_provenance(source_type, supplied_by)
    except InvalidInputError as exc:
        audit_search_refusal(app, case_reference, gallery_name, exc)
        raise


def check_one_person(choice: FaceChoice, images: int, videos: int) -> None:
    """Stills of one person: two or more images, each showing that person alone."""
    if videos:
        raise InvalidInputError(
            "one person's stills are images: to search sightings of footage as one person, "
            "ingest it and use 'retroface video search --sighting ID ... --one-person'"
        )
    if images < 2:
        raise InvalidInputError(
            f"searching stills as one person needs two or more images, got {images}"
        )
    if choice.all_faces_reason is not None:
        raise InvalidInputError(
            "every face of the evidence and one person's stills contradict each other: "
            "search one person's stills with one face each"
        )


def _store_one_person(
    app: App,
    search_id: str,
    case_reference: str,
    stills: list[FileAnalysis],
    index: AnyIndex,
    rule: DecisionRule,
    cap: int,
    keep_all_templates: bool,
    sources: Sources | None,
    provenance: ProbeProvenance | None,
) -> list[ProbeOut]:
    """One transaction: a media item and a face row per still, then one fused probe."""
    with app.unit_of_work() as uow:
        case = uow.cases.require(case_reference)
        parts: list[ProbePart] = []
        for result in stills:
            if not result.faces:
                continue  # reported as a file error already
            assert result.sha256 is not None
            media = MediaItem(
                case_id=case.id,
                search_id=search_id,
                source_path=recorded_source(result.path, sources),
                sha256=result.sha256,
                media_type="image",
                byte_size=result.byte_size,
                width=result.width,
                height=result.height,
                format=result.format or "unknown",
                **_provenance_columns(provenance),
            )
            uow.session.add(media)
            uow.flush()
            (face,) = result.faces  # several faces in a file of several: a file error
            record = face_row(face, media_item_id=media.id)
            uow.session.add(record)
            uow.flush()
            parts.append(ProbePart(record, media, face.embedding))
        if not parts:
            return []
        probe = search_fused(
            app, uow, search_id, parts, index, rule, cap, keep_all_templates, copy_lead=False
        )
        app.audit(
            uow,
            action="search.media_processed",
            object_type="fused_probe",
            object_id=search_id,
            case_reference=case_reference,
            search_id=search_id,
            faces=len(parts),
            **fused_audit(probe),
        )
        uow.commit()
    return [probe]
