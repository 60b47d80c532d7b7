"""The case report: the investigating officer may write it (need to know), 30 candidates fit in
2 MB with every face labelled and still a face, and no candidate is split across PDF pages."""

from __future__ import annotations

import base64
import io
import re
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pytest
from PIL import Image
from sqlalchemy import select

from retroface.errors import AuthorisationError
from retroface.faces import FaceEngine
from retroface.governance.identity import Principal
from retroface.governance.roles import Role
from retroface.services import App
from retroface.services.access.users import add_user
from retroface.services.cases import report as report_module
from retroface.services.cases.manage import assign_to_case
from retroface.services.cases.report import FACE_PX, case_report
from retroface.services.cases.review import review_queue
from retroface.services.deployment.rules import set_threshold_floor
from retroface.services.search.photos import search
from retroface.store.models import AuditEvent
from tests.conftest import ADMIN, EXAMPLES, SUPERVISOR
from tests.helpers import (
    PASSWORD,
    authorised_case,
    gallery_with,
    register_measurement_calibration,
)

pytestmark = pytest.mark.needs_data

MAX_REPORT_BYTES = 2 * 1024 * 1024


def _operator(app: App, name: str) -> App:
    add_user(app.acting_as(ADMIN), name, Role.OPERATOR, PASSWORD)
    return app.acting_as(Principal(name, Role.OPERATOR))


def test_the_investigating_officer_writes_the_report_and_an_officer_off_the_team_cannot(
    app: App,
) -> None:
    gallery_with(app, "g", {"obama": [EXAMPLES / "obama.jpg"]})
    case = authorised_case(app)  # opened by officer-1: the requester
    search(app, case, "g", [EXAMPLES / "obama2.jpg"])

    written = case_report(app, case)
    assert written.candidates == 1
    assert Path(written.pdf).is_relative_to(app.settings.home)

    colleague = _operator(app, "officer-7")  # assigned by the supervisor: on the team
    assign_to_case(app.acting_as(SUPERVISOR), case, "officer-7")
    assert case_report(colleague, case).candidates == 1

    # Attack: an operator from another team writes the report to see the case's faces.
    outsider = _operator(app, "officer-9")
    with pytest.raises(AuthorisationError, match="not on the team"):
        case_report(outsider, case)
    with app.unit_of_work() as uow:
        refused = [
            (e.case_reference, e.details["reason"])
            for e in uow.session.scalars(
                select(AuditEvent).where(
                    AuditEvent.action == "access.refused", AuditEvent.actor == "officer-9"
                )
            )
        ]
        written_by = uow.session.scalars(
            select(AuditEvent.actor).where(AuditEvent.action == "report.case_written")
        ).all()
    assert refused == [(case, "not on the case team")]
    assert written_by == ["officer-1", "officer-7"]


class _PlacedPdf(report_module._Pdf):
    """The report's PDF, noting the page each text, face and label lands on (before and
    after fpdf2 placed it, so an automatic page break inside a call shows)."""

    documents: ClassVar[list[_PlacedPdf]] = []

    def __init__(self) -> None:
        super().__init__()
        self.placed: list[tuple[int, int, str, str, Any]] = []
        self.measuring = False
        _PlacedPdf.documents.append(self)

    def multi_cell(self, w: float, h: float | None = None, text: str = "", **kwargs: Any) -> Any:
        if kwargs.get("dry_run") or self.measuring:  # fpdf2 measures by a call that writes nothing
            outer, self.measuring = not self.measuring, True
            try:
                return super().multi_cell(w, h, text, **kwargs)
            finally:
                if outer:
                    self.measuring = False
        before = self.page
        result = super().multi_cell(w, h, text, **kwargs)
        self.placed.append((before, self.page, "text", text, kwargs.get("align")))
        return result

    def image(self, *args: Any, **kwargs: Any) -> Any:
        before = self.page
        result = super().image(*args, **kwargs)
        self.placed.append((before, self.page, "image", "", None))
        return result

    def cell(
        self, w: float | None = None, h: float | None = None, text: str = "", **kwargs: Any
    ) -> Any:
        before = self.page
        result = super().cell(w, h, text, **kwargs)
        self.placed.append((before, self.page, "cell", text, kwargs.get("align")))
        return result


