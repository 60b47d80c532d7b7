"""The analyst's workbench in a real headless browser, every page checked for CSP violations
and accessibility (tests/web/page_checks.py): the footage timeline drawn to the clip's
length, the auditor's search of the log with its pages and CSV, a log-in that returns to the
page asked for, and the admin's and error pages."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import pytest

from retroface.media.video_reader import probe_video
from retroface.services import App
from retroface.services.cases.review import review_queue
from retroface.services.galleries.manage import create_gallery
from retroface.services.oversight.audit_checkpoints import (
    checkpoint_audit,
    generate_checkpoint_key,
)
from retroface.services.search.photos import search
from retroface.settings import Settings
from tests.conftest import ADMIN, AUDITOR, EXAMPLES, REVIEWER, SUPERVISOR
from tests.helpers import authorised_case, gallery_with
from tests.web.page_checks import screenshot

pytest.importorskip("playwright.sync_api")
pytest.importorskip("axe_playwright_python")
pytestmark = pytest.mark.needs_data


@pytest.fixture
def settings(settings: Settings, tmp_path: Path) -> Settings:
    """An installation whose audit log is anchored by signed checkpoints."""
    key = tmp_path / "keys" / "checkpoint.pem"
    generate_checkpoint_key(key, settings)
    return settings.with_(checkpoint_key_file=key)


def test_the_footage_timeline_places_each_candidate_at_its_time_in_the_clip(
    app: App, ui_server: str, checks: Any, data: Path
) -> None:
    clip = data / "video" / "short_hamilton_clip.mp4"
    gallery_with(app, "cast", {"lin-manuel-miranda": [EXAMPLES / "lin-manuel-miranda.png"]})
    authorised_case(app, "CLIP-B")
    footage = search(app, "CLIP-B", "cast", [clip])
    times = sorted(
        c.timestamp_s
        for c in review_queue(app.acting_as(SUPERVISOR), case_reference="CLIP-B")
        if c.timestamp_s is not None
    )
    length = probe_video(clip).duration_s
    assert len(times) >= 2 and length is not None

    # The link is opened before logging in: the log-in leads back to it.
    page = checks.log_in(ui_server, REVIEWER.username, start="/ui/cases/CLIP-B/review")
    track = page.locator("svg.timeline-chart rect.timeline-track").bounding_box()
    markers = page.locator("svg.timeline-chart rect.timeline-marker")
    assert track is not None and track["width"] > 500 and markers.count() == len(times)
    for index, when in enumerate(times):
        box = markers.nth(index).bounding_box()
        assert box is not None and box["width"] >= 3
        at = (box["x"] + box["width"] / 2 - track["x"]) / track["width"]
        assert at == pytest.approx(when / length, abs=0.01), f"the marker of {when:.1f} s"
    assert page.locator("svg.timeline-chart text").last.text_content() == f"{length:.1f} s"
    screenshot(page, "8-footage-timeline")

    with page.expect_navigation():
        page.get_by_role("link", name=f"#{markers.first.get_attribute('data-candidate')}").click()
    checks.check(page)
    # A footage candidate's comparison: the sighting's best views within its time range.
    best = page.get_by_role("heading", name="Best views of sighting")
    assert best.is_visible() and page.locator("ul.thumbs img").count() >= 2
    screenshot(page, "17-footage-candidate")
    # The frame scrubber: frames of the sighting's range from the evidence, one at a time.
    frames = page.locator(".scrub-frames li")
    assert frames.count() >= 2
    slider = page.get_by_label("Step through the frames")
    assert frames.nth(0).is_visible() and not frames.nth(1).is_visible()
    slider.focus()
    page.keyboard.press("ArrowRight")
    assert frames.nth(1).is_visible() and not frames.nth(0).is_visible()
    shown = float(page.locator("#scrub-time").inner_text().split()[0])
    assert shown == pytest.approx(float(frames.nth(1).get_attribute("data-time") or "nan"))
    checks.check(page)
    screenshot(page, "19-footage-scrubber")

    # The search's results: its sightings, each with its time range and candidates.
    page.goto(f"{page.url.split('/ui/')[0]}/ui/searches/{footage.search_id}")
    checks.check(page)
    assert page.locator("section.probe-face h2").first.inner_text().count("sighting #") == 1
    # each sighting's bar says it allows for how closely its fused views agree
    assert (
        "the bar of a sighting whose views agree"
        in page.locator("section.probe-face").first.inner_text()
    )
    screenshot(page, "18-footage-search-results")


def test_the_auditor_searches_the_log_pages_through_it_and_downloads_it(
    app: App, ui_server: str, checks: Any
) -> None:
    for number in range(30):
        create_gallery(app.acting_as(SUPERVISOR), f"gallery-{number:02d}")
    checkpoint = checkpoint_audit(app.acting_as(AUDITOR))

    page = checks.log_in(ui_server, AUDITOR.username, start="/ui/audit")
    status = page.get_by_role("status").inner_text()
    assert status.startswith("Hash chain: intact")
    assert f"event {checkpoint.event_id}" in page.locator("dl.facts").inner_text()
    today = app.now().date().isoformat()
    page.get_by_label("User").fill(SUPERVISOR.username)
    page.get_by_label("Action").fill("gallery.*")
    page.get_by_label("From (UTC)").fill(today)
    page.get_by_label("To (UTC)").fill(today)
    page.get_by_label("Rows per page").select_option("25")
    with page.expect_navigation():
        page.get_by_role("button", name="Search").click()
    checks.check(page)
    assert "30 event(s) match" in page.locator("#matching").inner_text()
    assert page.locator("tbody tr").count() == 25
    screenshot(page, "9-audit-search")

    with page.expect_navigation():
        page.get_by_role("link", name="Older events").click()
    checks.check(page)
    assert page.locator("tbody tr").count() == 5
    assert page.get_by_label("User").input_value() == SUPERVISOR.username

    with page.expect_download() as download:
        page.get_by_role("button", name="Export the 30 matching event(s) as CSV").click()
    sheet = Path(download.value.path()).read_text(encoding="utf-8")
    rows = list(csv.DictReader(io.StringIO(sheet)))
    assert len(rows) == 30 and {r["action"] for r in rows} == {"gallery.created"}
    assert {r["actor"] for r in rows} == {SUPERVISOR.username}


def test_the_admins_page_an_error_page_and_the_case_report_pass_the_checks(
    app: App, ui_server: str, checks: Any
) -> None:
    page = checks.log_in(ui_server, ADMIN.username, start="/ui/users")
    assert page.get_by_role("heading", name="Users").is_visible()
    page.goto(f"{ui_server}/ui/cases/NO-SUCH-CASE")
    checks.check(page)
    assert page.get_by_role("alert").is_visible()
    assert "Error</h1>" not in page.content()

    # The HTML case report: a document of its own, whose style sheet its own CSP allows.
    authorised_case(app, "REPORT-B")
    page = checks.log_in(ui_server, SUPERVISOR.username, start="/ui/cases/REPORT-B")
    with page.expect_navigation():
        page.get_by_role("button", name="Case report (HTML)").click()
    checks.check(page, structure=False)  # a stand-alone report (its template has no <main>)
    assert page.get_by_role("heading", name="Case report REPORT-B").is_visible()
    notice = page.locator("p.notice").first
    assert notice.evaluate("e => getComputedStyle(e).borderLeftStyle") == "solid"  # styled
