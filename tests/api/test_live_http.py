"""Live recognition over HTTP: a supervisor authorises, an officer adjudicates in the web queue."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from retroface.services import App
from retroface.services.live.run import run_live
from tests.api.conftest import browser_login, login
from tests.conftest import AUDITOR, EXAMPLES, OPERATOR, REVIEWER, SUPERVISOR
from tests.helpers import gallery_with

pytestmark = pytest.mark.needs_data
API = "/api/v1"


def test_deployment_alerts_queue_and_publication_over_http(
    client: TestClient, app: App, data: Path
) -> None:
    gallery_with(app, "wl", {"lin-manuel-miranda": [EXAMPLES / "lin-manuel-miranda.png"]})
    supervisor, operator = login(client, SUPERVISOR.username), login(client, OPERATOR.username)
    marked = client.put(f"{API}/galleries/wl/live-watchlist", json={"enabled": True},
                        headers=supervisor)  # fmt: skip
    assert marked.status_code == 200, marked.text
    now = app.now()
    body = {
        "id": "LFR-HTTP",
        "purpose": "find a wanted person",
        "location": "station concourse",
        "starts_at": (now - timedelta(minutes=1)).isoformat(),
        "ends_at": (now + timedelta(hours=1)).isoformat(),
        "watchlist": "wl",
        "public_notice": "Live facial recognition in use.",
    }
    refused = client.post(f"{API}/live/deployments", json=body, headers=operator)
    assert refused.status_code == 403
    created = client.post(f"{API}/live/deployments", json=body, headers=supervisor)
    assert created.status_code == 201, created.text
    assert created.json()["authorised_by"] == SUPERVISOR.username

    # The camera runs next to the stream (the CLI); its alerts reach the officers' queue.
    summary = run_live(app, "LFR-HTTP", str(data / "video" / "short_hamilton_clip.mp4"))
    assert summary.alerts >= 1
    alerts = client.get(f"{API}/live/deployments/LFR-HTTP/alerts?pending=true", headers=operator)
    assert alerts.status_code == 200 and len(alerts.json()) == summary.alerts
    assert all(a["crop_jpeg_base64"] is None for a in alerts.json())  # only when asked

    browser_login(client, REVIEWER.username)
    page = client.get("/ui/live/LFR-HTTP")
    assert page.status_code == 200 and "data:image/jpeg;base64," in page.text
    assert "Watchlist: lin-manuel-miranda" in page.text
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert csrf is not None
    first = alerts.json()[-1]["id"]
    decided = client.post(
        f"/ui/live/alerts/{first}/adjudication",
        data={"csrf": csrf.group(1), "deployment": "LFR-HTTP", "engaged": "yes",
              "outcome": "true-alert", "note": "confirmed by the officer"},
        follow_redirects=False,
    )  # fmt: skip
    assert decided.status_code == 303, decided.text
    assert "Decided by reviewer" in client.get("/ui/live/LFR-HTTP").text

    auditor = login(client, AUDITOR.username)
    record = client.get(f"{API}/live/deployments/LFR-HTTP/publication", headers=auditor)
    assert record.status_code == 200, record.text
    figures = record.json()
    assert figures["true_alerts"] == 1 and figures["alerts"] == summary.alerts
    assert figures["faces_seen"] == summary.faces_seen and "lin-manuel" not in record.text
    again = client.post(
        f"{API}/live/alerts/{first}/adjudication",
        json={"engaged": False, "outcome": "false-alert"},
        headers=login(client, REVIEWER.username),
    )
    assert again.status_code == 409
