"""The web UI without a browser: CSRF, log-in failures, the footage timeline, review badges,
error pages without server paths, and templates the UI's CSP allows."""

from __future__ import annotations

import base64
import hashlib
import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from retroface.media.video_reader import probe_video
from retroface.server import UI_CSP
from retroface.services import App
from retroface.services.cases.review import record_review, review_queue
from retroface.services.results import CandidateReview
from retroface.services.search.photos import search
from retroface.store.models import MediaItem
from retroface.web.pages import (
    _timelines,
    evidence_name,
    standing_badge,
    without_server_paths,
)
from tests.api.conftest import SECOND_REVIEWER, browser_login
from tests.conftest import EXAMPLES, OPERATOR, REVIEWER, SUPERVISOR
from tests.helpers import authorised_case, gallery_with

TEMPLATES = Path(__file__).resolve().parents[2] / "src" / "retroface" / "web" / "templates"

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


def test_footage_candidates_are_drawn_to_the_scale_of_the_clips_real_length(
    client: TestClient, app: App, data: Path
) -> None:
    clip = data / "video" / "short_hamilton_clip.mp4"
    gallery_with(app, "cast", {"lin-manuel-miranda": [EXAMPLES / "lin-manuel-miranda.png"]})
    authorised_case(app, "CLIP-1")
    search(app, "CLIP-1", "cast", [clip])
    queue = review_queue(app.acting_as(SUPERVISOR), case_reference="CLIP-1")
    times = sorted(c.timestamp_s for c in queue if c.timestamp_s is not None)
    assert times, "the clip gave no footage candidates"
    _browser_login(client, REVIEWER.username)
    page = client.get("/ui/cases/CLIP-1/review")
    assert page.status_code == 200
    assert "Footage timeline" in page.text and "short_hamilton_clip.mp4" in page.text
    assert "style=" not in page.text  # the UI's CSP (style-src 'self') blocks inline styles

    # The scale is the clip's real length (9.2 s), not the last candidate's time.
    length = probe_video(clip).duration_s
    assert length is not None and length > times[-1] + 1
    scale = re.search(r'<svg class="timeline-chart"[^>]* data-duration-s="([0-9.]+)"', page.text)
    assert scale is not None and float(scale.group(1)) == pytest.approx(length, abs=0.01)
    assert f"{length:.1f} s" in page.text  # the scale's end mark

    markers = re.findall(
        r'<rect class="timeline-marker marker-([a-z-]+)" x="([0-9.]+)%" y="2" '
        r'width="([0-9.]+)%"[^>]*><title>([^<]+)</title>',
        page.text,
    )
    assert len(markers) == len(times)
    for (standing, x, width, label), when in zip(markers, times, strict=True):
        assert standing == "awaiting"  # this reviewer has not decided yet
        centre = float(x) + float(width) / 2
        assert centre == pytest.approx(100 * when / length, abs=float(width) / 2 + 0.01)
        assert f"at {when:.1f} s" in label and "lin-manuel-miranda" in label


def test_a_clip_without_a_recorded_length_is_drawn_to_its_last_candidate() -> None:
    def candidate(number: int, sha256: str, when: float) -> CandidateReview:
        return CandidateReview.model_construct(
            candidate_id=number, sha256=sha256, source=f"/cases/{sha256}.mp4", timestamp_s=when,
            subject="s", rank=1, score=0.95, status="no-match",
        )  # fmt: skip

    found = [candidate(1, "a", 2.0), candidate(2, "a", 8.0), candidate(3, "b", 3.0)]
    known, unknown = _timelines(found, {"a": 10.0, "b": 1.5})  # b's length is wrong
    assert (known.duration_s, known.duration_known) == (10.0, True)
    assert [m.x + m.width / 2 for m in known.markers] == [20.0, 80.0]
    assert {m.standing for m in known.markers} == {"no-match"}
    assert (unknown.source, unknown.duration_s, unknown.duration_known) == ("b.mp4", 3.0, False)
    assert unknown.markers[0].x == 100 - unknown.markers[0].width  # kept inside the track


def test_possible_match_and_no_match_have_distinct_badges_with_words(
    client: TestClient, app: App
) -> None:
    assert standing_badge("possible-match") == (
        '<span class="badge badge-possible-match">possible match</span>'
    )
    assert standing_badge("no-match") == '<span class="badge badge-no-match">no match</span>'
    assert 'class="badge badge-other"' in standing_badge("<b>odd</b>")
    assert "&lt;b&gt;" in standing_badge("<b>odd</b>")

    gallery_with(app, "custody", {"obama": [EXAMPLES / "obama.jpg"]})
    authorised_case(app, "BADGE-1")
    report = search(app, "BADGE-1", "custody", [EXAMPLES / "obama2.jpg"])
    (candidate,) = [c for p in report.probes for c in p.candidates]
    record_review(app.acting_as(REVIEWER), candidate.candidate_id, "possible-match", "ears")
    record_review(app.acting_as(SECOND_REVIEWER), candidate.candidate_id, "no-match", "chin")
    _browser_login(client, REVIEWER.username)
    page = client.get(f"/ui/candidates/{candidate.candidate_id}").text
    assert '<span class="badge badge-possible-match">possible match</span>' in page
    assert '<span class="badge badge-no-match">no match</span>' in page
    assert '<dd id="status"><span class="badge badge-disputed">disputed</span></dd>' in page
    queue = client.get("/ui/cases/BADGE-1/review").text
    assert '<span class="badge badge-disputed">disputed</span>' in queue
    css = client.get("/ui/static/style.css").text
    for kind in ("possible-match", "no-match", "confirmed", "disputed"):
        assert f".badge-{kind} {{" in css


