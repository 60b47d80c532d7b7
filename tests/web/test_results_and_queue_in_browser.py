"""The analyst's workbench in a real headless browser, every page checked for CSP violations
and accessibility (tests/web/page_checks.py): the operator's results page after an upload,
and a reviewer working through the queue: compare (zoom, overlay), decide with the feature
notes, see "recorded" and go on to the next candidate."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from retroface.services import App
from retroface.services.cases.review import show_candidate
from retroface.services.search.photos import search
from tests.conftest import DATA, EXAMPLES, OPERATOR, REVIEWER, SUPERVISOR
from tests.helpers import authorised_case, gallery_with
from tests.web.page_checks import screenshot

pytest.importorskip("playwright.sync_api")
pytest.importorskip("axe_playwright_python")
pytestmark = pytest.mark.needs_data

TRAIN = EXAMPLES / "knn_examples" / "train"
OBAMA_PROBE = EXAMPLES / "knn_examples" / "test" / "obama1.jpg"
BIDEN_PROBE = DATA / "lfw" / "Joseph_Biden" / "Joseph_Biden_0001.jpg"


@pytest.fixture
def server_url(app: App, ui_server: str) -> Iterator[str]:
    gallery_with(
        app,
        "custody",
        {
            "obama": sorted((TRAIN / "obama").iterdir()),  # two: the comparison shows both
            # Both: LFW's Biden scores 0.929 against the first alone, on the floor's edge.
            "biden": sorted((TRAIN / "biden").iterdir()),
            "alex": [TRAIN / "alex_lacamoire" / "img1.jpg"],
        },
    )
    authorised_case(app, "WB-1")
    yield ui_server


def test_the_operator_uploads_evidence_and_sees_every_face_with_its_candidates(
    server_url: str, checks: Any
) -> None:
    operator = checks.log_in(server_url, OPERATOR.username, start="/ui/cases/WB-1")
    assert operator.get_by_role("cell").count() == 0  # no search yet: an empty state
    assert "No search has been run" in operator.locator("p.empty").inner_text()
    operator.get_by_label("Gallery").select_option("custody")
    operator.get_by_label("Evidence (photos or video)").set_input_files(
        [str(OBAMA_PROBE), str(BIDEN_PROBE)]
    )
    operator.get_by_label("Where the evidence came from").select_option("cctv")
    operator.get_by_label("Supplied by (name and organisation)").fill("DC Test, Test Police")
    operator.get_by_role("button", name="Search").click()
    operator.get_by_role("heading", name="Search: done").wait_for(timeout=120_000)
    checks.check(operator)
    with operator.expect_navigation():
        operator.get_by_role("link", name="See the results").click()
    checks.check(operator)

    assert operator.get_by_role("heading", name="Results of search").is_visible()
    facts = operator.locator("dl.facts").first.inner_text()
    assert "custody, version" in facts and "officer-1" in facts
    faces = operator.locator("section.probe-face")
    assert faces.count() == 2
    assert "2 face(s): 2 searched" in operator.get_by_role("status").inner_text()
    for index, (evidence, subject) in enumerate([(OBAMA_PROBE, "obama"), (BIDEN_PROBE, "biden")]):
        face = faces.filter(has_text=evidence.name)
        assert face.count() == 1, f"no section for {evidence.name}"
        assert face.get_by_alt_text("as found in the evidence").is_visible()
        assert "searched" in face.locator("figcaption").inner_text()
        best = face.locator("li.candidate-tile").first
        assert best.get_by_role("link").inner_text() == subject
        assert best.get_by_alt_text(f"Reference face of {subject}").is_visible()
        text = best.locator(".score-text").inner_text()  # "score S · bar B (scale L–1)"
        score, bar = float(text.split()[1]), float(text.split()[4])
        low = float(text.split("scale ")[1].split("–")[0])
        assert low < bar <= score, text
        fill = float((best.locator("rect.score-fill").get_attribute("width") or "")[:-1])
        mark = float((best.locator("line.score-bar-mark").get_attribute("x1") or "")[:-1])
        assert fill == pytest.approx(100 * (score - low) / (1 - low), abs=0.3), f"face {index}"
        assert mark == pytest.approx(100 * (bar - low) / (1 - low), abs=0.1), f"face {index}"
        assert "unreviewed" in best.locator(".badge").inner_text()
    screenshot(operator, "10-operator-search-results")

    # The operator opens the comparison of their own case's candidate, with no decision form.
    with operator.expect_navigation():
        faces.first.locator("li.candidate-tile").first.get_by_role("link").click()
    checks.check(operator)
    assert operator.get_by_alt_text("Probe face from the evidence").is_visible()
    assert operator.get_by_role("button", name="Possible match").count() == 0
    assert operator.get_by_role("group", name="Face shape").count() == 0

    # The case page lists the search with a link to its results.
    operator.goto(f"{server_url}/ui/cases/WB-1")
    checks.check(operator)
    assert operator.get_by_role("link", name="Results ").count() == 1
    screenshot(operator, "16-case-page-searches")


def test_a_reviewer_works_through_the_queue_comparing_and_noting_features(
    app: App, server_url: str, checks: Any
) -> None:
    report = search(app, "WB-1", "custody", [OBAMA_PROBE, BIDEN_PROBE])
    pending = sorted(c.candidate_id for p in report.probes for c in p.candidates)
    assert len(pending) >= 2

    page = checks.log_in(server_url, REVIEWER.username, start="/ui/queue")
    rows = page.locator("tbody tr")
    assert rows.count() == len(pending)
    shown = [int(t.lstrip("#")) for t in rows.locator("td:first-child a").all_inner_texts()]
    assert shown == pending  # oldest first
    assert set(rows.locator(".badge").all_inner_texts()) == {"awaiting your independent decision"}
    page.get_by_label("Case").select_option("WB-1")
    page.get_by_label("Search").select_option(report.search_id)
    with page.expect_navigation():
        page.get_by_role("button", name="Filter").click()
    checks.check(page)
    assert page.locator("tbody tr").count() == len(pending)
    screenshot(page, "11-reviewer-queue")
    with page.expect_navigation():
        page.get_by_role("link", name="Start with the oldest").click()
    checks.check(page)
    assert page.url.endswith(f"/ui/candidates/{pending[0]}?case=WB-1&search={report.search_id}")

    # The comparison tools (compare.js): zoom moves both faces together; the overlay.
    probe = page.get_by_alt_text("Probe face from the evidence")
    reference = page.locator(".compare-pair img.zoomable").nth(1)
    page.get_by_role("button", name="Zoom in").click()
    page.get_by_role("button", name="Zoom in").click()
    for image in (probe, reference):
        assert "scale(1.5625)" in (image.get_attribute("style") or "")
    probe.hover()
    page.mouse.wheel(0, -100)
    assert "scale(1.95" in (reference.get_attribute("style") or "")
    page.get_by_role("button", name="Overlay").click()
    assert page.locator("#compare-overlay").is_visible()
    assert page.locator("#compare-pair").is_hidden()
    page.get_by_label("Reference opacity").fill("30")
    top = page.get_by_alt_text("Reference face, laid over the probe")
    assert "opacity: 0.3" in (top.get_attribute("style") or "")
    flicker = page.get_by_role("button", name="Flicker")
    flicker.click()
    assert flicker.get_attribute("aria-pressed") == "true"
    page.wait_for_timeout(800)
    assert top.get_attribute("style") is not None
    flicker.click()
    screenshot(page, "12-reviewer-overlay")
    page.get_by_role("button", name="Side by side").click()
    assert page.locator("#compare-pair").is_visible()
    assert page.locator("ul.thumbs figure.matched").count() == 1  # every reference image
    assert page.get_by_alt_text("the probe face boxed in yellow").is_visible()
    checks.check(page)
    screenshot(page, "13-reviewer-compares")
    page.set_viewport_size({"width": 820, "height": 1000})  # a narrow window: one column
    screenshot(page, "13b-reviewer-compares-narrow")
    page.set_viewport_size({"width": 1366, "height": 900})

    # Decide with the feature notes: "recorded", and on to the next candidate.
    for feature, finding in (
        ("Face shape", "similar"),
        ("Nose", "similar"),
        ("Ears", "not visible"),
    ):
        page.get_by_role("group", name=feature, exact=True).get_by_label(finding).check()
    page.get_by_label("Reason").fill("nose and face shape alike; ears hidden")
    with page.expect_navigation():
        page.get_by_role("button", name="Possible match").click()
    checks.check(page)
    assert f"/ui/candidates/{pending[1]}?" in page.url
    assert (
        page.get_by_role("status")
        .inner_text()
        .startswith(f"Decision on candidate #{pending[0]} recorded.")
    )
    screenshot(page, "14-reviewer-recorded-next")
    notes = show_candidate(app.acting_as(SUPERVISOR), pending[0]).reviews[0].notes
    assert notes == {"face-shape": "similar", "nose": "similar", "ears": "not-visible"}

    for candidate in pending[1:]:
        page.get_by_label("Reason").fill("different eyebrows and mouth")
        page.get_by_role("group", name="Mouth").get_by_label("different").check()
        with page.expect_navigation():
            page.get_by_role("button", name="No match").click()
        checks.check(page)
        assert f"#{candidate} recorded" in page.get_by_role("status").inner_text()
    assert page.url.startswith(f"{server_url}/ui/queue?")
    assert "Nothing awaits your decision in case WB-1" in page.locator("p.empty").inner_text()
    screenshot(page, "15-reviewer-queue-done")

    # A forged feature is refused with the list, as a page (no traceback); nothing stored.
    page.goto(f"{server_url}/ui/candidates/{pending[1]}")
    checks.check(page)
    page.locator("input[name='note-nose'][value='similar']").evaluate(
        "e => { e.name = 'note-chin'; e.checked = true; }"
    )
    page.get_by_label("Reason").fill("the chin")
    with page.expect_navigation():
        page.get_by_role("button", name="Possible match").click()
    checks.check(page)
    assert "unknown compared feature 'chin'" in page.get_by_role("alert").inner_text()
    decided = show_candidate(app.acting_as(SUPERVISOR), pending[1]).reviews
    assert [r.outcome for r in decided] == ["no-match"]
