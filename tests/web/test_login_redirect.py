"""Logging in leads back to the page asked for, and only ever to a page of this UI: an
absolute URL, a ``//host`` address or a backslash trick is refused (no open redirect)."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from fastapi.testclient import TestClient

from retroface.web.pages import safe_next
from tests.api.conftest import login_form_token
from tests.conftest import AUDITOR, OPERATOR
from tests.helpers import PASSWORD, authorised_case

pytestmark = pytest.mark.needs_data


def _log_in(client: TestClient, username: str, next_page: str | None) -> str:
    """Post the log-in form (with ``next`` as a page asked for would give it); the
    redirect's target."""
    data = {"username": username, "password": PASSWORD, "login_token": login_form_token(client)}
    if next_page is not None:
        data["next"] = next_page
    response = client.post("/ui/login", data=data, follow_redirects=False)
    assert response.status_code == 303, response.text
    return response.headers["location"]


def test_a_page_asked_for_before_logging_in_opens_after_it(client: TestClient) -> None:
    asked = "/ui/audit?user=officer-1&action=case.%2A"
    sent = client.get(asked, follow_redirects=False)
    assert sent.status_code == 303
    target = urlsplit(sent.headers["location"])
    assert target.path == "/ui/login" and parse_qs(target.query) == {"next": [asked]}

    form = client.get(sent.headers["location"])
    assert f'name="next" value="{asked.replace("&", "&amp;")}"' in form.text
    assert _log_in(client, AUDITOR.username, asked) == asked
    page = client.get(asked)
    assert page.status_code == 200 and 'value="officer-1"' in page.text


def test_the_cases_page_and_forms_posted_without_a_session_log_in_plainly(
    client: TestClient, app: object
) -> None:
    assert client.get("/ui/", follow_redirects=False).headers["location"] == "/ui/login"
    authorised_case(app, "NEXT-1")  # type: ignore[arg-type]
    posted = client.post("/ui/cases/NEXT-1/report", data={"format": "pdf"}, follow_redirects=False)
    assert posted.headers["location"] == "/ui/login"  # a form is not a page to go back to
    assert _log_in(client, OPERATOR.username, None) == "/ui/"


@pytest.mark.parametrize(
    "elsewhere",
    [
        "https://evil.example/ui/",
        "//evil.example/ui/",
        "///evil.example/ui/",
        "/\\evil.example/ui/",
        "/ui/\\..\\..\\evil",
        "\\\\evil.example/ui/",
        "http:/ui/",
        "javascript:alert(1)//ui/",
        "/ui/../../elsewhere",
        "/ui/%2e%2e/%2e%2e/elsewhere",
        "/ui/\r\nSet-Cookie: x=1",
        "/ui/\t/evil",
        " //evil.example/ui/",
        "/uiX/",
        "/api/v1/audit/events",
        "/ui/login",
        "/ui/ünïcode",
        "/ui/" + "a" * 1500,  # longer than a page address is kept, not cut
    ],
)
def test_a_page_elsewhere_is_refused_and_the_log_in_goes_to_the_cases(
    client: TestClient, elsewhere: str
) -> None:
    assert safe_next(elsewhere) is None
    assert _log_in(client, OPERATOR.username, elsewhere) == "/ui/"
    shown = client.get("/ui/login", params={"next": elsewhere})
    assert 'name="next"' not in shown.text


@pytest.mark.parametrize(
    "page",
    ["/ui/", "/ui/cases/CASE-1", "/ui/cases/CASE-1/review", "/ui/audit?case=A&to=2026-01-01"],
)
def test_pages_of_this_ui_are_kept(page: str) -> None:
    assert safe_next(page) == page


def test_a_failed_log_in_keeps_the_page_asked_for(client: TestClient) -> None:
    data = {
        "username": OPERATOR.username,
        "password": "wrong",
        "login_token": login_form_token(client),
        "next": "/ui/cases/X-1",
    }
    refused = client.post("/ui/login", data=data)
    assert refused.status_code == 401
    assert 'name="next" value="/ui/cases/X-1"' in refused.text