def _candidate_blocks(placed: list[tuple[int, int, str, str, Any]]) -> list[list[tuple]]:
    """What was placed from each 'Candidate N:' heading to the next heading."""
    blocks: list[list[tuple]] = []
    for entry in placed:
        text = entry[3]
        if entry[2] == "text" and text.startswith("Candidate "):
            blocks.append([entry])
        elif entry[2] == "text" and text in ("Models", "Audit extract"):
            break
        elif blocks:
            blocks[-1].append(entry)
    return blocks


def _smoothness(pixels: np.ndarray) -> float:
    return float(np.abs(np.diff(pixels.astype(np.float32), axis=1)).mean())


def test_thirty_candidates_fit_in_two_megabytes_labelled_and_each_on_one_pdf_page(
    app: App, engine: FaceEngine, data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # 30 candidates cheaply: three colour photos against ten LFW people, each face keeping
    # its ten best at a measurement threshold (which a registered calibration allows).
    people = sorted(p for p in (data / "lfw").iterdir() if p.is_dir())[:10]
    gallery_with(app, "lfw", {p.name: sorted(p.glob("*.jpg"))[:1] for p in people})
    register_measurement_calibration(app, data, tmp_path)
    set_threshold_floor(app.acting_as(ADMIN), 0.01)
    case = authorised_case(app)
    probes = [EXAMPLES / "obama.jpg", EXAMPLES / "obama2.jpg", EXAMPLES / "biden.jpg"]
    search(app, case, "lfw", probes, threshold=0.01, max_candidates=10)
    monkeypatch.setattr(report_module, "_Pdf", _PlacedPdf)
    _PlacedPdf.documents.clear()

    written = case_report(app, case)

    assert written.candidates == 30
    pdf_bytes, html_bytes = Path(written.pdf).stat().st_size, Path(written.html).stat().st_size
    print(f"30 candidates: PDF {pdf_bytes} bytes, HTML {html_bytes} bytes")
    assert pdf_bytes <= MAX_REPORT_BYTES and html_bytes <= MAX_REPORT_BYTES

    html = Path(written.html).read_text(encoding="utf-8")
    assert html.count("<main>") == 1 and html.count("</main>") == 1
    assert "justify" not in html and "text-align: left" in html
    assert html.count("<figcaption>probe</figcaption>") == 30
    assert html.count("<figcaption>reference</figcaption>") == 30
    assert "data:image/png" not in html
    faces = re.findall(r'src="data:image/jpeg;base64,([^"]+)"', html)
    assert len(faces) == 60
    # Small, yet still a face: the engine finds one in each probe view.
    for encoded in faces[::2]:
        with Image.open(io.BytesIO(base64.b64decode(encoded))) as image:
            assert image.format == "JPEG" and image.size == (FACE_PX, FACE_PX)
            pixels = np.asarray(image.convert("RGB"))
        assert engine.detector.detect(pixels), "a report face the engine cannot find"
        assert _smoothness(pixels) > 2.0  # not a blur: detail survives the JPEG
    # What the report already showed per candidate stays: the bar and the quality warning.
    reviews = review_queue(app, case_reference=case)
    for review in reviews:
        if review.expected_fpir is not None:
            assert f"expected FPIR {100 * review.expected_fpir:.2f}%" in html
        if review.probe_warning:
            assert review.probe_warning in html

    (document,) = _PlacedPdf.documents
    blocks = _candidate_blocks(document.placed)
    assert len(blocks) == 30
    first_pages: list[int] = []
    for block in blocks:
        heading = block[0]
        pages = {p for entry in block for p in entry[:2]}
        assert pages == {heading[0]}, f"{heading[3]} is split over pages {sorted(pages)}"
        assert [e[3] for e in block if e[2] == "cell"] == ["probe", "reference"]
        assert sum(1 for e in block if e[2] == "image") == 2
        assert {e[4] for e in block if e[2] == "text"} == {"L"}  # left-aligned, not justified
        first_pages.append(heading[0])
    assert len(set(first_pages)) >= 5, "30 candidates should run over several pages"
