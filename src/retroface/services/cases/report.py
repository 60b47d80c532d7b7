"""The case report: what was searched, under which authorisation, what was found and decided.

One HTML page and one PDF with the probe and reference faces of every
candidate, the reviewers' decisions, the thresholds and models used, the
authorisation and the case's audit extract: what a disclosure officer, a
court or an oversight body needs to see how a lead came about. Both files
hold faces, so they are written only inside the data directory, and
writing them is audited (ids and counts, never the images).
"""

from __future__ import annotations

import base64
import io
import uuid
from pathlib import Path
from typing import Any

from fpdf import FPDF
from jinja2 import Environment, FileSystemLoader, select_autoescape
from pydantic import BaseModel
from sqlalchemy import select

from retroface.errors import NotFoundError
from retroface.faces.model_cards import model_cards
from retroface.governance.roles import Action
from retroface.services.app import App
from retroface.services.biometrics.face_views import FacePair, candidate_views
from retroface.services.biometrics.sealed_files import write_protected_file
from retroface.services.cases.manage import show_case
from retroface.services.cases.review import review_queue
from retroface.services.results import (
    LEAD_NOTICE,
    AuditEventOut,
    CandidateReview,
    CaseDetail,
    event_out,
)
from retroface.store.models import AuditEvent, Gallery, Search
from retroface.store.unit_of_work import UnitOfWork

_TEMPLATES = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=select_autoescape(["html"]),
)
_UNICODE_FONT = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")


class CaseReportFiles(BaseModel):
    html: str
    pdf: str
    candidates: int
    audit_events: int


def case_report(app: App, reference: str) -> CaseReportFiles:
    """Write the case's report as HTML and PDF under ``exports/case-reports/``."""
    principal = app.require(Action.REPORT_CASE, case_reference=reference)
    case = show_case(app, reference)
    reviews = review_queue(app, case_reference=reference)
    with app.unit_of_work() as uow:
        case_row = uow.cases.require(reference)
        case_id = case_row.id
        searches = [
            {
                "id": s.id,
                "started_at": s.started_at.strftime("%Y-%m-%d %H:%M"),
                "requested_by": s.requested_by,
                "gallery": gallery,
                "gallery_version": s.gallery_version,
                "threshold": s.threshold,
                "model": f"{s.model_name}@{s.model_version[:12]}",
                "engine": s.engine or "not recorded (before migration 0009)",
                "status": s.status,
            }
            for s, gallery in uow.session.execute(
                select(Search, Gallery.name)
                .join(Gallery, Search.gallery_id == Gallery.id)
                .where(Search.case_id == case_row.id)
                .order_by(Search.started_at)
            )
        ]
        faces = {r.candidate_id: _faces(uow, r.candidate_id) for r in reviews}
        events = [
            event_out(e)
            for e in uow.session.scalars(
                select(AuditEvent)
                .where(AuditEvent.case_reference == reference)
                .order_by(AuditEvent.id)
            )
        ]
        head = uow.session.scalar(select(AuditEvent.event_hash).order_by(AuditEvent.id.desc()))
    used = {s["model"].split("@")[0] for s in searches}
    models = [
        m for m in model_cards() if m.kind != "embedder" or m.name.split(" ")[0] in used
    ] or list(model_cards())
    written_at = app.now()
    context: dict[str, Any] = {
        "case": case,
        "searches": searches,
        "candidates": [
            {
                "review": r,
                "probe": _b64(faces[r.candidate_id], "probe"),
                "reference": _b64(faces[r.candidate_id], "reference"),
            }
            for r in reviews
        ],
        "models": models,
        "events": events,
        "chain_head": head or "-",
        "written_at": written_at.strftime("%Y-%m-%d %H:%M"),
        "written_by": principal.username,
    }
    folder = app.settings.home / "exports" / "case-reports"
    folder.mkdir(parents=True, exist_ok=True)
    # Named by time and a random id, never by the case reference (file names show in
    # listings, backups and downloads); the audit event ties the file to its case.
    stem = f"case-report-{written_at:%Y%m%d-%H%M%S}-{uuid.uuid4().hex[:12]}"
    html_path = folder / f"{stem}.html"
    pdf_path = folder / f"{stem}.pdf"
    html = _TEMPLATES.get_template("case_report.html").render(context).encode("utf-8")
    pdf = _pdf_bytes(case, searches, reviews, faces, events, context)
    with app.unit_of_work() as uow:
        # Both hold faces: sealed where the data directory is encrypted.
        write_protected_file(uow.cipher, app.settings.home, html_path, html)
        write_protected_file(uow.cipher, app.settings.home, pdf_path, pdf)
        app.audit(
            uow,
            action="report.case_written",
            object_type="case",
            object_id=case_id,
            case_reference=reference,
            files=[str(html_path), str(pdf_path)],
            candidates=[r.candidate_id for r in reviews],
        )
        uow.commit()
    return CaseReportFiles(
        html=str(html_path), pdf=str(pdf_path), candidates=len(reviews), audit_events=len(events)
    )


def _faces(uow: UnitOfWork, candidate_id: int) -> FacePair | None:
    try:
        return candidate_views(uow, candidate_id)
    except NotFoundError:  # probe deleted under retention: the decisions still go in
        return None


