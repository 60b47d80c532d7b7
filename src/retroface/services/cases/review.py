"""Human review of candidates: the queue a reviewer works through, and their decisions.

Reading the queue is a read of biometric data, so it is audited; a decision
is a new row (never an edit) audited with the EU AI Act Art 12(3)(d) field
"who verified it". When every candidate of a probe face has been judged a
non-match, that face's probe template is deleted in the same transaction.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

from sqlalchemy import select

from retroface.errors import AuthorisationError, InvalidInputError, NotFoundError
from retroface.governance.identity import Principal
from retroface.governance.review_policy import candidate_status, check_outcome, check_reviewer
from retroface.governance.roles import Action, Role
from retroface.services.app import App
from retroface.services.biometrics.deletion import delete_probe_templates
from retroface.services.results import CandidateReview, ReviewOut
from retroface.store.models import (
    Candidate,
    Case,
    Face,
    Gallery,
    MediaItem,
    Review,
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
            query = query.where(Search.id == search_id)
        rows = uow.session.execute(query.order_by(Search.started_at, Face.id, Candidate.rank)).all()
        reviews = _reviews_of(uow, [r[0].id for r in rows])
        if pending_only:
            rows = [
                r
                for r in rows
                if candidate_status((v.reviewer, v.outcome) for v in reviews[r[0].id]) in PENDING
            ]
        out = [_out(row, reviews[row[0].id], app.principal, app.settings.home) for row in rows]
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
            row, _reviews_of(uow, [candidate_id])[candidate_id], app.principal, app.settings.home
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


def record_review(app: App, candidate_id: int, outcome: str, reason: str) -> CandidateReview:
    reviewer = app.require(
        Action.REVIEW_DECIDE, case_reference=_case_of_candidate(app, candidate_id)
    )
    outcome, reason = check_outcome(outcome, reason)
    _check_may_review(app, reviewer.username, candidate_id)
    with app.unit_of_work() as uow:
        row = uow.session.execute(_joined().where(Candidate.id == candidate_id)).first()
        if row is None:
            raise NotFoundError(f"no candidate {candidate_id}")
        candidate, face, _, search, case, _, _ = row
        if case.status != "open":
            raise InvalidInputError(f"case {case.reference} is {case.status}; reviews are closed")
        uow.session.add(
            Review(
                candidate_id=candidate.id,
                search_id=search.id,
                reviewer=reviewer.username,
                outcome=outcome,
                reason=reason,
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
            status=status,
        )
        _drop_template_if_all_rejected(app, uow, face, case.reference)
        uow.commit()
        return _out(row, reviews, reviewer, app.settings.home)


def _check_may_review(app: App, username: str, candidate_id: int) -> None:
    """Training on record and not the searcher; a refusal is audited in its own transaction."""
    with app.unit_of_work() as uow:
        found = uow.session.execute(
            select(Search.requested_by, Case.reference)
            .join(Candidate, Candidate.search_id == Search.id)
            .join(Case, Search.case_id == Case.id)
            .where(Candidate.id == candidate_id)
        ).first()
        trained_on = uow.session.scalar(
            select(User.training_completed_on).where(User.username == username)
        )
    if found is None:
        raise NotFoundError(f"no candidate {candidate_id}")
    requested_by, case_reference = found
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


def _drop_template_if_all_rejected(app: App, uow: UnitOfWork, face: Face, case_ref: str) -> None:
    """Reviewed non-matches are deleted at review (their probe template; the face row stays)."""
    ids = list(uow.session.scalars(select(Candidate.id).where(Candidate.face_id == face.id)))
    reviews = _reviews_of(uow, ids)
    if all(
        candidate_status((r.reviewer, r.outcome) for r in reviews[i]) == "no-match" for i in ids
    ):
        deleted = delete_probe_templates(uow, [face.id])
        if deleted:
            app.audit(
                uow,
                action="probe.deleted",
                object_type="face",
                object_id=face.id,
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


#: Standings that still need a reviewer's decision.
PENDING = frozenset({"unreviewed", "possible-match", "disputed"})
#: What a reviewer who has not yet decided sees instead of the standing (which would tell
#: them the first reviewer's outcome).
AWAITING_YOU = "awaiting your independent decision"


def _out(  # type: ignore[type-arg]
    row: tuple, reviews: list[Review], viewer: Principal | None, home: Path
) -> CandidateReview:
    """The candidate as ``viewer`` may see it.

    A second opinion is only a check if it is independent (EU AI Act Art 14(5):
    verified separately by two people; automation and anchoring bias): a reviewer
    sees no earlier decision, reason or standing on a candidate until they have
    recorded their own. Supervisors and auditors see everything.
    """
    candidate, face, media, search, case, subject, gallery = row
    status = candidate_status((r.reviewer, r.outcome) for r in reviews)
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
        model=f"{search.model_name}@{search.model_version}",
        searched_by=search.requested_by,
        status=status,
        reviews=[
            ReviewOut(reviewer=r.reviewer, outcome=r.outcome, reason=r.reason, at=r.created_at)
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
