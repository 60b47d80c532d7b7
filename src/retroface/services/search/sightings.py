"""Search the sightings of a case's footage the operator chose, and no others.

Ingested footage holds everyone the cameras saw. When the person of interest is one
of them, searching every sighting compares every passer-by against the gallery: the
collateral intrusion the law asks to minimise. So the operator names the sightings
to search (their ids, from ``retroface video clusters`` or a footage search); the
others are not ranked, get no decision and no candidate. Chosen sightings of one
unknown person (other cameras, other moments) may be searched as one fused probe
(search/fused_probe.py). The sightings keep the source type and supplier their
footage recorded when it was ingested.
"""

from __future__ import annotations

from sqlalchemy import select

from retroface.errors import InvalidInputError, NotFoundError
from retroface.governance.roles import Action
from retroface.services.app import App
from retroface.services.biometrics.gallery_index import load_gallery_index
from retroface.services.biometrics.sighting_templates import (
    case_video_media,
    sighting_vectors,
    views_agreement,
)
from retroface.services.deployment.decision_rule import decision_rule
from retroface.services.results import ProbeOut, SearchReport
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
    start_search,
)
from retroface.store.models import MediaItem, Sighting
from retroface.store.unit_of_work import UnitOfWork

#: The most sightings one search may name (a longer list is a whole-footage search).
MAX_SIGHTINGS = 200


def search_sightings(
    app: App,
    case_reference: str,
    gallery_name: str,
    sighting_ids: list[int],
    *,
    threshold: float | None = None,
    max_candidates: int | None = None,
    low_quality_justification: str | None = None,
    one_person: bool = False,
) -> SearchReport:
    """Search only the chosen sightings of the case's ingested footage against a gallery
    (one probe each, or one fused probe with ``one_person``). Mistakes (no sighting named,
    a sighting not in this case) are refused, audited, before a search exists."""
    app.require(Action.SEARCH_RUN, case_reference=case_reference)
    cap = app.settings.max_candidates if max_candidates is None else max_candidates
    if not 1 <= cap <= MAX_CANDIDATES_LIMIT:
        raise InvalidInputError(f"--max-candidates must be 1..{MAX_CANDIDATES_LIMIT}, got {cap}")
    check_search_allowed(app, case_reference, gallery_name, threshold, cap)
    wanted = sorted(set(sighting_ids))
    try:
        _check_choice(wanted, one_person)
        with app.unit_of_work() as uow:
            _check_in_case(uow, case_reference, wanted)
    except (InvalidInputError, NotFoundError) as exc:
        audit_search_refusal(app, case_reference, gallery_name, exc)
        raise
    fixed = threshold is not None
    search_id, threshold, keep_all = start_search(
        app, case_reference, gallery_name, threshold, cap, {}, kind="sightings",
        justification=low_quality_justification,
        probe={"sightings": wanted, **(fusion_parameters(len(wanted)) if one_person else {})},
    )  # fmt: skip
    model = app.engine.model
    with failed_on_error(app, search_id, case_reference), app.unit_of_work() as uow:
        rule = decision_rule(app, uow, threshold, low_quality_justification, fixed=fixed)
        index = load_gallery_index(
            uow,
            app.settings.index_dir,
            uow.galleries.require(gallery_name),
            model,
            app.settings.index_exact_max,
        )
        case = uow.cases.require(case_reference)
        media_ids = case_video_media(uow, case.id, None)
        if one_person:
            parts = [
                ProbePart(face, media, vector, sighting.id, views_agreement(sighting))
                for sighting, face, media, vector in sighting_vectors(uow, media_ids, model.name)
                if sighting.id in wanted
            ]
            fused = search_fused(
                app, uow, search_id, parts, index, rule, cap, keep_all, copy_lead=True
            )
            probes, details = [fused], fused_audit(fused)
        else:
            probes = match_sightings(
                app, uow, search_id, media_ids, None, index, rule, cap, only=set(wanted)
            )
            details = {"matches": _matches(probes)}
        app.audit(
            uow,
            action="search.media_processed",
            object_type="search",
            object_id=search_id,
            case_reference=case_reference,
            search_id=search_id,
            sightings=wanted,
            **details,
        )
        uow.commit()
    finish_search(app, search_id, case_reference, len(wanted), probes, [])
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
        errors=[],
    )


def _check_choice(wanted: list[int], one_person: bool) -> None:
    if not wanted:
        raise InvalidInputError(
            "name the sightings to search (--sighting ID, repeated; their ids are in "
            "'retroface video clusters' and in a footage search's output)"
        )
    if len(wanted) > MAX_SIGHTINGS:
        raise InvalidInputError(f"at most {MAX_SIGHTINGS} sightings a search, got {len(wanted)}")
    if one_person and len(wanted) < 2:
        raise InvalidInputError("searching sightings as one person needs two or more sightings")


def _check_in_case(uow: UnitOfWork, case_reference: str, wanted: list[int]) -> None:
    """Every sighting named is in this case's footage (ids of another case's are refused
    without saying whether they exist)."""
    case = uow.cases.require(case_reference)
    found = set(
        uow.session.scalars(
            select(Sighting.id)
            .join(MediaItem, Sighting.media_item_id == MediaItem.id)
            .where(Sighting.id.in_(wanted), MediaItem.case_id == case.id)
        )
    )
    missing = [i for i in wanted if i not in found]
    if missing:
        raise NotFoundError(
            f"no sighting {', '.join(map(str, missing))} in case {case_reference}'s footage"
        )


def _matches(probes: list[ProbeOut]) -> list[dict[str, object]]:
    """EU AI Act Art 12(3)(c): the input data that led to each match."""
    return [
        {"sighting_id": p.sighting_id, "subjects": [c.subject_id for c in p.candidates]}
        for p in probes
        if p.candidates
    ]
