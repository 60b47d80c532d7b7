"""Search several stills or sightings of one unknown person as one probe.

An investigator with three poor stills of the same person (other cameras, other
moments) searches them as one probe: one fused template (faces/probe_fusion.py: the
fusion the numbers chose), one decision under the deployment's rule, one candidate
list to review. Each part keeps its own provenance: the file's hash, the face's box,
the frame and sighting for footage, the source type and supplier, and whether it was
used (a part too poor to search reliably is left out of the fusion, as it would not be
searched alone, unless the search carries a justification).

The candidates reference the fused probe's lead face: the best part's face row for
stills, a copy of the best sighting's best view for footage (the sighting's own face
keeps its own searches). The lead face records the parts (``faces.fused_parts``) and
the fused decision; its template, the fused one, is kept only if it produced a lead
(or the deployment keeps every probe template until the case closes), like any probe.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray
from sqlalchemy import select

from retroface.faces.probe_fusion import FUSION_METHOD, fuse_templates
from retroface.index import AnyIndex
from retroface.services.app import App
from retroface.services.deployment.decision_rule import (
    DecisionRule,
    ProbeDecision,
    decide,
    probe_decision_fields,
)
from retroface.services.results import ProbeOut, ProbePartOut
from retroface.services.search.decision import decide_and_rank
from retroface.services.search.gate import record_candidates
from retroface.services.search.ranking import RankedSubject
from retroface.store.data_protection import seal_template
from retroface.store.models import Face, MediaItem, Template
from retroface.store.unit_of_work import UnitOfWork

#: What a search of several files as one person records about how it fused them.
ONE_PERSON = "one person: the stills or sightings fused into one probe"


@dataclass
class ProbePart:
    """One still or sighting of the person, its face row stored, with its template."""

    face: Face
    media: MediaItem
    vector: NDArray[np.float32]
    sighting_id: int | None = None
    #: A sighting's views' agreement (1 for a still): its bar rises with it.
    agreement: float = 1.0


def fusion_parameters(parts: int) -> dict[str, Any]:
    """What the search row and ``search.started`` record about a fused probe."""
    return {"one_person": {"fusion": FUSION_METHOD, "parts": parts}}


def search_fused(
    app: App,
    uow: UnitOfWork,
    search_id: str,
    parts: list[ProbePart],
    index: AnyIndex,
    rule: DecisionRule,
    cap: int,
    keep_all_templates: bool,
    *,
    copy_lead: bool,
) -> ProbeOut:
    """Decide each part (too poor: left out), fuse the rest, decide and rank the fused
    template once, and record one candidate list on the lead face. ``copy_lead``: the
    lead is a new face row copying the best part's (for sightings, whose own face rows
    belong to their own searches) rather than the best part's row itself (for stills)."""
    templates = len(index)
    decisions = [
        decide(rule, p.vector, p.face.quality, p.face.quality_parts, templates, _agreement([p]))
        for p in parts
    ]
    used = [p for p, d in zip(parts, decisions, strict=True) if d.searched]
    best = max(used or parts, key=lambda p: p.face.quality)
    lead = _lead_face(uow, best.face) if copy_lead else best.face
    fused: NDArray[np.float32] | None = None
    ranked: list[RankedSubject]
    if used:
        fused = fuse_templates([p.vector for p in used])
        decision, ranked = decide_and_rank(
            rule, uow, index, fused, best.face.quality, best.face.quality_parts, cap,
            _agreement(used),
        )  # fmt: skip
    else:
        decision, ranked = decisions[parts.index(best)], []
    part_rows = [_part_record(p, d) for p, d in zip(parts, decisions, strict=True)]
    lead.decision = {**decision.record(), "fusion": FUSION_METHOD, "parts_used": len(used)}
    lead.fused_parts = part_rows
    for part, part_decision in zip(parts, decisions, strict=True):
        if not copy_lead and part.face is not lead:
            part.face.decision = {**part_decision.record(), "fused_into_face": lead.id}
    if fused is not None and (ranked or keep_all_templates):
        uow.session.add(_template(uow, app, lead, best.face, fused))
    candidates = record_candidates(uow, search_id, lead.id, ranked)
    return ProbeOut(
        source=" + ".join(p.media.source_path for p in parts),
        frame=lead.frame_index,
        box=lead.box,
        quality=round(best.face.quality, 3),
        candidates=candidates,
        sighting_id=best.sighting_id,
        source_type=best.media.source_type,
        supplied_by=best.media.supplied_by,
        fusion=FUSION_METHOD,
        parts=[_part_out(p, d) for p, d in zip(parts, decisions, strict=True)],
        **probe_decision_fields(decision),
    )


