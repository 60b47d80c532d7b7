"""Over HTTP: a reviewer's decision carries its structured feature notes; a note outside
the feature list is refused with a problem document that lists the choices."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from retroface.services import App
from retroface.services.search.photos import search
from tests.api.conftest import login
from tests.conftest import EXAMPLES, REVIEWER
from tests.helpers import authorised_case, gallery_with

pytestmark = pytest.mark.needs_data
API = "/api/v1"


def test_a_review_over_http_stores_its_feature_notes(client: TestClient, app: App) -> None:
    gallery_with(app, "g", {"obama": [EXAMPLES / "obama.jpg"]})
    case = authorised_case(app)
    candidate = search(app, case, "g", [EXAMPLES / "obama2.jpg"]).probes[0].candidates[0]
    reviewer = login(client, REVIEWER.username)
    url = f"{API}/candidates/{candidate.candidate_id}/reviews"

    wrong = client.post(
        url,
        json={"outcome": "possible-match", "reason": "r", "notes": {"nose": "alike"}},
        headers=reviewer,
    )
    assert wrong.status_code == 422 and wrong.headers["content-type"] == "application/problem+json"
    assert "unknown finding for nose 'alike'; choose one of: similar, different" in wrong.text

    notes = {"eyes": "similar", "Ears": "not visible"}
    done = client.post(
        url, json={"outcome": "possible-match", "reason": "eyes", "notes": notes}, headers=reviewer
    )
    assert done.status_code == 200, done.text
    assert [r["notes"] for r in done.json()["reviews"]] == [
        {"eyes": "similar", "ears": "not-visible"}
    ]
