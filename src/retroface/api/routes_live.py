"""Live recognition: deployments, their alerts, adjudication and the publication record.

The camera itself runs under `retroface live` next to the stream; the API
serves the people around it: the authorising supervisor, the officers who
adjudicate alerts, and oversight.
"""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import AwareDatetime, BaseModel, Field

from retroface.services.galleries.manage import set_live_watchlist
from retroface.services.live.deployments import (
    LiveAlertOut,
    LiveDeploymentOut,
    LivePublication,
    adjudicate_alert,
    create_live_deployment,
    list_live_alerts,
    list_live_deployments,
    live_publication,
)
from retroface.services.results import GallerySummary
from retroface.serving.auth import Acting
from retroface.serving.bounds import RowId

router = APIRouter(tags=["live"])


class LiveDeploymentIn(BaseModel):
    id: str = Field(min_length=1, max_length=64)
    purpose: str = Field(min_length=1, max_length=5000)
    location: str = Field(min_length=1, max_length=300)
    starts_at: AwareDatetime
    ends_at: AwareDatetime
    watchlist: str = Field(min_length=1, max_length=200)
    public_notice: str = Field(min_length=1, max_length=5000)
    threshold: float | None = Field(default=None, ge=-1.0, le=1.0)
    alert_retention_days: int | None = Field(default=None, ge=1, le=366)


class AdjudicationIn(BaseModel):
    engaged: bool
    outcome: str = Field(description="true-alert, false-alert or unconfirmed")
    note: str = Field(default="", max_length=2000)


class LiveWatchlistIn(BaseModel):
    enabled: bool


@router.put("/galleries/{name}/live-watchlist", response_model=GallerySummary)
def put_live_watchlist(name: str, body: LiveWatchlistIn, application: Acting) -> GallerySummary:
    return set_live_watchlist(application, name, body.enabled)


@router.get("/live/deployments", response_model=list[LiveDeploymentOut])
def get_deployments(application: Acting) -> list[LiveDeploymentOut]:
    return list_live_deployments(application)


@router.post("/live/deployments", response_model=LiveDeploymentOut, status_code=201)
def post_deployment(body: LiveDeploymentIn, application: Acting) -> LiveDeploymentOut:
    return create_live_deployment(
        application,
        body.id,
        purpose=body.purpose,
        location=body.location,
        starts_at=body.starts_at,
        ends_at=body.ends_at,
        watchlist=body.watchlist,
        public_notice=body.public_notice,
        threshold=body.threshold,
        alert_retention_days=body.alert_retention_days,
    )


@router.get("/live/deployments/{deployment}/alerts", response_model=list[LiveAlertOut])
def get_alerts(
    deployment: str, application: Acting, pending: bool = False, crops: bool = False
) -> list[LiveAlertOut]:
    return list_live_alerts(application, deployment, pending_only=pending, with_crops=crops)


@router.post("/live/alerts/{alert_id}/adjudication", response_model=LiveAlertOut)
def post_adjudication(alert_id: RowId, body: AdjudicationIn, application: Acting) -> LiveAlertOut:
    return adjudicate_alert(
        application, alert_id, engaged=body.engaged, outcome=body.outcome, note=body.note
    )


@router.get("/live/deployments/{deployment}/publication", response_model=LivePublication)
def get_publication(deployment: str, application: Acting) -> LivePublication:
    return live_publication(application, deployment)
