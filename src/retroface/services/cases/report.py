"""The case report: what was searched, under which authorisation, what was found and decided.

One HTML page and one PDF with the probe and reference faces of every
candidate, the reviewers' decisions, the thresholds and models used, the
authorisation and the case's audit extract: what a disclosure officer, a
court or an oversight body needs to see how a lead came about. Both files
hold faces, so they are written only inside the data directory, and
writing them is audited (ids and counts, never the images).

Each face is a small JPEG (:data:`FACE_PX` pixels square, quality
:data:`FACE_JPEG_QUALITY`) labelled "probe" or "reference" under it: large
enough to compare, small enough that a report of 30 candidates stays well
under 2 MB (about 0.5 MB of HTML and 0.12 MB of PDF; as PNG crops it was
8 MB). In the PDF a candidate's heading, faces and details are kept on one
page; text is left-aligned in both files. The disclosure pack
(``disclosure.py``) carries both files.
"""

from __future__ import annotations

import base64
import io
import uuid
from pathlib import Path
from typing import Any

from fpdf import FPDF
from fpdf.enums import MethodReturnValue
from jinja2 import Environment, FileSystemLoader, select_autoescape
from PIL import Image
from pydantic import BaseModel
from sqlalchemy import select

from retroface.errors import MediaError, NotFoundError
from retroface.faces.model_cards import model_cards
from retroface.governance.review_policy import notes_text
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
    ResolutionOut,
    event_out,
)
from retroface.store.models import AuditEvent, Gallery, Search
from retroface.store.unit_of_work import UnitOfWork

_TEMPLATES = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=select_autoescape(["html"]),
)
_TEMPLATES.filters["feature_notes"] = notes_text
_TEMPLATES.filters["evidence_source"] = lambda r: source_text(r.source_type, r.supplied_by)
_TEMPLATES.filters["probe_parts"] = lambda parts: parts_text(parts)  # noqa: PLW0108 - defined below
_TEMPLATES.filters["resolution"] = lambda r: resolution_text(r)  # noqa: PLW0108 - defined below
_UNICODE_FONT = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
#: Side of each face image in the report, in pixels, and its JPEG quality.
FACE_PX = 180
FACE_JPEG_QUALITY = 80
#: Side of a face image in the PDF (mm), and the height of the label under it.
_FACE_MM = 38.0
_LABEL_MM = 4.0


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
        faces = {r.candidate_id: _report_faces(uow, r.candidate_id) for r in reviews}
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
                "faces_missing": _missing(faces[r.candidate_id]),
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


class ReportFaces(BaseModel):
    """A candidate's two faces as the report shows them: JPEG, :data:`FACE_PX` square."""

    probe_jpeg: bytes
    reference_jpeg: bytes | None


#: Why a candidate's faces are not shown (the decisions still go in).
_PROBE_DELETED = "the probe was deleted under retention"
_EVIDENCE_UNREADABLE = "the evidence file can no longer be read (moved, deleted or changed)"


def _report_faces(uow: UnitOfWork, candidate_id: int) -> ReportFaces | str:
    """The candidate's faces, or why they cannot be shown (never a server path)."""
    try:
        pair: FacePair = candidate_views(uow, candidate_id)
    except NotFoundError:
        return _PROBE_DELETED
    except MediaError:
        return _EVIDENCE_UNREADABLE
    return ReportFaces(
        probe_jpeg=face_jpeg(pair.probe_png),
        reference_jpeg=face_jpeg(pair.reference_png) if pair.reference_png else None,
    )


