"""Review of candidates, the audit log, oversight reports and the deployment's rules."""

from __future__ import annotations

import tempfile
from datetime import date
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from retroface.governance.deployment_policy import DpiaRecord
from retroface.services.cases.resolution import (
    DisputedCandidate,
    disputed_queue,
    resolve_review,
)
from retroface.services.cases.review import record_review, review_queue
from retroface.services.deployment.calibrations import (
    CalibrationOut,
    list_calibrations,
    register_calibration,
)
from retroface.services.deployment.rules import (
    deployment_status,
    register_dpia,
    register_policy,
    set_eu_mode,
    set_threshold_floor,
)
from retroface.services.oversight.audit_log import (
    AuditEventOut,
    ChainStatus,
    list_audit_events,
    verify_audit,
)
from retroface.services.oversight.reports import dpia_report, transparency_report
from retroface.services.results import CandidateReview, DeploymentStatus
from retroface.serving.auth import Acting
from retroface.serving.bounds import MAX_ID, RowId

router = APIRouter(tags=["oversight"])


class ReviewIn(BaseModel):
    outcome: str = Field(description="possible-match, no-match or inconclusive")
    reason: str = Field(min_length=1, max_length=2000)
    notes: dict[str, str] | None = Field(
        default=None,
        max_length=20,
        description="structured comparison notes: feature (face-shape, hairline, eyebrows, "
        "eyes, nose, ears, mouth, marks) → similar, different or not-visible",
    )


class ReportOut(BaseModel):
    """A report's files, by name, as text (Markdown and CSV)."""

    files: dict[str, str]
    searches: int | None


class DpiaIn(BaseModel):
    identifier: str = Field(min_length=1, max_length=200)
    version: str = Field(min_length=1, max_length=50)
    approved_on: date
    review_due_on: date


class PolicyIn(BaseModel):
    reference: str = Field(min_length=1, max_length=500)
    title: str = Field(default="", max_length=500)


class FloorIn(BaseModel):
    floor: float = Field(gt=0.0, lt=1.0)


class EuModeIn(BaseModel):
    enabled: bool


@router.get("/reviews", response_model=list[CandidateReview])
def get_reviews(
    application: Acting,
    case: str | None = None,
    search: str | None = None,
    pending_only: bool = False,
) -> list[CandidateReview]:
    """Candidates to review, each with its probe's provenance and the decisions so far."""
    return review_queue(
        application, case_reference=case, search_id=search, pending_only=pending_only
    )


@router.post("/candidates/{candidate_id}/reviews", response_model=CandidateReview)
def post_review(candidate_id: RowId, body: ReviewIn, application: Acting) -> CandidateReview:
    """Record a reviewer's decision; two reviewers agreeing confirm a match."""
    return record_review(application, candidate_id, body.outcome, body.reason, body.notes)


class ResolutionIn(BaseModel):
    outcome: str = Field(description="possible-match, no-match or inconclusive")
    reason: str = Field(min_length=1, max_length=2000)


@router.get("/reviews/disputed", response_model=list[DisputedCandidate])
def get_disputed(application: Acting, case: str | None = None) -> list[DisputedCandidate]:
    """The supervisor's queue: candidates two reviewers disagree on, not yet resolved, in
    the cases on the supervisor's team (each says whether this supervisor may resolve it)."""
    return disputed_queue(application, case_reference=case)


@router.post("/candidates/{candidate_id}/resolution", response_model=CandidateReview)
def post_resolution(
    candidate_id: RowId, body: ResolutionIn, application: Acting
) -> CandidateReview:
    """A supervisor's resolution of a disputed candidate: its final standing (confirmed
    only where a reviewer also said possible match: two people)."""
    return resolve_review(application, candidate_id, body.outcome, body.reason)


@router.get("/audit/events", response_model=list[AuditEventOut])
def get_audit_events(
    application: Acting,
    case: str | None = None,
    action: str | None = None,
    before_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[AuditEventOut]:
    """The audit log, newest first (auditors only; the read itself is audited)."""
    return list_audit_events(
        application, case_reference=case, action=action, before_id=before_id, limit=limit
    )


@router.get("/audit/verify", response_model=ChainStatus)
def get_audit_verify(application: Acting) -> ChainStatus:
    """Check the hash chain and its signed checkpoints; names the first edited, deleted,
    inserted or reordered event, and a truncated or re-chained log (``anchor``)."""
    return verify_audit(application)


def _read_files(paths: list[str]) -> dict[str, str]:
    return {Path(p).name: Path(p).read_text(encoding="utf-8") for p in paths}


@router.get("/reports/transparency", response_model=ReportOut)
def get_transparency(
    application: Acting,
    start: Annotated[date, Query(alias="from")],
    end: Annotated[date, Query(alias="to")],
) -> ReportOut:
    """Published statistics for searches started in [from, to] (no biometric data)."""
    with tempfile.TemporaryDirectory() as folder:
        files = transparency_report(application, start, end, Path(folder))
        return ReportOut(files=_read_files(files.files), searches=files.searches)


@router.get("/reports/dpia", response_model=ReportOut)
def get_dpia(application: Acting) -> ReportOut:
    with tempfile.TemporaryDirectory() as folder:
        files = dpia_report(application, Path(folder) / "dpia.md")
        return ReportOut(files=_read_files(files.files), searches=files.searches)


@router.get("/deployment", response_model=DeploymentStatus)
def get_deployment(application: Acting) -> DeploymentStatus:
    return deployment_status(application)


@router.put("/deployment/dpia", response_model=DeploymentStatus)
def put_dpia(body: DpiaIn, application: Acting) -> DeploymentStatus:
    record = DpiaRecord(body.identifier, body.version, body.approved_on, body.review_due_on)
    return register_dpia(application, record)


@router.put("/deployment/policy", response_model=DeploymentStatus)
def put_policy(body: PolicyIn, application: Acting) -> DeploymentStatus:
    return register_policy(application, body.reference, body.title)


@router.put("/deployment/threshold-floor", response_model=DeploymentStatus)
def put_floor(body: FloorIn, application: Acting) -> DeploymentStatus:
    return set_threshold_floor(application, body.floor)


@router.get("/deployment/calibrations", response_model=list[CalibrationOut])
def get_calibrations(application: Acting) -> list[CalibrationOut]:
    return list_calibrations(application)


@router.post("/deployment/calibrations", response_model=CalibrationOut, status_code=201)
def post_calibration(body: dict[str, Any], application: Acting) -> CalibrationOut:
    """Register a record written by `retroface eval calibrate`, signed with the key the server
    holds in $RETROFACE_AUDIT_KEY."""
    return register_calibration(application, body)


@router.put("/deployment/eu-mode", response_model=DeploymentStatus)
def put_eu_mode(body: EuModeIn, application: Acting) -> DeploymentStatus:
    return set_eu_mode(application, body.enabled)
