"""Probe enhancement over HTTP: the search form takes the steps, a preview shows the enhanced
image without searching or keeping anything, and bad steps are refused before a byte is
stored."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image
from sqlalchemy import select

from retroface.media import load_image
from retroface.media.enhancement import apply_steps, parse_steps
from retroface.services import App
from retroface.services.biometrics.uploaded_files import case_upload_files
from retroface.store.models import AuditEvent, MediaItem, Search
from tests.api.conftest import login
from tests.api.test_http_workflow import _finished, _upload
from tests.conftest import OPERATOR, REVIEWER
from tests.helpers import authorised_case, gallery_with
from tests.services.search.test_enhanced_probe import PEOPLE, night_still

pytestmark = pytest.mark.needs_data
API = "/api/v1"
SOURCE = {"source_type": "cctv", "supplied_by": "PC 1234, Camden CCTV suite"}
STEPS = [{"op": "gamma", "gamma": 0.5}, {"op": "clahe", "clip": 2.0, "tile": 8}]


def test_the_search_form_takes_enhancement_steps_and_the_candidates_are_flagged(
    client: TestClient, app: App, data: Path, tmp_path: Path
) -> None:
    lfw = data / "lfw"
    gallery_with(app, "leaders", {n: [lfw / n / f"{n}_0001.jpg"] for n in PEOPLE})
    case = authorised_case(app.acting_as(OPERATOR), "OP-ENH-1")
    still = night_still(data, tmp_path / "evidence")
    operator = login(client, OPERATOR.username)

    started = client.post(
        f"{API}/cases/{case}/searches",
        data={
            "gallery": "leaders",
            "enhance": json.dumps(STEPS),
            # The floor judges the dark original, not its brightened copy: a recorded reason.
            "low_quality_reason": "the only image of the suspect",
            **SOURCE,
        },
        files=_upload([still], "image/png"),
        headers=operator,
    )
    assert started.status_code == 202, started.text
    job = _finished(client, started.json()["id"], operator)
    assert job["status"] == "done", job
    (probe,) = job["result"]["probes"]
    assert probe["candidates"][0]["subject"] == "Tony_Blair"
    assert "justification" in probe["warning"]
    assert probe["enhancement"] == ["gamma:gamma=0.5", "clahe:clip=2,tile=8"]
    with app.unit_of_work() as uow:
        media = uow.session.scalars(select(MediaItem)).one()
        assert media.enhancement is not None and media.enhancement["steps"] == STEPS
        source = Path(media.source_path)
        steps = uow.session.scalars(
            select(AuditEvent.details).where(AuditEvent.action == "probe.enhancement_step")
        ).all()
        assert [s["op"] for s in steps] == ["gamma", "clahe"]
    # Only the original upload is kept with the case (no enhanced copy).
    (kept,) = case_upload_files(app.settings.home, case)
    assert source == kept.resolve()

    # Bad steps: refused before a byte is stored, with a message that says what to fix.
    bad = client.post(
        f"{API}/cases/{case}/searches",
        data={"gallery": "leaders", "enhance": '[{"op": "gamma", "gamma": 20}]', **SOURCE},
        files=_upload([still], "image/png"),
        headers=operator,
    )
    assert bad.status_code in (400, 422), bad.text
    assert "gamma must be between 0.1 and 10" in bad.text
    assert case_upload_files(app.settings.home, case) == [kept]
    with app.unit_of_work() as uow:
        assert len(uow.session.scalars(select(Search)).all()) == 1


def test_a_preview_returns_the_enhanced_image_and_keeps_nothing(
    client: TestClient, app: App, data: Path, tmp_path: Path
) -> None:
    case = authorised_case(app.acting_as(OPERATOR), "OP-ENH-2")
    still = night_still(data, tmp_path / "evidence")
    operator = login(client, OPERATOR.username)
    preview = client.post(
        f"{API}/cases/{case}/probe-preview",
        data={"enhance": json.dumps(STEPS)},
        files=_upload([still], "image/png"),
        headers=operator,
    )
    assert preview.status_code == 200, preview.text
    assert preview.headers["content-type"] == "image/png"
    shown = np.asarray(Image.open(io.BytesIO(preview.content)).convert("RGB"))
    expected = apply_steps(load_image(still).pixels, parse_steps(["gamma:0.5", "clahe"]))
    assert shown.tobytes() == expected.tobytes()
    assert case_upload_files(app.settings.home, case) == []
    with app.unit_of_work() as uow:
        (event,) = uow.session.scalars(
            select(AuditEvent).where(AuditEvent.action == "probe.enhancement_previewed")
        ).all()
        assert event.actor == OPERATOR.username and event.details["steps"] == STEPS
        assert event.details["source"] == still.name
        assert uow.session.scalars(select(Search)).all() == []

    # Listing the faces of the enhanced image takes the same steps.
    listed = client.post(
        f"{API}/cases/{case}/probe-faces",
        data={"enhance": json.dumps([{"op": "upscale", "factor": 2}])},
        files=_upload([still], "image/png"),
        headers=operator,
    )
    assert listed.status_code == 200, listed.text
    assert listed.json()["faces"][0]["box"][2] > 150  # a 250 px photo, doubled

    # A reviewer may not preview (no search rights); a refusal stores nothing.
    reviewer = login(client, REVIEWER.username)
    refused = client.post(
        f"{API}/cases/{case}/probe-preview",
        data={"enhance": json.dumps(STEPS)},
        files=_upload([still], "image/png"),
        headers=reviewer,
    )
    assert refused.status_code == 403, refused.text
    assert case_upload_files(app.settings.home, case) == []
