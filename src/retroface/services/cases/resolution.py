"""Disagreement between reviewers goes to a supervisor, who resolves it.

Two trained reviewers who disagree on a candidate leave it ``disputed``
(governance/review_policy.py::candidate_status). Nobody may act on a disputed lead, and
asking more reviewers until two agree would be opinion shopping. So the dispute goes to
a supervisor (College of Policing APP: a supervisor oversees the use of facial
recognition), who must be a third person: neither the operator who ran the search nor
one of the reviewers. The supervisor records a resolution (possible match, no match or
inconclusive, with a reason); it is the candidate's final standing, and closes its review.

EU AI Act Art 14(5) (no action unless verified by two people) stays true: a
``possible-match`` resolution confirms the candidate only together with a reviewer who
also said possible match; a supervisor who alone sees a match leaves it
``possible-match-by-supervisor``, not confirmed.

Every read of the queue and every resolution is audited (``candidates.viewed``,
``review.resolved``); a refused resolution is ``access.refused``.
"""

from __future__ import annotations

from pydantic import BaseModel
from sqlalchemy import select

from retroface.errors import AuthorisationError, InvalidInputError, NotFoundError
from retroface.governance.case_access import on_case_team
from retroface.governance.review_policy import (
    candidate_status,
    check_outcome,
    check_resolver,
    resolved_status,
)
from retroface.governance.roles import Action
from retroface.services.app import App
from retroface.services.cases.review import (
    _case_of_candidate,
    _joined,
    _out,
    _reviews_of,
    _searches_finding,
    drop_templates_if_all_rejected,
    resolutions_of,
    searcher_and_case,
)
from retroface.services.results import CandidateReview
from retroface.store.models import Candidate, Case, Review, ReviewResolution


class DisputedCandidate(BaseModel):
    """A disputed candidate in a supervisor's queue, and whether this supervisor may resolve
    it (not if they ran its search or reviewed it: another supervisor must)."""

    candidate: CandidateReview
    may_resolve: bool
    why_not: str | None = None


def disputed_queue(app: App, *, case_reference: str | None = None) -> list[DisputedCandidate]:
    """Every disputed candidate not yet resolved, in the open cases on this supervisor's
    team (need to know), oldest dispute first. Each appears once (a repeated search
    reuses candidates). The read is audited."""
    supervisor = app.require(Action.REVIEW_RESOLVE, case_reference=case_reference)
    with app.unit_of_work() as uow:
        disputed_ids = select(Review.candidate_id).distinct()
        query = (
            _joined()
            .where(Case.status == "open", Candidate.id.in_(disputed_ids))
            .where(~Candidate.id.in_(select(ReviewResolution.candidate_id)))
        )
        if case_reference is not None:
            query = query.where(Case.reference == case_reference)
        rows = uow.session.execute(query.order_by(Candidate.id)).all()
        ids = [r[0].id for r in rows]
        reviews = _reviews_of(uow, ids)
        teams: dict[str, bool] = {}
        chosen = []
        for row in rows:
            candidate, case = row[0], row[4]
            if candidate_status((r.reviewer, r.outcome) for r in reviews[candidate.id]) != (
                "disputed"
            ):
                continue
            if case.reference not in teams:
                teams[case.reference] = on_case_team(supervisor, app.case_team(uow, case))
            if teams[case.reference]:
                chosen.append(row)
        found_by = _searches_finding(uow, [r[0].id for r in chosen])
        out = []
        for row in chosen:
            candidate, search = row[0], row[3]
            review_rows = reviews[candidate.id]
            why_not = _why_not(supervisor.username, search.requested_by, review_rows)
            out.append(
                DisputedCandidate(
                    candidate=_out(
                        row,
                        review_rows,
                        supervisor,
                        app.settings.home,
                        None,
                        found_by[candidate.id],
                    ),
                    may_resolve=why_not is None,
                    why_not=why_not,
                )
            )
        out.sort(key=lambda d: max(r.at for r in d.candidate.reviews))  # oldest dispute first
        app.audit(
            uow,
            action="candidates.viewed",
            object_type="disputed-queue",
            object_id=case_reference or "",
            case_reference=case_reference,
            candidates=[d.candidate.candidate_id for d in out],
        )
        uow.commit()
        return out


def resolve_review(app: App, candidate_id: int, outcome: str, reason: str) -> CandidateReview:
    """Record the acting supervisor's resolution of a disputed candidate: its final standing
    (``confirmed``, ``possible-match-by-supervisor``, ``rejected-by-supervisor`` or
    ``inconclusive-by-supervisor``), audited as ``review.resolved``."""
    supervisor = app.require(
        Action.REVIEW_RESOLVE, case_reference=_case_of_candidate(app, candidate_id)
    )
    outcome, reason = check_outcome(outcome, reason)
    _check_may_resolve(app, supervisor.username, candidate_id)
    with app.unit_of_work() as uow:
        row = uow.session.execute(_joined().where(Candidate.id == candidate_id)).first()
        if row is None:
            raise NotFoundError(f"no candidate {candidate_id}")
        candidate, _, _, search, case, _, _ = row
        if case.status != "open":
            raise InvalidInputError(f"case {case.reference} is {case.status}; reviews are closed")
        if resolutions_of(uow, [candidate.id]):
            raise InvalidInputError(f"candidate {candidate.id} is already resolved")
        reviews = _reviews_of(uow, [candidate.id])[candidate.id]
        decided = [(r.reviewer, r.outcome) for r in reviews]
        resolution = ReviewResolution(
            candidate_id=candidate.id,
            supervisor=supervisor.username,
            outcome=outcome,
            reason=reason,
            status=resolved_status(outcome, decided),
            created_at=app.now(),
        )
        uow.session.add(resolution)
        uow.flush()
        app.audit(
            uow,
            action="review.resolved",
            object_type="candidate",
            object_id=candidate.id,
            case_reference=case.reference,
            search_id=search.id,
            subject_id=candidate.subject_id,
            outcome=outcome,
            reason=reason,
            status=resolution.status,
            # Who disagreed, and what each said last: the two-person rule is checkable.
            reviews={r: o for r, o in decided},
        )
        drop_templates_if_all_rejected(app, uow, candidate.id, case.reference)
        uow.commit()
        return _out(
            row,
            reviews,
            supervisor,
            app.settings.home,
            resolution,
            _searches_finding(uow, [candidate.id])[candidate.id],
        )


def _why_not(supervisor: str, requester: str, reviews: list[Review]) -> str | None:
    """Why this supervisor may not resolve the candidate (None: they may)."""
    try:
        check_resolver(supervisor, requester, [r.reviewer for r in reviews], "disputed")
    except AuthorisationError as exc:
        return str(exc)
    return None


def _check_may_resolve(app: App, username: str, candidate_id: int) -> None:
    """Disputed now, a third person; a refusal by person is audited in its own transaction."""
    with app.unit_of_work() as uow:
        requested_by, case_reference = searcher_and_case(uow, candidate_id)
        decided = [(r.reviewer, r.outcome) for r in _reviews_of(uow, [candidate_id])[candidate_id]]
        resolution = resolutions_of(uow, [candidate_id]).get(candidate_id)
        if resolution is not None:
            raise InvalidInputError(
                f"candidate {candidate_id} is already resolved by {resolution.supervisor} "
                f"({resolution.status})"
            )
    status = candidate_status(decided)
    try:
        check_resolver(username, requested_by, [r for r, _ in decided], status)
    except AuthorisationError as exc:
        app.audit_refusal(Action.REVIEW_RESOLVE, str(exc), case_reference)
        raise