def face_jpeg(png: bytes) -> bytes:
    """A face view (PNG) as the report's small JPEG: :data:`FACE_PX` square, quality
    :data:`FACE_JPEG_QUALITY`, no metadata."""
    with Image.open(io.BytesIO(png)) as image:
        small = image.convert("RGB").resize((FACE_PX, FACE_PX), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    small.save(out, format="JPEG", quality=FACE_JPEG_QUALITY, optimize=True)
    return out.getvalue()


def _missing(faces: ReportFaces | str) -> str | None:
    return faces if isinstance(faces, str) else None


def _b64(faces: ReportFaces | str, which: str) -> str | None:
    if isinstance(faces, str):
        return None
    data = faces.probe_jpeg if which == "probe" else faces.reference_jpeg
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
        self.multi_cell(0, 7, self.text_of(text), align="L", new_x="LMARGIN", new_y="NEXT")
        self.set_font(self.family, "", 9)

    def line_of(self, text: str) -> None:
        self.multi_cell(0, 5, self.text_of(text), align="L", new_x="LMARGIN", new_y="NEXT")

    def line_height(self, text: str) -> float:
        """The height :meth:`line_of` would take for ``text`` in the current font."""
        height = self.multi_cell(
            0, 5, self.text_of(text), align="L", dry_run=True, output=MethodReturnValue.HEIGHT
        )
        assert isinstance(height, int | float)
        return float(height)

    def face(self, jpeg: bytes, x: float, y: float, label: str) -> None:
        """A face image with its label centred under it."""
        self.image(io.BytesIO(jpeg), x=x, y=y, w=_FACE_MM, h=_FACE_MM)
        self.set_xy(x, y + _FACE_MM)
        self.cell(_FACE_MM, _LABEL_MM, label, align="C")

    def table(self, header: list[str], rows: list[list[object]]) -> None:
        with super().table(text_align="LEFT", line_height=5) as table:
            table.row([self.text_of(h) for h in header])
            for row in rows:
                table.row([self.text_of(v) for v in row])
        self.ln(2)


def source_text(source_type: str | None, supplied_by: str | None) -> str:
    """``cctv, supplied by DC Smith`` (or that it was not recorded)."""
    if source_type is None:
        return "not recorded (searched before source types were recorded)"
    return f"{source_type}, supplied by {supplied_by}"


def parts_text(parts: list[dict[str, Any]]) -> str:
    """A fused probe's parts, each by its file's SHA-256, box, frame and sighting."""
    used = sum(1 for p in parts if p.get("used"))
    shown = []
    for p in parts:
        x, y, w, h = p["box"]
        where = f" sighting {p['sighting_id']} frame {p['frame']}" if p.get("sighting_id") else ""
        state = "" if p.get("used") else " (left out: too poor)"
        shown.append(f"SHA-256 {str(p['sha256'])[:16]}…{where} box {x},{y},{w},{h}{state}")
    return f"{len(parts)} parts fused into one probe ({used} used): " + "; ".join(shown)


def candidate_lines(r: CandidateReview, faces: ReportFaces | str) -> list[str]:
    """The lines under a candidate's faces."""
    where = f" at {r.timestamp_s:.2f} s" if r.timestamp_s is not None else ""
    bar = (
        f"bar {r.bar}, expected FPIR {100 * r.expected_fpir:.2f}% at "
        f"{r.gallery_templates} template{'s' if r.gallery_templates != 1 else ''}, "
        f"floor {r.threshold}"
        if r.bar is not None and r.expected_fpir is not None
        else f"threshold {r.threshold}"
    )
    lines = [f"Faces: not shown ({faces})"] if isinstance(faces, str) else []
    lines += [
        f"Evidence {r.source.split('/')[-1]}{where}, SHA-256 {r.sha256}",
        f"Score {r.score:.4f} ({bar}, rank {r.rank}), model {r.model}",
    ]
    lines.append(f"Evidence source: {source_text(r.source_type, r.supplied_by)}")
    if r.probe_parts:
        lines.append(f"Probe: one person, {parts_text(r.probe_parts)}")
    if r.marked_by:
        lines.append(f"Probe face: manually marked by {r.marked_by} (not found by the detector)")
    if r.enhancement:
        lines.append(
            "Enhanced probe: searched after "
            + " > ".join(r.enhancement)
            + " (re-created from the original evidence, whose SHA-256 is above)"
        )
    if r.probe_warning:
        lines.append(f"Warning: {r.probe_warning}")
    lines += [
        f"{d.reviewer}: {d.outcome} - {d.reason}"
        + (f" (features: {notes_text(d.notes)})" if d.notes else "")
        for d in r.reviews
    ] or ["Decisions: none"]
    if r.resolution is not None:
        lines.append(f"Resolved: {resolution_text(r.resolution)}")
    return lines


def resolution_text(resolution: ResolutionOut) -> str:
    """A supervisor's resolution of a dispute as the report states it: who, what, why, when."""
    return (
        f"supervisor {resolution.supervisor}: {resolution.outcome} - {resolution.reason} "
        f"(standing: {resolution.status}; {resolution.at:%Y-%m-%d %H:%M} UTC)"
    )


def _candidate_block(pdf: _Pdf, r: CandidateReview, faces: ReportFaces | str) -> None:
    """One candidate: heading, the two labelled faces, the details; kept on one page (a
    heading never ends a page with its faces on the next), unless it is taller than a page."""
    title = f"Candidate {r.candidate_id}: {r.subject} ({r.status})"
    lines = candidate_lines(r, faces)
    pdf.set_font(pdf.family, "B", 10)
    height = pdf.line_height(title)
    pdf.set_font(pdf.family, "", 9)
    shown = faces if isinstance(faces, ReportFaces) else None
    height += (_FACE_MM + _LABEL_MM + 2 if shown else 0) + 2
    height += sum(pdf.line_height(line) for line in lines)
    if pdf.will_page_break(height) and height <= pdf.eph:
        pdf.add_page()
    pdf.set_font(pdf.family, "B", 10)
    pdf.line_of(title)
    pdf.set_font(pdf.family, "", 9)
    if shown:
        y = pdf.get_y()
        pdf.face(shown.probe_jpeg, pdf.l_margin, y, "probe")
        if shown.reference_jpeg:
            pdf.face(shown.reference_jpeg, pdf.l_margin + _FACE_MM + 4, y, "reference")
        pdf.set_xy(pdf.l_margin, y + _FACE_MM + _LABEL_MM + 2)
    for line in lines:
        pdf.line_of(line)
    pdf.ln(2)


def _pdf_bytes(
    case: CaseDetail,
    searches: list[dict[str, Any]],
    reviews: list[CandidateReview],
    faces: dict[int, ReportFaces | str],
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
    if reviews and pdf.will_page_break(7 + 5 + _FACE_MM + _LABEL_MM + 12):
        pdf.add_page()  # the section's heading is not left alone at a page's foot
    pdf.heading("Candidates and decisions")
    if not reviews:
        pdf.line_of("No candidates.")
    for r in reviews:
        _candidate_block(pdf, r, faces[r.candidate_id])
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
