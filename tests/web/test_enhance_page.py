"""The enhancement panel: an operator sees a probe image before and after the steps, with the
steps as they will be recorded; nothing is searched or kept, and the preview is audited."""

from __future__ import annotations

import base64
import io
import re
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
from retroface.store.models import AuditEvent, Search
from tests.api.conftest import browser_login
from tests.conftest import OPERATOR
from tests.helpers import authorised_case
from tests.services.search.test_enhanced_probe import night_still

pytestmark = pytest.mark.needs_data


def test_the_panel_shows_before_and_after_and_keeps_nothing(
    client: TestClient, app: App, data: Path, tmp_path: Path
) -> None:
    case = authorised_case(app.acting_as(OPERATOR), "OP-WEB-ENH")
    still = night_still(data, tmp_path / "evidence")
    browser_login(client, OPERATOR.username)
    page = client.get(f"/ui/cases/{case}/enhance")
    assert page.status_code == 200 and "clahe" in page.text
    token = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert token is not None

    shown = client.post(
        f"/ui/cases/{case}/enhance",
        data={"csrf": token.group(1), "steps": "gamma:0.5\nclahe:clip=2.0,tile=8\n"},
        files=[("files", (still.name, still.read_bytes(), "image/png"))],
    )
    assert shown.status_code == 200, shown.text
    assert "gamma:gamma=0.5 &gt; clahe:clip=2,tile=8" in shown.text
    images = re.findall(r'src="data:image/png;base64,([^"]+)"', shown.text)
    assert len(images) == 2  # before (as uploaded) and after
    assert base64.b64decode(images[0]) == still.read_bytes()
    after = np.asarray(Image.open(io.BytesIO(base64.b64decode(images[1]))).convert("RGB"))
    expected = apply_steps(load_image(still).pixels, parse_steps(["gamma:0.5", "clahe"]))
    assert after.tobytes() == expected.tobytes()
    assert case_upload_files(app.settings.home, case) == []
    with app.unit_of_work() as uow:
        assert uow.session.scalars(select(Search)).all() == []
        (event,) = uow.session.scalars(
            select(AuditEvent).where(AuditEvent.action == "probe.enhancement_previewed")
        ).all()
        assert event.actor == OPERATOR.username

    refused = client.post(
        f"/ui/cases/{case}/enhance",
        data={"csrf": token.group(1), "steps": "gamma:20"},
        files=[("files", (still.name, still.read_bytes(), "image/png"))],
    )
    assert refused.status_code == 422 and "gamma must be between 0.1 and 10" in refused.text
