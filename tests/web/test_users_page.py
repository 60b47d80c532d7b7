"""The admin's users page: forms with the session's CSRF token, no inline style or script, and
a change that ends another person's browser session at their next page."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from retroface.services import App
from tests.api.conftest import browser_login
from tests.conftest import ADMIN, OPERATOR

pytestmark = pytest.mark.needs_data


def _admin_page(client: TestClient) -> tuple[str, str]:
    """(the users page, its CSRF token) for a logged-in admin."""
    assert browser_login(client, ADMIN.username, follow_redirects=False).status_code == 303
    page = client.get("/ui/users")
    assert page.status_code == 200, page.text
    found = re.search(r'name="csrf" value="([0-9a-f]+)"', page.text)
    assert found is not None
    return page.text, found.group(1)


def test_an_admin_deactivates_a_user_whose_browser_session_ends_at_the_next_page(
    client: TestClient, app: App
) -> None:
    officer = TestClient(client.app)  # a second browser (the server's lifespan is shared)
    assert browser_login(officer, OPERATOR.username, follow_redirects=False).status_code == 303
    assert officer.get("/ui/", follow_redirects=False).status_code == 200
    page, csrf = _admin_page(client)
    assert OPERATOR.username in page and 'href="/ui/users"' in page
    assert "<script" not in page and "style=" not in page  # the CSP allows neither
    done = client.post(
        f"/ui/users/{OPERATOR.username}/deactivate", data={"csrf": csrf, "reason": "left"}
    )
    assert done.status_code == 200 and f"{OPERATOR.username} is deactivated" in done.text
    assert officer.get("/ui/", follow_redirects=False).headers["location"] == "/ui/login"
    back = client.post(f"/ui/users/{OPERATOR.username}/reactivate", data={"csrf": csrf})
    assert back.status_code == 200 and "may log in again" in back.text
    role = client.post(
        f"/ui/users/{OPERATOR.username}/role", data={"csrf": csrf, "role": "auditor"}
    )
    assert role.status_code == 200 and f"{OPERATOR.username} is now auditor" in role.text


def test_a_users_form_without_its_csrf_token_is_refused(client: TestClient) -> None:
    _admin_page(client)
    forged = client.post(f"/ui/users/{OPERATOR.username}/deactivate", data={"reason": "x"})
    assert forged.status_code == 403 and "did not come from this site" in forged.text
    assert "<td>deactivated</td>" not in client.get("/ui/users").text


def test_the_last_admin_is_told_on_the_page_that_they_cannot_deactivate_themselves(
    client: TestClient,
) -> None:
    _, csrf = _admin_page(client)
    refused = client.post(f"/ui/users/{ADMIN.username}/deactivate", data={"csrf": csrf})
    assert refused.status_code == 403 and "you are the last active admin" in refused.text


def test_only_an_admin_sees_the_users_page(client: TestClient) -> None:
    assert browser_login(client, OPERATOR.username, follow_redirects=False).status_code == 303
    assert client.get("/ui/users").status_code == 403
