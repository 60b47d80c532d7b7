"""The gate every search passes, and the one way candidates are written.

A search of photos, of footage sightings, a ``video find`` and a 1:1
comparison are all searches: each starts here (the deployment's rules, the
case's authorisation and its search count, the gallery, the threshold floor
and a calibration that covers the model), gets a ``searches`` row that
records everything that shaped it, and ends here. A refusal is audited
before it is raised, so the log shows every attempt, not only those that ran.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from sqlalchemy import func, select

from retroface.errors import AuthorisationError, InvalidInputError, NotFoundError
from retroface.governance import check_case_searchable
from retroface.governance.calibration_policy import check_operating_point_calibrated
from retroface.governance.case_policy import check_authorisation_covers
from retroface.governance.deployment_policy import check_threshold
from retroface.services.app import App
from retroface.services.biometrics.deletion import delete_probe_templates
from retroface.services.biometrics.gallery_index import active_subjects, load_gallery_index
from retroface.services.deployment.calibrations import calibrated_points
from retroface.services.deployment.decision_rule import decision_rule
from retroface.services.deployment.rules import SearchRules, search_rules
from retroface.services.results import CandidateOut, FileError, ProbeOut
from retroface.services.search.candidate_reuse import (
    existing_candidates,
    faces_found_only_rejected,
)
from retroface.services.search.ranking import RankedSubject
from retroface.store.models import (
    Authorisation,
    Candidate,
    CandidateFinding,
    Case,
    Comparison,
    Gallery,
    Search,
    Subject,
)
from retroface.store.unit_of_work import UnitOfWork

#: The status of a search or comparison that ended on an error: kept (and audited), not
#: counted against the authorisation nor in the transparency figures.
FAILED = "failed"

#: The longest candidate list any search may ask for (the API and the CLI check the same).
MAX_CANDIDATES_LIMIT = 50


def start_search(
    app: App,
    case_reference: str,
    gallery_name: str,
    threshold: float | None,
    cap: int,
    labels: dict[str, str],
    *,
    kind: str = "photos-and-footage",
    justification: str | None = None,
    face_choice: dict[str, Any] | None = None,
    probe: dict[str, Any] | None = None,
) -> tuple[str, float, bool]:
    """Check every gate, then create the search row; a refusal is audited and re-raised.

    Returns (search id, threshold used, whether to keep probe templates of
    faces without a lead until case closure). ``justification``: the operator's reason to
    search faces below the probe quality floor (recorded and audited). ``face_choice``:
    which face of the probe image was chosen, and how (faces/face_choice.py
    ``FaceChoice.parameters``: a number, a box, a mark, or every face with its reason),
    recorded and audited. ``probe``: what the operator said of the probe (its provenance:
    search/photos.py; stills fused as one person: search/fused_probe.py), recorded and audited.
    """
    now = app.now()
    requested = threshold
    try:
        with app.unit_of_work() as uow:
            gallery = uow.galleries.require(gallery_name)
            rules, threshold, case, auth = _pass_gate(uow, app, case_reference, threshold, gallery)
            _require_templates(uow, gallery)
            model = app.engine.model
            index = load_gallery_index(
                uow, app.settings.index_dir, gallery, model, app.settings.index_exact_max
            )
            # The gallery's size is the index's: the templates this search compares with,
            # the number the decision rule's bar is set for (search/photos.py). Counting
            # the gallery in SQL instead costs ~2 s at a million subjects on PostgreSQL.
            templates = len(index)
            subjects = active_subjects(uow, app.settings.index_dir, gallery)
            rule = decision_rule(
                app, uow, threshold, justification, fixed=requested is not None
            ).parameters()
            search_row = Search(
                id=str(uuid.uuid4()),
                case_id=case.id,
                gallery_id=gallery.id,
                gallery_version=gallery.version,
                threshold=threshold,
                max_candidates=cap,
                model_name=model.name,
                model_version=model.version,
                engine=app.engine_description,
                index_config=index.config,
                parameters={
                    "detector": app.engine_spec.detector,
                    "embedder": app.engine_spec.embedder,
                    "min_face_px": app.engine_spec.min_face_px,
                    "max_detect_pixels": app.engine_spec.max_detect_pixels,
                    "jitters": app.engine_spec.jitters,
                    "mirror": app.engine_spec.mirror,
                    "alignments": list(app.engine_spec.alignments),
                    "subject_score": "max over the subject's templates",
                    "kind": kind,
                    "gallery_templates": templates,
                    "index_segments": index.segments_read(),
                    **rule,
                    **({"face_choice": face_choice} if face_choice else {}),
                    **(probe or {}),
                },
                requested_by=app.actor,
                authorisation_id=auth.id,
                probe_labels=labels or None,
                started_at=now,
            )
            uow.session.add(search_row)
            app.audit(
                uow,
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
                engine=app.engine_description,
                target_fpir=rule["target_fpir"],
                decision_rule=rule["decision_rule"],
                low_quality_justification=rule["low_quality_justification"],
                **({"face_choice": face_choice} if face_choice else {}),
                **(probe or {}),
                dpia=rules.dpia.identifier if rules.dpia else None,
                eu_mode=rules.eu_mode,
            )
            uow.commit()
            return search_row.id, threshold, rules.probe_retention == "case-closure"
    except (AuthorisationError, NotFoundError, InvalidInputError) as exc:
        audit_search_refusal(app, case_reference, gallery_name, exc)
        raise


def _require_templates(uow: UnitOfWork, gallery: Gallery) -> None:
    """Refuse a search of a gallery with no template of an active subject: one indexed
    look-up for the first such row, not a count of the gallery."""
    if not uow.galleries.has_templates(gallery.id):
        raise NotFoundError(f"gallery {gallery.name!r} has no enrolled faces to search")


def check_search_allowed(
    app: App,
    case_reference: str,
    gallery_name: str,
    threshold: float | None,
    cap: int | None,
) -> None:
    """Every check :func:`start_search` makes, without creating the search: for a caller
    that must store the evidence before the search can start (an upload over HTTP), so
    that a search refused for its case, scope, count, gallery, floor or cap stores nothing.
    A refusal is audited as ``search.refused``, as start_search's is; start_search checks
    again when the search starts (the case may have changed in between)."""
    cap = app.settings.max_candidates if cap is None else cap
    if not 1 <= cap <= MAX_CANDIDATES_LIMIT:
        raise InvalidInputError(f"max_candidates must be 1..{MAX_CANDIDATES_LIMIT}, got {cap}")
    try:
        with app.unit_of_work() as uow:
            gallery = uow.galleries.require(gallery_name)
            _pass_gate(uow, app, case_reference, threshold, gallery)
            _require_templates(uow, gallery)
    except (AuthorisationError, NotFoundError, InvalidInputError) as exc:
        audit_search_refusal(app, case_reference, gallery_name, exc)
        raise


def start_comparison(app: App, case_reference: str, threshold: float | None) -> tuple[str, float]:
    """The gate for a 1:1 comparison, which is a search of one: the deployment's rules, an
    authorised case whose search count it uses, the threshold floor and a calibration that
    covers the model. Returns (comparison id, threshold used); a refusal is audited."""
    try:
        with app.unit_of_work() as uow:
            rules, threshold, case, auth = _pass_gate(uow, app, case_reference, threshold, None)
            model = app.engine.model
            row = Comparison(
                id=str(uuid.uuid4()),
                case_id=case.id,
                authorisation_id=auth.id,
                threshold=threshold,
                model_name=model.name,
                model_version=model.version,
                engine=app.engine_description,
                requested_by=app.actor,
                started_at=app.now(),
            )
            uow.session.add(row)
            app.audit(
                uow,
                action="comparison.started",
                object_type="comparison",
                object_id=row.id,
                case_reference=case.reference,
                authorisation_id=auth.id,
                threshold=threshold,
                threshold_floor=rules.threshold_floor,
                model=model.tag,
                engine=app.engine_description,
            )
            uow.commit()
            return row.id, threshold
    except (AuthorisationError, NotFoundError, InvalidInputError) as exc:
        audit_search_refusal(app, case_reference, None, exc)
        raise


def _pass_gate(
    uow: UnitOfWork,
    app: App,
    case_reference: str,
    threshold: float | None,
    gallery: Gallery | None,
) -> tuple[SearchRules, float, Case, Authorisation]:
    """Every check a search and a comparison share, in the order that opens no evidence."""
    now = app.now()
    rules = search_rules(uow, app.settings.threshold)
    rules.check_ready(now.date())
    threshold = check_threshold(
        max(app.settings.threshold, rules.threshold_floor) if threshold is None else threshold,
        rules.threshold_floor,
    )
    case = uow.cases.require(case_reference)
    auth = check_case_searchable(case, now)
    check_authorisation_covers(
        case, auth, gallery.name if gallery else None, searches_under(uow, auth.id)
    )
    check_operating_point_calibrated(
        app.engine.model.tag, rules.threshold_floor, calibrated_points(uow)
    )
    return rules, threshold, case, auth


def searches_under(uow: UnitOfWork, authorisation_id: int) -> int:
    """Searches and 1:1 comparisons run under an authorisation: what its count limits.

    A search that failed (a fault, not a use) is not counted; mistakes such as evidence
    that cannot be found or a subject that does not exist are refused before a search
    row exists, so they are not counted either.
    """
    searches = uow.session.scalar(
        select(func.count(Search.id)).where(
            Search.authorisation_id == authorisation_id, Search.status != FAILED
        )
    )
    comparisons = uow.session.scalar(
        select(func.count(Comparison.id)).where(
            Comparison.authorisation_id == authorisation_id, Comparison.status != FAILED
        )
    )
    return int(searches or 0) + int(comparisons or 0)


def audit_search_refusal(
    app: App,
    case_reference: str,
    gallery_name: str | None,
    exc: Exception,
    *,
    kind: str | None = None,
) -> None:
    """``kind``: what was refused (default: a search with a gallery, else a comparison)."""
    with app.unit_of_work() as uow:
        app.audit(
            uow,
            action="search.refused",
            object_type="case",
            object_id=case_reference,
            case_reference=case_reference,
            gallery=gallery_name,
            kind=kind or ("search" if gallery_name is not None else "comparison"),
            reason=str(exc),
        )
        uow.commit()


def record_candidates(
    uow: UnitOfWork, search_id: str, face_id: int, ranked: Sequence[RankedSubject]
) -> list[CandidateOut]:
    """Record one probe face's (or sighting's best view's) ranked subjects, in rank order,
    and return them as shown to people.

    One candidate per (face or sighting, subject) within a case: where an earlier search
    of the same evidence already made the candidate (search/candidate_reuse.py), it is
    reused, reviews and all, and only this search's finding (rank, score) is added; so a
    repeated search never puts the same lead before reviewers twice."""
    names: dict[int, Subject] = uow.subjects.by_ids([r.subject_id for r in ranked])
    existing = existing_candidates(uow, search_id, face_id, [r.subject_id for r in ranked])
    out: list[CandidateOut] = []
    for rank, hit in enumerate(ranked, start=1):
        row = existing.get(hit.subject_id)
        reused = row is not None
        if row is None:
            row = Candidate(
                search_id=search_id,
                face_id=face_id,
                subject_id=hit.subject_id,
                template_id=hit.template_id,
                rank=rank,
                score=hit.score,
            )
            uow.session.add(row)
            uow.flush()
        uow.session.add(
            CandidateFinding(
                candidate_id=row.id,
                search_id=search_id,
                face_id=face_id,
                rank=rank,
                score=hit.score,
                reused=reused,
            )
        )
        out.append(
            CandidateOut(
                candidate_id=row.id,
                rank=rank,
                subject=names[hit.subject_id].name,
                subject_id=hit.subject_id,
                score=round(hit.score, 4),
                reused=reused,
            )
        )
    uow.flush()
    return out


def reused_in_search(uow: UnitOfWork, search_id: str) -> int:
    """How many of a search's findings reused a candidate an earlier search had made."""
    return int(
        uow.session.scalar(
            select(func.count(CandidateFinding.id)).where(
                CandidateFinding.search_id == search_id, CandidateFinding.reused.is_(True)
            )
        )
        or 0
    )


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
            uow,
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
            # One candidate per (face or sighting, subject): those found again, reused
            # with their reviews rather than duplicated.
            candidates_reused=reused_in_search(uow, search_id),
            errors=len(errors),
        )
        _drop_probes_of_rejected_leads(app, uow, search_id, case_reference)
        uow.commit()


