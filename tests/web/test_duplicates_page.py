"""The duplicate-records page: a supervisor sees each reported pair's faces side by side and
decides it with a reason; a missing reason is shown on the page; others are refused."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from retroface.services import App
from tests.api.conftest import browser_login
from tests.conftest import EXAMPLES, OPERATOR, SUPERVISOR
from tests.helpers import gallery_with

pytestmark = pytest.mark.needs_data
PAGE = "/ui/galleries/custody/duplicates"


def test_a_supervisor_compares_a_reported_pair_and_merges_it(client: TestClient, app: App) -> None:
    gallery_with(
        app,
        "custody",
        {"barack obama": [EXAMPLES / "obama.jpg"], "b. obama (alias)": [EXAMPLES / "obama2.jpg"]},
    )
    browser_login(client, OPERATOR.username)
    assert client.get(PAGE).status_code == 403
    client.cookies.clear()
    browser_login(client, SUPERVISOR.username)
    page = client.get(PAGE)
    assert page.status_code == 200 and "<script" not in page.text and "style=" not in page.text
    assert page.text.count('src="data:image/png;base64,') == 2
    assert "barack obama and b. obama (alias)" in page.text
    csrf = re.search(r'name="csrf" value="([0-9a-f]+)"', page.text)
    assert csrf is not None
    pair = {"csrf": csrf.group(1), "subject_a": "barack obama", "subject_b": "b. obama (alias)"}
    unexplained = client.post(PAGE, data={**pair, "decision": "merge", "reason": " "})
    assert unexplained.status_code == 422 and "needs a reason" in unexplained.text
    done = client.post(PAGE, data={**pair, "decision": "merge", "reason": "one person"})
    assert done.status_code == 200 and "recorded" in done.text  # followed the redirect
    assert "No pair of records above the bar" in done.text