def test_an_error_page_names_the_uploaded_file_never_its_path_on_the_server(
    client: TestClient, app: App
) -> None:
    gallery_with(app, "custody", {"obama": [EXAMPLES / "obama.jpg"]})
    authorised_case(app, "PATHS-1")
    _browser_login(client, OPERATOR.username)
    case = client.get("/ui/cases/PATHS-1").text
    csrf = re.search(r'name="csrf" value="([0-9a-f]+)"', case)
    assert csrf is not None
    photo = (EXAMPLES / "obama2.jpg").read_bytes()
    started = client.post(
        "/ui/cases/PATHS-1/search",
        data={"csrf": csrf.group(1), "gallery": "custody"},
        files=[("files", ("Holiday photo.jpg", photo, "image/jpeg"))],
        follow_redirects=False,
    )
    assert started.status_code == 303, started.text
    client.app.state.jobs.wait_idle()  # type: ignore[attr-defined]
    assert "Search: done" in client.get(started.headers["location"]).text
    with app.unit_of_work() as uow:
        stored = Path(uow.session.scalars(select(MediaItem.source_path)).one())
    assert stored.is_relative_to(app.settings.home)
    queue = client.get("/ui/cases/PATHS-1/review").text
    assert "<td>Holiday_photo.jpg</td>" in queue  # not as stored (000-Holiday_photo.jpg)
    candidate = re.search(r'href="/ui/candidates/(\d+)"', queue)
    assert candidate is not None

    stored.write_bytes(b"no longer a photo")  # the evidence damaged on the server's disk
    page = client.get(f"/ui/candidates/{candidate.group(1)}")
    # The candidate still shows (its references, facts, decisions) without the probe face,
    # saying why; the decision form is withheld.
    assert page.status_code == 200 and 'name="outcome"' not in page.text
    message = re.search(r'<p class="error" role="alert">([^<]*)</p>', page.text)
    assert message is not None
    assert message.group(1).startswith("Holiday_photo.jpg: ")  # the uploader's file's name
    assert str(app.settings.home) not in page.text and "uploads" not in page.text
    assert stored.parent.name not in page.text and "Error</h1>" not in page.text


def test_paths_inside_the_data_directory_are_shown_as_file_names(tmp_path: Path) -> None:
    home = tmp_path / "data"
    upload = home / "uploads" / "evidence" / "ab12" / "cd34" / "003-cctv_still.png"
    copy = home / "tmp" / "plaintext" / "ef56" / "000-clip.mp4"
    export = home / "exports" / "reports" / "case-report.pdf"
    text = f"{upload}: corrupt; {copy}: no frame at 2.00 s; {export} is gone; {home} is full"
    assert without_server_paths(text, home) == (
        "cctv_still.png: corrupt; clip.mp4: no frame at 2.00 s; case-report.pdf is gone; "
        "the data directory is full"
    )
    assert without_server_paths("/evidence/000-mine.jpg: corrupt", home) == (
        "/evidence/000-mine.jpg: corrupt"  # a path the user named, outside the data directory
    )
    # Evidence as the services show it: an upload by its stored name, a user's file by path.
    assert evidence_name("002-cctv_still.png") == "cctv_still.png"
    assert evidence_name("/cases/evidence/002-cctv_still.png") == "002-cctv_still.png"


def test_the_html_case_report_has_a_policy_of_its_own_allowing_only_its_style_sheet(
    client: TestClient, app: App
) -> None:
    authorised_case(app, "REPORT-1")
    _browser_login(client, SUPERVISOR.username)  # who authorised it
    case = client.get("/ui/cases/REPORT-1").text
    csrf = re.search(r'name="csrf" value="([0-9a-f]+)"', case)
    assert csrf is not None
    report = client.post(
        "/ui/cases/REPORT-1/report", data={"csrf": csrf.group(1), "format": "html"}
    )
    assert report.status_code == 200
    policy = report.headers["content-security-policy"]
    assert policy != UI_CSP and "unsafe-inline" not in policy
    (css,) = re.findall(r"<style>(.*?)</style>", report.text, re.DOTALL)
    digest = base64.b64encode(hashlib.sha256(css.encode()).digest()).decode()
    assert f"style-src 'sha256-{digest}';" in policy
    assert "default-src 'none'" in policy and "img-src data:" in policy


@pytest.mark.parametrize("template", sorted(p.name for p in TEMPLATES.glob("*.html")))
def test_no_template_has_an_inline_style_or_script(template: str) -> None:
    """The UI's CSP (default-src 'none'; style-src 'self'; script-src 'self') blocks them
    all; the one kind of script element allowed loads a file of our own from /ui/static."""
    text = (TEMPLATES / template).read_text(encoding="utf-8")
    text = re.sub(r'<script src="/ui/static/[a-z-]+\.js" defer></script>', "", text)
    assert not re.search(r"\sstyle\s*=", text, re.IGNORECASE)
    assert not re.search(r"<style[\s>]", text, re.IGNORECASE)
    assert not re.search(r"<script[\s>]", text, re.IGNORECASE)
    assert not re.search(r"\son[a-z]+\s*=", text, re.IGNORECASE)  # event handler attributes
    assert "javascript:" not in text.lower()
