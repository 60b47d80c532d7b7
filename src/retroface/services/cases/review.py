"""Human review of candidates: the queue a reviewer works through, and their decisions.

Reading the queue is a read of biometric data, so it is audited; a decision
is a new row (never an edit) audited with the EU AI Act Art 12(3)(d) field
"who verified it". When every candidate of a probe face has been judged a
non-match, that face's probe template is deleted in the same transaction.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sqlalchemy import ColumnElement, select

from retroface.errors import AuthorisationError, InvalidInputError, NotFoundError
from retroface.governance.identity import Principal
from retroface.governance.review_policy import (
    RESOLVED_NO_MATCH,
    candidate_status,
    check_notes,
    check_outcome,
    check_reviewer,
)
from retroface.governance.roles import Action, Role
from retroface.media.enhancement import steps_of
from retroface.services.app import App
from retroface.services.biometrics.deletion import delete_probe_templates
from retroface.services.results import CandidateReview, ResolutionOut, ReviewOut
from retroface.store.models import (
    Candidate,
    CandidateFinding,
    Case,
    Face,
    Gallery,
    MediaItem,
    Review,
    ReviewResolution,
    Search,
    Subject,
    User,
)
from retroface.store.unit_of_work import UnitOfWork

_ROW = (Candidate, Face, MediaItem, Search, Case, Subject, Gallery)


def review_queue(
    app: App,
    *,
    case_reference: str | None = None,
    search_id: str | None = None,
    pending_only: bool = False,
) -> list[CandidateReview]:
    """Candidates with their reviews, best first within each probe face."""
    if case_reference is None and search_id is None:
        app.require(Action.REVIEW_READ)
        raise InvalidInputError("name a case (--case) or a search (--search) to review")
    app.require(
        Action.REVIEW_READ, case_reference=case_reference or _case_of_search(app, search_id)
    )
    with app.unit_of_work() as uow:
        query = _joined()
        if case_reference is not None:
            query = query.where(Case.reference == case_reference)
        if search_id is not None:
            # A repeated search reuses the candidates of the same evidence: its candidates
            # are those it found, made by it or earlier (each listed once).
            query = query.where(Candidate.id.in_(_found_by(search_id)))
        rows = uow.session.execute(query.order_by(Search.started_at, Face.id, Candidate.rank)).all()
        ids = [r[0].id for r in rows]
        reviews, resolutions = _reviews_of(uow, ids), resolutions_of(uow, ids)
        if pending_only:
            rows = [
                r for r in rows if standing(reviews[r[0].id], resolutions.get(r[0].id)) in PENDING
            ]
        found_by = _searches_finding(uow, [r[0].id for r in rows])
        out = [
            _out(
                row,
                reviews[row[0].id],
                app.principal,
                app.settings.home,
                resolutions.get(row[0].id),
                found_by[row[0].id],
            )
            for row in rows
        ]
        app.audit(
            uow,
            action="candidates.viewed",
            object_type="search" if search_id else "case",
            object_id=search_id or case_reference or "",
            case_reference=case_reference,
            candidates=[c.candidate_id for c in out],
        )
        uow.commit()
        return out


def show_candidate(app: App, candidate_id: int) -> CandidateReview:
    """One candidate as a reviewer sees it (an audited read, like the queue)."""
    app.require(Action.REVIEW_READ, case_reference=_case_of_candidate(app, candidate_id))
    with app.unit_of_work() as uow:
        row = uow.session.execute(_joined().where(Candidate.id == candidate_id)).first()
        if row is None:
            raise NotFoundError(f"no candidate {candidate_id}")
        out = _out(
            row,
            _reviews_of(uow, [candidate_id])[candidate_id],
            app.principal,
            app.settings.home,
            resolutions_of(uow, [candidate_id]).get(candidate_id),
            _searches_finding(uow, [candidate_id])[candidate_id],
        )
        app.audit(
            uow,
            action="candidates.viewed",
            object_type="candidate",
            object_id=candidate_id,
            case_reference=out.case,
            candidates=[candidate_id],
        )
        uow.commit()
        return out


def record_review(
    app: App,
    candidate_id: int,
    outcome: str,
    reason: str,
    notes: Mapping[str, str] | None = None,
) -> CandidateReview:
    """Record a reviewer's decision. ``notes``: the structured comparison, feature → finding
    (governance/review_policy.py::check_notes), stored and audited with the decision."""
    reviewer = app.require(
        Action.REVIEW_DECIDE, case_reference=_case_of_candidate(app, candidate_id)
    )
    outcome, reason = check_outcome(outcome, reason)
    checked_notes = check_notes(notes)
    _check_may_review(app, reviewer.username, candidate_id)
    with app.unit_of_work() as uow:
        row = uow.session.execute(_joined().where(Candidate.id == candidate_id)).first()
        if row is None:
            raise NotFoundError(f"no candidate {candidate_id}")
        candidate, _, _, search, case, _, _ = row
        if case.status != "open":
            raise InvalidInputError(f"case {case.reference} is {case.status}; reviews are closed")
        resolved = resolutions_of(uow, [candidate.id]).get(candidate.id)
        if resolved is not None:
            raise InvalidInputError(
                f"candidate {candidate.id} was resolved by supervisor {resolved.supervisor} "
                f"({resolved.status}); its review is closed"
            )
        before = candidate_status(
            (r.reviewer, r.outcome) for r in _reviews_of(uow, [candidate.id])[candidate.id]
        )
        uow.session.add(
            Review(
                candidate_id=candidate.id,
                search_id=search.id,
                reviewer=reviewer.username,
                outcome=outcome,
                reason=reason,
                notes=checked_notes,
                created_at=app.now(),
            )
        )
        uow.flush()
        reviews = _reviews_of(uow, [candidate.id])[candidate.id]
        status = candidate_status((r.reviewer, r.outcome) for r in reviews)
        app.audit(
            uow,
            action="candidate.reviewed",
            object_type="candidate",
            object_id=candidate.id,
            case_reference=case.reference,
            search_id=search.id,
            subject_id=candidate.subject_id,
            score=round(candidate.score, 4),
            outcome=outcome,
            reason=reason,
            notes=checked_notes,
            status=status,
        )
        if status == "disputed" and before != "disputed":
            # Two reviewers disagree: the candidate goes to a supervisor's queue.
            app.audit(
                uow,
                action="review.disputed",
                object_type="candidate",
                object_id=candidate.id,
                case_reference=case.reference,
                search_id=search.id,
                reviewers=sorted({r.reviewer for r in reviews}),
            )
        drop_templates_if_all_rejected(app, uow, candidate.id, case.reference)
        uow.commit()
        return _out(
            row,
            reviews,
            reviewer,
            app.settings.home,
            None,
            _searches_finding(uow, [candidate.id])[candidate.id],
        )


def searcher_and_case(uow: UnitOfWork, candidate_id: int) -> tuple[str, str]:
    """(who ran the search that made the candidate, its case's reference): what the
    two-person rules check a reviewer or resolver against."""
    found = uow.session.execute(
        select(Search.requested_by, Case.reference)
        .join(Candidate, Candidate.search_id == Search.id)
        .join(Case, Search.case_id == Case.id)
        .where(Candidate.id == candidate_id)
    ).first()
    if found is None:
        raise NotFoundError(f"no candidate {candidate_id}")
    return str(found[0]), str(found[1])


def _check_may_review(app: App, username: str, candidate_id: int) -> None:
    """Training on record and not the searcher; a refusal is audited in its own transaction."""
    with app.unit_of_work() as uow:
        requested_by, case_reference = searcher_and_case(uow, candidate_id)
        trained_on = uow.session.scalar(
            select(User.training_completed_on).where(User.username == username)
        )
    try:
        check_reviewer(
            username,
            trained_on,
            requested_by,
            today=app.now().date(),
            training_valid_days=app.settings.reviewer_training_valid_days,
        )
    except AuthorisationError as exc:
        app.audit_refusal(Action.REVIEW_DECIDE, str(exc), case_reference)
        raise


def drop_templates_if_all_rejected(
    app: App, uow: UnitOfWork, candidate_id: int, case_ref: str
) -> None:
    """Reviewed non-matches are deleted at review (their probe template; the face row stays).

    Every probe face that found this candidate (the face that made it, and the faces of
    repeated searches of the same evidence) loses its template once all the candidates it
    found stand rejected: reviewed as no match, or rejected by a supervisor."""
    faces = set(
        uow.session.scalars(
            select(CandidateFinding.face_id).where(CandidateFinding.candidate_id == candidate_id)
        )
    ) | set(uow.session.scalars(select(Candidate.face_id).where(Candidate.id == candidate_id)))
    for face_id in sorted(faces):
        ids = sorted(
            set(uow.session.scalars(select(Candidate.id).where(Candidate.face_id == face_id)))
            | set(
                uow.session.scalars(
                    select(CandidateFinding.candidate_id).where(CandidateFinding.face_id == face_id)
                )
            )
        )
        reviews, resolutions = _reviews_of(uow, ids), resolutions_of(uow, ids)
        if not all(standing(reviews[i], resolutions.get(i)) in REJECTED for i in ids):
            continue
        deleted = delete_probe_templates(uow, [face_id])
        if deleted:
            app.audit(
                uow,
                action="probe.deleted",
                object_type="face",
                object_id=face_id,
                case_reference=case_ref,
                reason="every candidate reviewed as no match",
                templates_deleted=deleted,
            )


def _joined():  # type: ignore[no-untyped-def]
    return (
        select(*_ROW)
        .join(Face, Candidate.face_id == Face.id)
        .join(MediaItem, Face.media_item_id == MediaItem.id)
        .join(Search, Candidate.search_id == Search.id)
        .join(Case, Search.case_id == Case.id)
        .join(Subject, Candidate.subject_id == Subject.id)
        .join(Gallery, Search.gallery_id == Gallery.id)
    )


def _reviews_of(uow: UnitOfWork, candidate_ids: list[int]) -> dict[int, list[Review]]:
    found: dict[int, list[Review]] = defaultdict(list)
    if candidate_ids:
        for review in uow.session.scalars(
            select(Review).where(Review.candidate_id.in_(candidate_ids)).order_by(Review.id)
        ):
            found[review.candidate_id].append(review)
    return found


def resolutions_of(uow: UnitOfWork, candidate_ids: list[int]) -> dict[int, ReviewResolution]:
    """Candidate id → its supervisor's resolution, where one was recorded."""
    if not candidate_ids:
        return {}
    return {
        r.candidate_id: r
        for r in uow.session.scalars(
            select(ReviewResolution).where(ReviewResolution.candidate_id.in_(candidate_ids))
        )
    }


def standing(reviews: list[Review], resolution: ReviewResolution | None) -> str:
    """A candidate's standing: the supervisor's resolution where one was recorded (final),
    otherwise what its reviewers' latest decisions make it."""
    if resolution is not None:
        return resolution.status
    return candidate_status((r.reviewer, r.outcome) for r in reviews)


def _found_by(search_id: str):  # type: ignore[no-untyped-def]
    """The ids of the candidates a search found (made, or reused from an earlier search)."""
    return select(CandidateFinding.candidate_id).where(CandidateFinding.search_id == search_id)


def _searches_finding(uow: UnitOfWork, candidate_ids: list[int]) -> dict[int, list[str]]:
    """Candidate id → the searches that found it, oldest first."""
    found: dict[int, list[str]] = defaultdict(list)
    if candidate_ids:
        for candidate_id, search_id in uow.session.execute(
            select(CandidateFinding.candidate_id, CandidateFinding.search_id)
            .where(CandidateFinding.candidate_id.in_(candidate_ids))
            .order_by(CandidateFinding.id)
        ):
            if search_id not in found[candidate_id]:
                found[candidate_id].append(search_id)
    return found


#: Standings that still need a reviewer's decision.
PENDING = frozenset({"unreviewed", "possible-match", "disputed"})
#: Standings that reject a candidate (its probe template may go).
REJECTED = frozenset({"no-match", RESOLVED_NO_MATCH})
#: What a reviewer who has not yet decided sees instead of the standing (which would tell
#: them the first reviewer's outcome).
AWAITING_YOU = "awaiting your independent decision"


def _out(  # type: ignore[type-arg]
    row: tuple,
    reviews: list[Review],
    viewer: Principal | None,
    home: Path,
    resolution: ReviewResolution | None = None,
    found_by: list[str] | None = None,
) -> CandidateReview:
    """The candidate as ``viewer`` may see it.

    A second opinion is only a check if it is independent (EU AI Act Art 14(5):
    verified separately by two people; automation and anchoring bias): a reviewer
    sees no earlier decision, reason or standing on a candidate until they have
    recorded their own. Supervisors and auditors see everything.
    """
    candidate, face, media, search, case, subject, gallery = row
    status = standing(reviews, resolution)
    blind = (
        viewer is not None
        and viewer.role is Role.REVIEWER
        and status in PENDING
        and viewer.username.casefold() not in {r.reviewer.casefold() for r in reviews}
    )
    if blind:
        status, reviews = AWAITING_YOU, []
    return CandidateReview(
        candidate_id=candidate.id,
        search_id=search.id,
        case=case.reference,
        gallery=gallery.name,
        gallery_version=search.gallery_version,
        source=shown_source(media.source_path, home),
        sha256=media.sha256,
        frame=face.frame_index,
        timestamp_s=face.timestamp_s,
        duration_s=media.duration_s,
        box=face.box,
        probe_quality=round(face.quality, 3),
        subject=subject.name,
        subject_id=subject.id,
        record_id=subject.external_ref,
        rank=candidate.rank,
        score=round(candidate.score, 4),
        threshold=search.threshold,
        **decision_shown(face.decision),
        marked_by=face.marked_by,
        enhancement=steps_of(media.enhancement) if media.enhancement else None,
        source_type=media.source_type,
        supplied_by=media.supplied_by,
        probe_parts=face.fused_parts,
        model=f"{search.model_name}@{search.model_version}",
        searched_by=search.requested_by,
        status=status,
        resolution=(
            ResolutionOut(
                supervisor=resolution.supervisor,
                outcome=resolution.outcome,
                reason=resolution.reason,
                status=resolution.status,
                at=resolution.created_at,
            )
            if resolution is not None
            else None
        ),
        found_by_searches=found_by or [search.id],
        reviews=[
            ReviewOut(
                reviewer=r.reviewer,
                outcome=r.outcome,
                reason=r.reason,
                at=r.created_at,
                notes=r.notes,
            )
            for r in reviews
        ],
    )


def decision_shown(decision: dict[str, Any] | None) -> dict[str, Any]:
    """What a reviewer is shown of the probe's decision (faces.decision)."""
    if not decision:
        return {}
    warning = None
    if decision.get("low_quality"):
        warning = "low-quality probe, searched on a recorded justification: " + "; ".join(
            decision.get("reasons") or []
        )
    return {
        "bar": decision.get("threshold"),
        "expected_fpir": decision.get("expected_fpir"),
        "gallery_templates": decision.get("gallery_templates"),
        "probe_warning": warning,
    }


def shown_source(source_path: str, home: Path) -> str:
    """The evidence file as a person is shown it: their own path for a file they named, only
    the file's name for an upload kept inside the data directory (server paths stay there)."""
    path = Path(source_path)
    try:
        inside = path.resolve().is_relative_to(home.resolve())
    except OSError:
        inside = False
    return path.name if inside else source_path


def _case_of_search(app: App, search_id: str | None) -> str | None:
    """The case a search ran under, so need to know is checked before its candidates are read."""
    with app.unit_of_work() as uow:
        return uow.session.scalar(
            select(Case.reference)
            .join(Search, Search.case_id == Case.id)
            .where(Search.id == search_id)
        )


def _case_of_candidate(app: App, candidate_id: int) -> str | None:
    with app.unit_of_work() as uow:
        return uow.session.scalar(
            select(Case.reference)
            .join(Search, Search.case_id == Case.id)
            .join(Candidate, Candidate.search_id == Search.id)
            .where(Candidate.id == candidate_id)
        )


def candidates_shown(
    uow: UnitOfWork,
    viewer: Principal | None,
    home: Path,
    *conditions: ColumnElement[bool],
    search_id: str | None = None,
) -> list[CandidateReview]:
    """The candidates that meet ``conditions`` (on the candidate, face, media, search, case,
    subject or gallery) and, with ``search_id``, that search found (made or reused), oldest
    first (by search, face, rank), each as ``viewer`` may see it: blind to earlier decisions
    until they decide. For the workbench's pages (services/cases/workbench.py); no
    permission check and no audit: callers do both."""
    query = _joined().where(*conditions)
    if search_id is not None:
        query = query.where(Candidate.id.in_(_found_by(search_id)))
    rows = uow.session.execute(query.order_by(Search.started_at, Face.id, Candidate.rank)).all()
    ids = [r[0].id for r in rows]
    reviews, resolutions = _reviews_of(uow, ids), resolutions_of(uow, ids)
    found_by = _searches_finding(uow, ids)
    return [
        _out(row, reviews[i], viewer, home, resolutions.get(i), found_by[i])
        for row in rows
        for i in (row[0].id,)
    ]
