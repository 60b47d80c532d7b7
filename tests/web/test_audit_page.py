"""The auditor's audit page: search by user, action, case and dates, a page at a time, the
matching rows as CSV, and the chain with its last signed checkpoint."""

from __future__ import annotations

import csv
import io
import re
from html import unescape
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from retroface.services import App
from retroface.services.galleries.manage import create_gallery
from retroface.services.oversight.audit_checkpoints import (
    checkpoint_audit,
    generate_checkpoint_key,
)
from retroface.settings import Settings
from retroface.store.models import AuditEvent
from tests.api.conftest import browser_login
from tests.conftest import AUDITOR, OPERATOR, SUPERVISOR
from tests.helpers import authorised_case

pytestmark = pytest.mark.needs_data


@pytest.fixture
def settings(settings: Settings, tmp_path: Path) -> Settings:
    """An installation whose audit log is anchored by signed checkpoints."""
    key = tmp_path / "keys" / "checkpoint.pem"
    generate_checkpoint_key(key, settings)
    return settings.with_(checkpoint_key_file=key)


def _auditor(client: TestClient) -> None:
    assert browser_login(client, AUDITOR.username, follow_redirects=False).status_code == 303


def _rows(page: str) -> list[list[str]]:
    body = page.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    return [
        [unescape(re.sub(r"<[^>]+>", "", cell)) for cell in re.findall(r"<td>(.*?)</td>", row)]
        for row in re.findall(r"<tr>(.*?)</tr>", body)
    ]


def _link(page: str, text: str) -> str | None:
    found = re.search(rf'<a href="([^"]+)"[^>]*>{text}</a>', page)
    return unescape(found.group(1)) if found else None


def test_the_auditor_searches_by_user_action_case_and_dates(client: TestClient, app: App) -> None:
    authorised_case(app, "AUD-1")
    authorised_case(app, "AUD-2")
    _auditor(client)
    page = client.get("/ui/audit", params={"user": OPERATOR.username, "action": "case.*"})
    assert page.status_code == 200
    rows = _rows(page.text)
    assert rows and {r[3] for r in rows} == {"case.opened"}
    assert {r[2] for r in rows} == {f"{OPERATOR.username} (operator)"}
    assert {r[5] for r in rows} == {"AUD-1", "AUD-2"}
    assert f"{len(rows)} event(s) match" in page.text
    assert f'id="user" name="user" value="{OPERATOR.username}"' in page.text

    case = _rows(client.get("/ui/audit", params={"case": "AUD-2"}).text)
    assert case and {r[5] for r in case} == {"AUD-2"}
    assert {"case.opened", "case.authorised"} <= {r[3] for r in case}

    today = app.now().date().isoformat()
    dated = client.get("/ui/audit", params={"case": "AUD-2", "from": today, "to": today})
    # The same events, and the audit page's own read of this case just now.
    assert {r[3] for r in _rows(dated.text)} == {"case.opened", "case.authorised", "audit.read"}
    before = client.get("/ui/audit", params={"case": "AUD-2", "to": "2020-01-01"})
    assert "0 event(s) match" in before.text and "<tbody>" not in before.text
    backwards = client.get("/ui/audit", params={"from": today, "to": "2020-01-01"})
    assert backwards.status_code == 422 and "end date is before the start date" in backwards.text
    assert client.get("/ui/audit", params={"from": "2026-13-40"}).status_code == 422
    assert '<option value="case.opened">' in page.text  # the actions offered while typing

    with app.unit_of_work() as uow:
        read = uow.session.scalar(select(AuditEvent).order_by(AuditEvent.id.desc()).limit(1))
        assert read is not None and read.action == "audit.read"
        assert read.details["filters"]["until"] == "2020-01-02T00:00:00+00:00"  # to: whole day


def test_pages_of_results_link_older_and_newer_and_keep_the_search(
    client: TestClient, app: App
) -> None:
    for number in range(30):
        create_gallery(app.acting_as(SUPERVISOR), f"g-{number:02d}")
    _auditor(client)
    first = client.get("/ui/audit", params={"action": "gallery.created", "size": "25"}).text
    assert "30 event(s) match" in first
    newest = _rows(first)
    assert len(newest) == 25 and _link(first, "Newer events") is None
    older = _link(first, "Older events")
    assert older is not None and "action=gallery.created" in older and "size=25" in older
    second = client.get(older).text
    rest = _rows(second)
    assert len(rest) == 5 and _link(second, "Older events") is None
    ids = [int(r[0]) for r in newest + rest]
    assert ids == sorted(ids, reverse=True) and len(set(ids)) == 30
    newer = _link(second, "Newer events")
    assert newer is not None and _link(second, "Newest") is not None
    assert [r[0] for r in _rows(client.get(newer).text)] == [r[0] for r in newest]


def test_the_matching_events_download_as_csv(client: TestClient, app: App) -> None:
    authorised_case(app, "CSV-1")
    _auditor(client)
    page = client.get("/ui/audit", params={"case": "CSV-1"}).text
    csrf = re.search(r'name="csrf" value="([0-9a-f]+)"', page)
    assert csrf is not None
    assert '<input type="hidden" name="case" value="CSV-1">' in page
    exported = client.post("/ui/audit/export", data={"csrf": csrf.group(1), "case": "CSV-1"})
    assert exported.status_code == 200
    assert exported.headers["content-type"].startswith("text/csv")
    assert exported.headers["content-disposition"].startswith('attachment; filename="audit-')
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert rows and {r["case_reference"] for r in rows} == {"CSV-1"}
    assert [r["action"] for r in rows[:2]] == ["case.opened", "case.authorised"]
    assert all(len(r["event_hash"]) == 64 for r in rows)

    forged = client.post("/ui/audit/export", data={"case": "CSV-1"})
    assert forged.status_code == 403 and "did not come from this site" in forged.text


def test_the_chain_is_shown_with_its_last_signed_checkpoint(client: TestClient, app: App) -> None:
    written = checkpoint_audit(app.acting_as(AUDITOR))
    _auditor(client)
    page = client.get("/ui/audit").text
    assert re.search(r'<p role="status" class="chain-ok">Hash chain: <strong>intact</strong>', page)
    assert "anchored: 1 signed checkpoint(s) verify" in page
    assert f"event {written.event_id}, {written.at[:19].replace('T', ' ')} UTC" in page
    assert re.search(r"; \d+ event\(s\) since, not yet anchored", page)
    assert written.key_id in page


def test_only_auditors_see_the_audit_page(client: TestClient) -> None:
    assert browser_login(client, OPERATOR.username, follow_redirects=False).status_code == 303
    assert client.get("/ui/audit").status_code == 403
    assert client.post("/ui/audit/export", data={}).status_code == 403
