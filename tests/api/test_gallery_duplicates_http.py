"""Duplicate records over HTTP: a supervisor scans, decides and undoes; others are refused."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from retroface.services import App
from tests.api.conftest import login
from tests.conftest import EXAMPLES, OPERATOR, SUPERVISOR
from tests.helpers import gallery_with

pytestmark = pytest.mark.needs_data
API = "/api/v1"


def test_a_supervisor_scans_decides_and_undoes_over_http(client: TestClient, app: App) -> None:
    gallery_with(
        app,
        "custody",
        {"barack obama": [EXAMPLES / "obama.jpg"], "b. obama (alias)": [EXAMPLES / "obama2.jpg"]},
    )
    sergeant, officer = login(client, SUPERVISOR.username), login(client, OPERATOR.username)
    assert client.get(f"{API}/galleries/custody/duplicates", headers=officer).status_code == 403
    found = client.get(f"{API}/galleries/custody/duplicates", headers=sergeant)
    assert found.status_code == 200, found.text
    assert [{p["subject_a"], p["subject_b"]} for p in found.json()["pairs"]] == [
        {"barack obama", "b. obama (alias)"}
    ]
    decision = {
        "subject_a": "barack obama",
        "subject_b": "b. obama (alias)",
        "decision": "merge",
        "reason": "one person",
    }
    extra = client.post(
        f"{API}/galleries/custody/duplicates/decisions",
        json={**decision, "automatic": True},
        headers=sergeant,
    )
    assert extra.status_code == 422
    made = client.post(
        f"{API}/galleries/custody/duplicates/decisions", json=decision, headers=sergeant
    )
    assert made.status_code == 201 and made.json()["moved_images"] == 1, made.text
    undone = client.post(
        f"{API}/duplicate-decisions/{made.json()['id']}/undo",
        json={"reason": "wrong record"},
        headers=sergeant,
    )
    assert undone.status_code == 200, undone.text
    again = client.get(f"{API}/galleries/custody/duplicates", headers=sergeant)
    assert len(again.json()["pairs"]) == 1