def _drop_probes_of_rejected_leads(
    app: App, uow: UnitOfWork, search_id: str, case_reference: str
) -> None:
    """A repeated search's faces whose every candidate was reused and already stands
    rejected keep no probe template (data minimisation, as at review)."""
    faces = faces_found_only_rejected(uow, search_id)
    deleted = delete_probe_templates(uow, faces)
    if deleted:
        app.audit(
            uow,
            action="probe.deleted",
            object_type="search",
            object_id=search_id,
            case_reference=case_reference,
            reason="every candidate of the face was reviewed as no match in an earlier search",
            face_ids=faces,
            templates_deleted=deleted,
        )


@contextmanager
def failed_on_error(app: App, search_id: str, case_reference: str) -> Iterator[None]:
    """End a started search as ``failed`` (audited ``search.failed``, the error's type only)
    when its work raises, so no search is left ``running`` for ever."""
    try:
        yield
    except BaseException as exc:
        with app.unit_of_work() as uow:
            row = uow.session.get(Search, search_id)
            if row is not None and row.status == "running":
                row.status, row.finished_at = FAILED, app.now()
                app.audit(
                    uow,
                    action="search.failed",
                    object_type="search",
                    object_id=search_id,
                    case_reference=case_reference,
                    error=type(exc).__name__,
                )
                uow.commit()
        raise
