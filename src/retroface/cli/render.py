"""Human-readable rendering of service results (JSON output uses the models directly)."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from retroface.services.results import (
    LEAD_NOTICE,
    CaseDetail,
    EnrollReport,
    GalleryDetail,
    GallerySummary,
    SearchReport,
    VerifyReport,
)


def render_search(console: Console, report: SearchReport) -> None:
    console.print(
        f"Search {report.search_id} · case {report.case} · gallery {report.gallery} · "
        f"threshold {report.threshold:.3f} · model {report.model}"
    )
    for probe in report.probes:
        x, y, w, h = probe.box
        head = f"{probe.source} face at x={x} y={y} {w}x{h} (quality {probe.quality:.2f})"
        if not probe.candidates:
            console.print(f"  {head}: no candidate above the threshold", highlight=False)
            continue
        console.print(f"  {head}:", highlight=False)
        for c in probe.candidates:
            console.print(f"    {c.rank:>2}. {c.subject}  score {c.score:.3f}", highlight=False)
    for error in report.errors:
        console.print(f"  [yellow]skipped[/yellow] {error.source}: {error.error}", highlight=False)
    console.print(
        f"[dim]Every candidate is an {LEAD_NOTICE}; a trained person must review it.[/dim]"
    )


def render_enroll(console: Console, report: EnrollReport) -> None:
    console.print(
        f"Gallery {report.gallery}: enrolled {report.enrolled} image(s), "
        f"{report.subjects_created} new subject(s), {report.already_enrolled} already enrolled, "
        f"{len(report.skipped)} skipped"
    )
    for item in report.skipped:
        console.print(f"  [yellow]skipped[/yellow] {item.source}: {item.error}", highlight=False)


def render_galleries(console: Console, galleries: list[GallerySummary]) -> None:
    if not galleries:
        console.print("No galleries yet: 'retroface gallery create NAME'")
        return
    table = Table("gallery", "subjects", "images", "version", "created")
    for g in galleries:
        table.add_row(
            g.name, str(g.subjects), str(g.images), str(g.version), f"{g.created_at:%Y-%m-%d}"
        )
    console.print(table)


def render_gallery(console: Console, detail: GalleryDetail) -> None:
    console.print(
        f"Gallery {detail.name} (version {detail.version}): {detail.subjects} subject(s), "
        f"{detail.images} image(s), {detail.templates} template(s)"
    )
    table = Table("subject", "images", "category", "status")
    for m in detail.members:
        table.add_row(m.name, str(m.images), m.category or "", "removed" if m.removed else "active")
    console.print(table)


def render_case(console: Console, case: CaseDetail) -> None:
    console.print(f"Case {case.reference} ({case.status}{', demo' if case.demo else ''})")
    console.print(f"  purpose: {case.purpose}", highlight=False)
    console.print(f"  lawful basis: {case.lawful_basis}; offence: {case.offence_category}")
    console.print(f"  requester: {case.requester}; searches run: {case.searches}")
    if not case.authorisations:
        console.print("  [yellow]not authorised[/yellow]")
    for a in case.authorisations:
        state = "[green]active[/green]" if a.active else "inactive"
        console.print(
            f"  authorised by {a.authorised_by} from {a.valid_from:%Y-%m-%d %H:%M} "
            f"until {a.valid_until:%Y-%m-%d %H:%M} UTC: {state}"
        )


def render_verify(console: Console, report: VerifyReport) -> None:
    verdict = "above" if report.same_person_above_threshold else "below"
    console.print(
        f"score {report.score:.3f} is {verdict} the threshold {report.threshold:.3f} "
        f"({report.model})"
    )
    console.print(f"[dim]A score is an {LEAD_NOTICE}.[/dim]")
