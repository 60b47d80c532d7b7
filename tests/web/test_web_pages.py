"""The web UI without a browser: CSRF, log-in failures, and the footage timeline."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from retroface.services import App
from retroface.services.search.photos import search
from tests.api.conftest import browser_login
from tests.conftest import EXAMPLES, OPERATOR, REVIEWER
from tests.helpers import authorised_case, gallery_with

pytestmark = pytest.mark.needs_data


def _browser_login(client: TestClient, username: str) -> None:
    response = browser_login(client, username, follow_redirects=False)
    assert response.status_code == 303, response.text
    cookie = response.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie


def test_wrong_password_is_refused_on_the_page_and_audited(client: TestClient) -> None:
    response = browser_login(client, OPERATOR.username, "nope")
    assert response.status_code == 401 and "wrong password" in response.text
    assert "<script" not in response.text
    assert "default-src 'none'" in response.headers["content-security-policy"]


def test_a_form_without_its_csrf_token_is_refused(client: TestClient, app: App) -> None:
    authorised_case(app, "CSRF-1")
    _browser_login(client, OPERATOR.username)
    forged = client.post(
        "/ui/cases/CSRF-1/search",
        data={"gallery": "any"},
        files=[("files", ("x.jpg", b"\xff\xd8", "image/jpeg"))],
    )
    assert forged.status_code == 403 and "did not come from this site" in forged.text


def test_footage_candidates_are_drawn_on_a_timeline(
    client: TestClient, app: App, data: Path
) -> None:
    gallery_with(app, "cast", {"lin-manuel-miranda": [EXAMPLES / "lin-manuel-miranda.png"]})
    authorised_case(app, "CLIP-1")
    search(app, "CLIP-1", "cast", [data / "video" / "short_hamilton_clip.mp4"])
    _browser_login(client, REVIEWER.username)
    page = client.get("/ui/cases/CLIP-1/review")
    assert page.status_code == 200
    assert "Footage timeline" in page.text and "short_hamilton_clip.mp4" in page.text
    assert 'class="timeline"' in page.text and "lin-manuel-miranda at" in page.text
