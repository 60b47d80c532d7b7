"""Over HTTP: two reviewers disagree, the supervisor's queue shows the candidate once, the
supervisor resolves it; the people who may not are refused with a problem document."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from retroface.services import App
from retroface.services.search.photos import search
from tests.api.conftest import SECOND_REVIEWER, login
from tests.conftest import OPERATOR, REVIEWER, SUPERVISOR
from tests.helpers import authorised_case, gallery_with

pytestmark = pytest.mark.needs_data
API = "/api/v1"


def test_a_dispute_is_resolved_by_a_supervisor_over_http(
    client: TestClient, app: App, data: Path
) -> None:
    examples = data / "face_recognition" / "examples"
    gallery_with(app, "g", {"obama": [examples / "obama.jpg"]})
    case = authorised_case(app)
    first = search(app, case, "g", [examples / "obama2.jpg"])
    # The same photo searched again: the same candidate, listed once.
    again = search(app, case, "g", [examples / "obama2.jpg"])
    assert again.reuse_note == "1 candidate reused with their reviews"
    candidate = first.probes[0].candidates[0].candidate_id
    for reviewer, outcome in ((REVIEWER, "possible-match"), (SECOND_REVIEWER, "no-match")):
        decided = client.post(
            f"{API}/candidates/{candidate}/reviews",
            json={"outcome": outcome, "reason": "compared ears and nose"},
            headers=login(client, reviewer.username),
        )
        assert decided.status_code == 200, decided.text
    assert decided.json()["status"] == "disputed"

    supervisor = login(client, SUPERVISOR.username)
    queue = client.get(f"{API}/reviews/disputed", headers=supervisor)
    assert queue.status_code == 200, queue.text
    (item,) = queue.json()
    assert item["candidate"]["candidate_id"] == candidate and item["may_resolve"] is True
    assert item["candidate"]["found_by_searches"] == [first.search_id, again.search_id]

    operator = login(client, OPERATOR.username)
    body = {"outcome": "possible-match", "reason": "the same scar above the eyebrow"}
    refused = client.post(f"{API}/candidates/{candidate}/resolution", json=body, headers=operator)
    assert refused.status_code == 403
    assert refused.headers["content-type"] == "application/problem+json"
    wrong = client.post(
        f"{API}/candidates/{candidate}/resolution",
        json={"outcome": "maybe", "reason": "r"},
        headers=supervisor,
    )
    assert wrong.status_code in (400, 422) and "review outcome" in wrong.text

    resolved = client.post(
        f"{API}/candidates/{candidate}/resolution", json=body, headers=supervisor
    )
    assert resolved.status_code == 200, resolved.text
    assert resolved.json()["status"] == "confirmed"
    assert resolved.json()["resolution"]["supervisor"] == SUPERVISOR.username
    assert client.get(f"{API}/reviews/disputed", headers=supervisor).json() == []
    twice = client.post(f"{API}/candidates/{candidate}/resolution", json=body, headers=supervisor)
    assert twice.status_code in (400, 409, 422) and "already resolved" in twice.text
