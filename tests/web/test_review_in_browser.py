"""End to end in a real headless browser (Debian's Chromium driven by Playwright): an operator
searches, two reviewers confirm, an auditor reads the trail; every page they visit is checked
for CSP violations and accessibility (tests/web/page_checks.py). Screenshots go to
test-artifacts/."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from retroface.services import App
from retroface.services.galleries.manage import set_live_watchlist
from retroface.services.live.run import LiveOptions, run_live
from tests.api.conftest import SECOND_REVIEWER
from tests.conftest import AUDITOR, EXAMPLES, OPERATOR, REVIEWER, SUPERVISOR
from tests.helpers import authorised_case, gallery_with, live_deployment
from tests.web.page_checks import screenshot

pytest.importorskip("playwright.sync_api")
pytest.importorskip("axe_playwright_python")
pytestmark = pytest.mark.needs_data


@pytest.fixture
def server_url(app: App, ui_server: str) -> Iterator[str]:
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
    yield ui_server


def test_operator_searches_two_reviewers_confirm_auditor_sees_the_trail(
    server_url: str, checks: Any
) -> None:
    probe = EXAMPLES / "knn_examples" / "test" / "obama1.jpg"

    operator = checks.log_in(server_url, OPERATOR.username)
    operator.get_by_role("link", name="OP-WEB-1").click()
    checks.check(operator)
    operator.get_by_label("Gallery").select_option("custody")
    operator.get_by_label("Evidence (photos or video)").set_input_files(str(probe))
    operator.get_by_label("Where the evidence came from").select_option("cctv")
    operator.get_by_label("Supplied by (name and organisation)").fill("DC Test, Test Police")
    operator.get_by_role("button", name="Search").click()
    operator.get_by_role("heading", name="Search: done").wait_for(timeout=120_000)
    checks.check(operator)
    assert "investigative lead" in operator.content()
    assert "1 with candidates" in operator.get_by_role("status").inner_text()
    screenshot(operator, "1-operator-search-done")

    for number, reviewer in enumerate((REVIEWER, SECOND_REVIEWER), start=1):
        page = checks.log_in(server_url, reviewer.username)
        page.goto(f"{server_url}/ui/cases/OP-WEB-1/review")
        checks.check(page)
        page.get_by_role("row", name="obama").get_by_role("link").click()
        checks.check(page)
        assert page.get_by_alt_text("Probe face from the evidence").is_visible()
        assert page.get_by_alt_text("Reference face of obama").is_visible()
        screenshot(page, f"{number + 1}-reviewer-{number}-compares")
        page.get_by_label("Reason").fill("same hairline, ears and nose shape")
        candidate_page = page.url
        with page.expect_navigation():
            page.get_by_role("button", name="Possible match").click()
        checks.check(page)  # the queue, nothing else awaiting: "recorded"
        assert "recorded" in page.get_by_role("status").inner_text()
    page.goto(candidate_page)
    checks.check(page)
    assert page.locator("#status").inner_text() == "confirmed"
    assert page.locator("#status .badge-confirmed").count() == 1
    assert page.locator("li .badge-possible-match").all_inner_texts() == ["possible match"] * 2
    screenshot(page, "4-confirmed")

    # The operator who ran the search sees how their case's candidates stand, never the
    # decision buttons.
    operator.goto(f"{server_url}/ui/cases/OP-WEB-1/review")
    checks.check(operator)
    assert "confirmed" in operator.locator("table").inner_text()
    assert operator.get_by_role("button", name="Possible match").count() == 0

    auditor = checks.log_in(server_url, AUDITOR.username)
    auditor.get_by_role("link", name="Audit log").click()
    checks.check(auditor)
    trail = auditor.locator("table").inner_text()
    assert "candidate.reviewed" in trail and "search.started" in trail
    assert "intact" in auditor.get_by_role("status").inner_text()
    screenshot(auditor, "5-auditor-trail")


def test_an_officer_adjudicates_a_live_alert_in_the_queue(
    server_url: str, checks: Any, app: App, data: Path
) -> None:
    gallery_with(app, "wanted", {"lin-manuel-miranda": [EXAMPLES / "lin-manuel-miranda.png"]})
    set_live_watchlist(app.acting_as(SUPERVISOR), "wanted", True)
    live_deployment(app.acting_as(SUPERVISOR), "LFR-WEB", "wanted")
    clip = data / "video" / "short_hamilton_clip.mp4"
    assert run_live(app, "LFR-WEB", str(clip), options=LiveOptions(max_seconds=3)).alerts

    page = checks.log_in(server_url, REVIEWER.username)
    page.get_by_role("link", name="LFR-WEB").click()
    checks.check(page)
    assert page.get_by_alt_text("Face seen by the camera").first.is_visible()
    assert page.get_by_alt_text("Watchlist photo of lin-manuel-miranda").first.is_visible()
    screenshot(page, "6-live-alert-queue")
    alert = page.locator("section.alert").last
    alert.get_by_label("Engaged", exact=True).check()
    alert.get_by_label("Note (the result of the engagement)").fill("spoken to, identity confirmed")
    with page.expect_navigation():
        alert.get_by_role("button", name="True alert").click()
    checks.check(page)
    decided = page.locator("section.alert").filter(has_text="Decided by")
    assert "true-alert, engaged" in decided.first.inner_text()
    screenshot(page, "7-live-alert-decided")