def _agreement(parts: list[ProbePart]) -> float | None:
    """The agreement a decision on these parts uses: None for stills (one face each, or
    a fusion already shortened to hold the bar); for sightings, whose templates are
    re-normalised fusions of their views, the mean of their agreements (the fusion of
    the sightings is shortened on top of that)."""
    if all(p.sighting_id is None for p in parts):
        return None
    return float(np.mean([p.agreement for p in parts]))


def fused_audit(probe: ProbeOut) -> dict[str, Any]:
    """The fused probe as ``search.media_processed`` records it: each part's hash, box,
    frame and sighting (the input data that led to each match, EU AI Act Art 12(3)(c))."""
    return {
        "fusion": probe.fusion,
        "parts": [
            {
                "sha256": p.sha256,
                "box": p.box,
                "frame": p.frame,
                "sighting_id": p.sighting_id,
                "used": p.used,
            }
            for p in probe.parts or []
        ],
        "searched": probe.searched,
        "matches": [{"box": probe.box, "subjects": [c.subject_id for c in probe.candidates]}]
        if probe.candidates
        else [],
    }


def _lead_face(uow: UnitOfWork, face: Face) -> Face:
    copy = Face(
        media_item_id=face.media_item_id,
        frame_index=face.frame_index,
        timestamp_s=face.timestamp_s,
        box_x=face.box_x,
        box_y=face.box_y,
        box_w=face.box_w,
        box_h=face.box_h,
        landmarks=face.landmarks,
        detector=face.detector,
        detector_score=face.detector_score,
        quality=face.quality,
        quality_parts=face.quality_parts,
        marked_by=face.marked_by,
    )
    uow.session.add(copy)
    uow.flush()
    return copy


def _template(
    uow: UnitOfWork, app: App, lead: Face, best: Face, fused: NDArray[np.float32]
) -> Template:
    """The fused template, sealed to the lead face; made the way the best part's was."""
    engine = uow.session.scalar(
        select(Template.engine).where(Template.face_id == best.id, Template.subject_id.is_(None))
    )
    model = app.engine.model
    return Template(
        face_id=lead.id,
        subject_id=None,
        gallery_id=None,
        model_name=model.name,
        model_version=model.version,
        dimension=len(fused),
        vector=seal_template(uow.cipher, lead.id, fused),
        quality=best.quality,
        engine=engine or app.engine_description,
    )


def _part_record(part: ProbePart, decision: ProbeDecision) -> dict[str, Any]:
    return {
        "face_id": part.face.id,
        "media_item_id": part.media.id,
        "sha256": part.media.sha256,
        "box": part.face.box,
        "frame": part.face.frame_index,
        "sighting_id": part.sighting_id,
        "quality": round(part.face.quality, 3),
        "used": decision.searched,
        "reasons": decision.reasons,
    }


def _part_out(part: ProbePart, decision: ProbeDecision) -> ProbePartOut:
    return ProbePartOut(
        source=part.media.source_path,
        sha256=part.media.sha256,
        box=part.face.box,
        frame=part.face.frame_index,
        sighting_id=part.sighting_id,
        quality=round(part.face.quality, 3),
        source_type=part.media.source_type,
        supplied_by=part.media.supplied_by,
        used=decision.searched,
    )
