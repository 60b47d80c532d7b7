"""An HTTP client on a real deployment (real engine, real photos), with real user accounts."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from httpx import Response

from retroface.governance.identity import Principal
from retroface.governance.roles import Role
from retroface.server import create_server
from retroface.services import App
from tests.conftest import AUDITOR, OPERATOR, REVIEWER, SUPERVISOR
from tests.helpers import PASSWORD, register_users

SECOND_REVIEWER = Principal("reviewer-6", Role.REVIEWER)
PEOPLE = (OPERATOR, SUPERVISOR, REVIEWER, SECOND_REVIEWER, AUDITOR)


@pytest.fixture
def client(app: App) -> Iterator[TestClient]:
    register_users(app, dict.fromkeys(PEOPLE, PASSWORD))
    with TestClient(create_server(application=app), raise_server_exceptions=False) as http:
        yield http


def login_form_token(client: TestClient) -> str:
    """Show the web log-in form (which sets its cookie) and return its anti-forgery token."""
    page = client.get("/ui/login")
    assert page.status_code == 200, page.text
    found = re.search(r'name="login_token" value="([^"]+)"', page.text)
    assert found is not None, "the log-in form carries no token"
    return found.group(1)


def browser_login(
    client: TestClient, username: str, password: str = PASSWORD, **kwargs: Any
) -> Response:
    """Log in through the web form, as a browser does: show the form, then post it."""
    token = login_form_token(client)
    data = {"username": username, "password": password, "login_token": token}
    return client.post("/ui/login", data=data, **kwargs)


def login(client: TestClient, username: str) -> dict[str, str]:
    """Bearer headers for a fresh session of ``username``."""
    response = client.post("/api/v1/auth/login", json={"username": username, "password": PASSWORD})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['token']}"}