def _b64(pair: FacePair | None, which: str) -> str | None:
    data = None if pair is None else (pair.probe_png if which == "probe" else pair.reference_png)
    return base64.b64encode(data).decode("ascii") if data else None


class _Pdf(FPDF):
    def __init__(self) -> None:
        super().__init__(format="A4")
        self.unicode = _UNICODE_FONT.is_file()
        if self.unicode:
            self.add_font("body", "", str(_UNICODE_FONT))
            bold = _UNICODE_FONT.with_name("DejaVuSans-Bold.ttf")
            self.add_font("body", "B", str(bold if bold.is_file() else _UNICODE_FONT))
        self.family = "body" if self.unicode else "helvetica"
        self.set_auto_page_break(auto=True, margin=15)

    def text_of(self, value: object) -> str:
        text = str(value)
        return text if self.unicode else text.encode("latin-1", "replace").decode("latin-1")

    def heading(self, text: str, size: int = 13) -> None:
        self.set_font(self.family, "B", size)
        self.multi_cell(0, 7, self.text_of(text), new_x="LMARGIN", new_y="NEXT")
        self.set_font(self.family, "", 9)

    def line_of(self, text: str) -> None:
        self.multi_cell(0, 5, self.text_of(text), new_x="LMARGIN", new_y="NEXT")

    def table(self, header: list[str], rows: list[list[object]]) -> None:
        with super().table(text_align="LEFT", line_height=5) as table:
            table.row([self.text_of(h) for h in header])
            for row in rows:
                table.row([self.text_of(v) for v in row])
        self.ln(2)


def _pdf_bytes(
    case: CaseDetail,
    searches: list[dict[str, Any]],
    reviews: list[CandidateReview],
    faces: dict[int, FacePair | None],
    events: list[AuditEventOut],
    context: dict[str, Any],
) -> bytes:
    pdf = _Pdf()
    pdf.add_page()
    pdf.heading(f"Case report {case.reference}", 16)
    pdf.line_of(f"{LEAD_NOTICE}. Written {context['written_at']} UTC by {context['written_by']}.")
    pdf.heading("Case and authorisation")
    for label, value in (
        ("Purpose", case.purpose),
        ("Lawful basis", case.lawful_basis),
        ("Offence", f"{case.offence_category} ({case.seriousness or 'not given'})"),
        ("Requested by", case.requester),
        ("Status", case.status),
    ):
        pdf.line_of(f"{label}: {value}")
    pdf.table(
        ["Authorised by", "From", "Until", "Galleries", "Max searches"],
        [
            [
                a.authorised_by,
                f"{a.valid_from:%Y-%m-%d}",
                f"{a.valid_until:%Y-%m-%d}",
                ", ".join(a.galleries or ["all"]),
                a.max_searches or "-",
            ]
            for a in case.authorisations
        ],
    )
    pdf.heading("Searches")
    pdf.table(
        ["Search", "Started", "By", "Gallery (version)", "Threshold", "Status"],
        [
            [
                s["id"][:8],
                s["started_at"],
                s["requested_by"],
                f"{s['gallery']} ({s['gallery_version']})",
                s["threshold"],
                s["status"],
            ]
            for s in searches
        ],
    )
    pdf.heading("Candidates and decisions")
    for r in reviews:
        pdf.set_font(pdf.family, "B", 10)
        pdf.line_of(f"Candidate {r.candidate_id}: {r.subject} ({r.status})")
        pdf.set_font(pdf.family, "", 9)
        pair = faces.get(r.candidate_id)
        if pair is not None:
            if pdf.will_page_break(42):
                pdf.add_page()
            y = pdf.get_y()
            pdf.image(io.BytesIO(pair.probe_png), x=pdf.l_margin, y=y, w=38, h=38)
            if pair.reference_png:
                pdf.image(io.BytesIO(pair.reference_png), x=pdf.l_margin + 42, y=y, w=38, h=38)
            pdf.set_y(y + 40)
        where = f" at {r.timestamp_s:.2f} s" if r.timestamp_s is not None else ""
        pdf.line_of(f"Evidence {r.source.split('/')[-1]}{where}, SHA-256 {r.sha256}")
        pdf.line_of(
            f"Score {r.score:.4f} (threshold {r.threshold}, rank {r.rank}), model {r.model}"
        )
        for decision in r.reviews:
            pdf.line_of(f"{decision.reviewer}: {decision.outcome} - {decision.reason}")
        pdf.ln(2)
    pdf.heading("Models")
    for m in context["models"]:
        pdf.line_of(
            f"{m.name} ({m.kind}): {m.source}; licence {m.licence}; measured {m.measured_accuracy}"
        )
    pdf.heading("Audit extract")
    pdf.table(
        ["#", "When (UTC)", "Who", "Action", "Object"],
        [
            [
                e.id,
                f"{e.occurred_at:%Y-%m-%d %H:%M:%S}",
                f"{e.actor} ({e.role or '-'})",
                e.action,
                f"{e.object_type} {e.object_id}",
            ]
            for e in events
        ],
    )
    pdf.line_of(f"Audit chain head at writing: {context['chain_head']}")
    return bytes(pdf.output())
