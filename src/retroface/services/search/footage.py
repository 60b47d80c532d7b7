"""Search footage by sighting: candidates per appearance, and a timeline for one person.

Sightings (see faces/tracking.py) are searched with their fused templates,
so a ten-second appearance is one probe with one candidate list and a time
range, not fifty frames to review. Candidates reference the sighting's best
view (a ``faces`` row), so review, retention and statistics treat them like
candidates from photos. Sighting templates stay with the case (they are what
``video find`` and clustering read) and go when the case closes.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import timedelta

import numpy as np
from sqlalchemy import select

from retroface.errors import InvalidInputError, NotFoundError
from retroface.governance.roles import Action
from retroface.index import AnyIndex
from retroface.services.app import App
from retroface.services.biometrics.sighting_templates import (
    case_video_media,
    sighting_vectors,
    views_agreement,
)
from retroface.services.deployment.decision_rule import (
    DecisionRule,
    probe_decision_fields,
)
from retroface.services.results import (
    AppearanceOut,
    ProbeOut,
    TimelineReport,
)
from retroface.services.search.decision import decide_and_rank
from retroface.services.search.gate import (
    audit_search_refusal,
    check_search_allowed,
    failed_on_error,
    finish_search,
    record_candidates,
    start_search,
)
from retroface.services.search.ranking import RankedSubject
from retroface.store.models import SearchFaceDecision, Template
from retroface.store.unit_of_work import UnitOfWork


def match_sightings(
    app: App,
    uow: UnitOfWork,
    search_id: str,
    media_ids: Sequence[int],
    job_id: str | None,
    index: AnyIndex,
    rule: DecisionRule,
    cap: int,
    *,
    only: Collection[int] | None = None,
) -> list[ProbeOut]:
    """Rank every sighting of the media (from one ingest job) against the gallery; store and
    return the candidates. A sighting whose best view is too poor to search reliably stays
    on the timeline but is not searched (unless the search carries a justification).
    ``only``: the sightings the operator chose (search/sightings.py); the others are not
    searched."""
    probes: list[ProbeOut] = []
    model_name = app.engine.model.name
    for sighting, face, media, vector in sighting_vectors(uow, media_ids, model_name, job_id):
        if only is not None and sighting.id not in only:
            continue
        decision, ranked = decide_and_rank(
            rule,
            uow,
            index,
            vector,
            face.quality,
            face.quality_parts,
            cap,
            views_agreement(sighting),
        )
        face.decision = decision.record()  # the latest search's; each search's is kept too
        uow.session.add(
            SearchFaceDecision(search_id=search_id, face_id=face.id, decision=face.decision)
        )
        candidates = record_candidates(uow, search_id, face.id, ranked)
        probes.append(
            ProbeOut(
                source=media.source_path,
                frame=face.frame_index,
                box=face.box,
                quality=round(face.quality, 3),
                sighting_id=sighting.id,
                first_s=round(sighting.first_s, 3),
                last_s=round(sighting.last_s, 3),
                candidates=candidates,
                source_type=media.source_type,
                supplied_by=media.supplied_by,
                **probe_decision_fields(decision),
            )
        )
    return probes


def find_person(
    app: App,
    case_reference: str,
    gallery_name: str,
    subject_name: str,
    *,
    threshold: float | None = None,
) -> TimelineReport:
    """Where and when a gallery subject appears across the case's ingested footage.

    Runs as a search (same gates, counted against the authorisation, audited)
    whose candidates are the subject's appearances, so each goes to review.
    """
    app.require(Action.SEARCH_RUN, case_reference=case_reference)
    model = app.engine.model
    # Every mistake (no footage, no such subject, a removed one) is refused before a search
    # row exists: such an attempt reads no evidence and uses none of the authorised searches.
    check_search_allowed(app, case_reference, gallery_name, threshold, 1)
    try:
        with app.unit_of_work() as uow:
            _case_media(uow, case_reference)
            gallery = uow.galleries.require(gallery_name)
            subject = uow.subjects.require(gallery, subject_name)
            if subject.removed_at is not None:
                raise InvalidInputError(f"{subject_name!r} is removed from {gallery_name!r}")
            subject_id = subject.id
            references = [
                (t.id, uow.templates.vector_of(t.face_id, t.vector))
                for t in uow.session.scalars(
                    select(Template).where(
                        Template.subject_id == subject.id, Template.model_name == model.name
                    )
                )
            ]
            if not references:
                raise NotFoundError(f"{subject_name!r} has no template for model {model.tag}")
    except (NotFoundError, InvalidInputError) as exc:
        audit_search_refusal(app, case_reference, gallery_name, exc)
        raise
    search_id, threshold, _ = start_search(
        app, case_reference, gallery_name, threshold, 1, {}, kind="video-find"
    )
    with failed_on_error(app, search_id, case_reference), app.unit_of_work() as uow:
        media_ids = _case_media(uow, case_reference)
        ref_matrix = np.stack([v for _, v in references])
        appearances: list[AppearanceOut] = []
        for sighting, face, media, vector in sighting_vectors(uow, media_ids, model.name):
            scores = ref_matrix @ vector
            best = int(np.argmax(scores))
            score = float(scores[best])
            if score < threshold:
                continue
            (candidate,) = record_candidates(
                uow, search_id, face.id, [RankedSubject(subject_id, references[best][0], score)]
            )
            wall = (
                media.recorded_at + timedelta(seconds=sighting.first_s)
                if media.recorded_at
                else None
            )
            appearances.append(
                AppearanceOut(
                    source=media.source_path,
                    sighting_id=sighting.id,
                    first_s=round(sighting.first_s, 3),
                    last_s=round(sighting.last_s, 3),
                    first_wall_time=wall,
                    score=round(score, 4),
                    box=face.box,
                    frame=face.frame_index,
                    candidate_id=candidate.candidate_id,
                    reused=candidate.reused,
                    source_type=media.source_type,
                    supplied_by=media.supplied_by,
                )
            )
        app.audit(
            uow,
            action="search.media_processed",
            object_type="search",
            object_id=search_id,
            case_reference=case_reference,
            search_id=search_id,
            subject_id=subject_id,
            videos=len(media_ids),
            matches=[{"sighting_id": a.sighting_id, "score": a.score} for a in appearances],
        )
        uow.commit()
    finish_search(app, search_id, case_reference, len(media_ids), len(appearances), [])
    return TimelineReport(
        search_id=search_id,
        case=case_reference,
        sought=f"{gallery_name}/{subject_name}",
        threshold=threshold,
        appearances=appearances,
    )


def _case_media(uow: UnitOfWork, case_reference: str) -> list[int]:
    case = uow.cases.get(case_reference)
    if case is None:  # pragma: no cover - checked by start_search
        raise NotFoundError(f"no case {case_reference!r}")
    media = case_video_media(uow, case.id, None)
    if not media:
        raise InvalidInputError(
            f"case {case_reference} has no ingested footage; run 'retroface video ingest' first"
        )
    return media
