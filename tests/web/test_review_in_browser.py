"""End to end in a real headless browser (Debian's Chromium driven by Playwright): an operator
searches, two reviewers confirm, an auditor reads the trail. Screenshots go to test-artifacts/."""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn

from retroface.server import create_server
from retroface.services import App
from retroface.services.galleries.manage import set_live_watchlist
from retroface.services.live.run import LiveOptions, run_live
from tests.api.conftest import SECOND_REVIEWER
from tests.conftest import AUDITOR, EXAMPLES, OPERATOR, REVIEWER, SUPERVISOR
from tests.helpers import (
    PASSWORD,
    authorised_case,
    gallery_with,
    live_deployment,
    register_users,
)

CHROMIUM = os.environ.get("RETROFACE_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
playwright_api = pytest.importorskip("playwright.sync_api")
pytestmark = [
    pytest.mark.needs_data,
    pytest.mark.skipif(not shutil.which(CHROMIUM), reason=f"no Chromium at {CHROMIUM}"),
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def server_url(app: App) -> Iterator[str]:
    register_users(
        app, dict.fromkeys((OPERATOR, SUPERVISOR, REVIEWER, SECOND_REVIEWER, AUDITOR), PASSWORD)
    )
    train = EXAMPLES / "knn_examples" / "train"
    gallery_with(
        app,
        "custody",
        {
            "obama": sorted((train / "obama").iterdir()),
            "biden": sorted((train / "biden").iterdir()),
        },
    )
    authorised_case(app, "OP-WEB-1")
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            create_server(application=app), host="127.0.0.1", port=port, log_level="warning"
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started, "the server did not start"
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=20)


@pytest.fixture
def browser() -> Iterator[object]:
    with playwright_api.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, headless=True)
        yield chromium
        chromium.close()


def _log_in(browser: object, url: str, username: str):  # type: ignore[no-untyped-def]
    page = browser.new_context(viewport={"width": 1366, "height": 900}).new_page()  # type: ignore[attr-defined]
    page.goto(f"{url}/ui/")
    assert page.url.endswith("/ui/login")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{url}/ui/")
    return page


def _shot(page, name: str) -> None:  # type: ignore[no-untyped-def]
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def test_operator_searches_two_reviewers_confirm_auditor_sees_the_trail(
    server_url: str, browser: object
) -> None:
    probe = EXAMPLES / "knn_examples" / "test" / "obama1.jpg"

    operator = _log_in(browser, server_url, OPERATOR.username)
    operator.get_by_role("link", name="OP-WEB-1").click()
    operator.get_by_label("Gallery").select_option("custody")
    operator.get_by_label("Evidence (photos or video)").set_input_files(str(probe))
    operator.get_by_role("button", name="Search").click()
    operator.get_by_role("heading", name="Search: done").wait_for(timeout=120_000)
    assert "investigative lead" in operator.content()
    assert "1 with candidates" in operator.get_by_role("status").inner_text()
    _shot(operator, "1-operator-search-done")

    for number, reviewer in enumerate((REVIEWER, SECOND_REVIEWER), start=1):
        page = _log_in(browser, server_url, reviewer.username)
        page.goto(f"{server_url}/ui/cases/OP-WEB-1/review")
        page.get_by_role("row", name="obama").get_by_role("link").click()
        assert page.get_by_alt_text("Probe face from the evidence").is_visible()
        assert page.get_by_alt_text("Reference face of obama").is_visible()
        _shot(page, f"{number + 1}-reviewer-{number}-compares")
        page.get_by_label("Reason").fill("same hairline, ears and nose shape")
        page.get_by_role("button", name="Possible match").click()
        page.wait_for_load_state()
    assert page.locator("#status").inner_text() == "confirmed"
    _shot(page, "4-confirmed")

    # The operator who ran the search sees how their case's candidates stand, never the
    # decision buttons.
    operator.goto(f"{server_url}/ui/cases/OP-WEB-1/review")
    assert "confirmed" in operator.locator("table").inner_text()
    assert operator.get_by_role("button", name="Possible match").count() == 0

    auditor = _log_in(browser, server_url, AUDITOR.username)
    auditor.get_by_role("link", name="Audit log").click()
    trail = auditor.locator("table").inner_text()
    assert "candidate.reviewed" in trail and "search.started" in trail
    assert "intact" in auditor.get_by_role("status").inner_text()
    _shot(auditor, "5-auditor-trail")


def test_an_officer_adjudicates_a_live_alert_in_the_queue(
    server_url: str, browser: object, app: App, data: Path
) -> None:
    gallery_with(app, "wanted", {"lin-manuel-miranda": [EXAMPLES / "lin-manuel-miranda.png"]})
    set_live_watchlist(app.acting_as(SUPERVISOR), "wanted", True)
    live_deployment(app.acting_as(SUPERVISOR), "LFR-WEB", "wanted")
    clip = data / "video" / "short_hamilton_clip.mp4"
    assert run_live(app, "LFR-WEB", str(clip), options=LiveOptions(max_seconds=3)).alerts

    page = _log_in(browser, server_url, REVIEWER.username)
    page.get_by_role("link", name="LFR-WEB").click()
    assert page.get_by_alt_text("Face seen by the camera").first.is_visible()
    assert page.get_by_alt_text("Watchlist photo of lin-manuel-miranda").first.is_visible()
    _shot(page, "6-live-alert-queue")
    alert = page.locator("section.alert").last
    alert.get_by_label("Engaged", exact=True).check()
    alert.get_by_label("Note (the result of the engagement)").fill("spoken to, identity confirmed")
    alert.get_by_role("button", name="True alert").click()
    page.wait_for_load_state()
    decided = page.locator("section.alert").filter(has_text="Decided by")
    assert "true-alert, engaged" in decided.first.inner_text()
    _shot(page, "7-live-alert-decided")
