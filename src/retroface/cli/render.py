"""Human-readable rendering of service results (JSON output uses the models directly)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console
from rich.table import Table

if TYPE_CHECKING:
    from retroface.services.cases.resolution import DisputedCandidate
    from retroface.services.galleries.duplicates import DuplicateReport
    from retroface.services.results import (
        CandidateReview,
        CaseDetail,
        ClusterReport,
        DeploymentStatus,
        EnrollReport,
        GalleryDetail,
        GallerySummary,
        ProbeFaceListing,
        ProbeOut,
        SearchReport,
        TimelineReport,
        VerifyReport,
        VideoIngestReport,
    )


def lead_notice() -> str:
    """The words every rendered candidate, appearance or score carries."""
    from retroface.services.results import LEAD_NOTICE  # noqa: PLC0415 - loaded with the command's service (it imports the store models), not by --help

    return LEAD_NOTICE


def render_search(console: Console, report: SearchReport) -> None:
    rule = (
        f"target FPIR {report.target_fpir:.2%} at {report.gallery_templates} "
        f"template{'s' if report.gallery_templates != 1 else ''}"
        f" · floor {report.threshold:.3f}"
        if report.target_fpir is not None
        else f"threshold {report.threshold:.3f}"
    )
    console.print(
        f"Search {report.search_id} · case {report.case} · gallery {report.gallery} · "
        f"{rule} · model {report.model}"
    )
    for probe in report.probes:
        x, y, w, h = probe.box
        head = f"{probe.source} face at x={x} y={y} {w}x{h} (quality {probe.quality:.2f})"
        if probe.marked_by:
            head += f", manually marked by {probe.marked_by}"
        if probe.enhancement:
            head += ", ENHANCED before search: " + " > ".join(probe.enhancement)
        if probe.first_s is not None and probe.last_s is not None:
            head = (
                f"{probe.source} sighting {probe.sighting_id} from {clock(probe.first_s)} "
                f"to {clock(probe.last_s)} (best view x={x} y={y} {w}x{h}, "
                f"quality {probe.quality:.2f})"
            )
        if probe.parts:
            _render_parts(console, probe)
            head = f"the fused probe (lead view x={x} y={y} {w}x{h}, quality {probe.quality:.2f})"
        head += _provenance(probe.source_type, probe.supplied_by)
        if not probe.searched:
            console.print(
                f"  {head}: [yellow]not searched[/yellow], {probe.warning}", highlight=False
            )
            continue
        if probe.warning:
            console.print(f"  [yellow]warning[/yellow] {probe.warning}", highlight=False)
        # the bar allows for a fused sighting (docs/trust.md); sightings as one person: the mean
        whose = (
            "sightings whose views agree on average"
            if probe.parts
            else "a sighting whose views agree"
        )
        raised = (
            f" for {whose} {probe.views_agreement:.3f}"
            if probe.views_agreement is not None and probe.views_agreement < 1
            else ""
        )
        bar = (
            f" (bar {probe.bar:.3f}{raised}, expected FPIR {probe.expected_fpir:.2%})"
            if probe.bar is not None and probe.expected_fpir is not None
            else ""
        )
        if not probe.candidates:
            console.print(f"  {head}: no candidate above the bar{bar}", highlight=False)
            continue
        console.print(f"  {head}{bar}:", highlight=False)
        for c in probe.candidates:
            again = f"  candidate {c.candidate_id}, reused with its reviews" if c.reused else ""
            console.print(
                f"    {c.rank:>2}. {c.subject}  score {c.score:.3f}{again}", highlight=False
            )
    for error in report.errors:
        console.print(f"  [yellow]skipped[/yellow] {error.source}: {error.error}", highlight=False)
    if report.reuse_note:
        console.print(
            f"{report.reuse_note} (the same evidence was searched before in this case)",
            highlight=False,
        )
    console.print(
        f"[dim]Every candidate is an {lead_notice()}; a trained person must review it.[/dim]"
    )


def _provenance(source_type: str | None, supplied_by: str | None) -> str:
    """`` · cctv, supplied by DC Smith`` (or that it was not recorded)."""
    if source_type is None:
        return " · source not recorded"
    return f" · {source_type}, supplied by {supplied_by}"


def _render_parts(console: Console, probe: ProbeOut) -> None:
    """The stills or sightings of one person searched as one fused probe, each with its
    provenance; a part too poor to search reliably was left out of the fusion."""
    parts = probe.parts or []
    used = sum(1 for p in parts if p.used)
    console.print(
        f"  One person: {len(parts)} parts fused into one probe ({used} used; {probe.fusion}):",
        highlight=False,
    )
    for part in parts:
        x, y, w, h = part.box
        where = f" sighting {part.sighting_id} frame {part.frame}" if part.sighting_id else ""
        console.print(
            f"    {'used' if part.used else 'left out (too poor)'}: {part.source}{where} "
            f"face at x={x} y={y} {w}x{h} (quality {part.quality:.2f}) sha256 "
            f"{part.sha256[:12]}" + _provenance(part.source_type, part.supplied_by),
            highlight=False,
        )


def render_probe_faces(console: Console, listing: ProbeFaceListing) -> None:
    """The faces of one probe image, numbered for the operator to choose one."""
    console.print(
        f"{listing.source} holds {len(listing.faces)} faces; none was searched and no "
        "search was used. Choose the face to search:",
        highlight=False,
    )
    for f in listing.faces:
        x, y, w, h = f.box
        console.print(
            f"  face {f.face}  box {x},{y},{w},{h}  quality {f.quality:.2f}", highlight=False
        )
    console.print(
        "Search one with --face N or --box x,y,w,h; every face only with --all-faces "
        "--all-faces-reason TEXT; a face the detector missed with --mark x,y,w,h "
        "--eyes x1,y1,x2,y2.",
        highlight=False,
    )


def clock(seconds: float) -> str:
    """Seconds into a recording as h:mm:ss.s, the way investigators log footage."""
    minutes, secs = divmod(seconds, 60)
    hours, minutes = divmod(int(minutes), 60)
    return f"{hours}:{minutes:02d}:{secs:04.1f}"


def render_ingest(console: Console, report: VideoIngestReport) -> None:
    verb = "Resumed" if report.resumed else "Ran"
    rate = f", {report.realtime_factor}x real time" if report.realtime_factor else ""
    console.print(
        f"{verb} video job {report.job_id} for case {report.case}: {report.frames_sampled} "
        f"frames in {report.wall_seconds:.1f} s{rate}"
    )
    for f in report.files:
        skipped = (
            f" ({f.segments_skipped} of {f.segments} segments already done)"
            if (f.segments_skipped)
            else ""
        )
        console.print(f"  {f.source}: {f.sightings} sighting(s){skipped}", highlight=False)
    for error in report.errors:
        console.print(f"  [yellow]error[/yellow] {error.source}: {error.error}", highlight=False)


def render_timeline(console: Console, report: TimelineReport) -> None:
    console.print(
        f"Search {report.search_id} · case {report.case} · {report.sought} · "
        f"threshold {report.threshold:.3f}: {len(report.appearances)} appearance(s)"
    )
    for a in report.appearances:
        wall = f" ({a.first_wall_time:%Y-%m-%d %H:%M:%S} UTC)" if a.first_wall_time else ""
        console.print(
            f"  {a.source}  {clock(a.first_s)} – {clock(a.last_s)}{wall}  "
            f"score {a.score:.3f}  sighting {a.sighting_id}"
            + ("  (reused with its reviews)" if a.reused else "")
            + _provenance(a.source_type, a.supplied_by),
            highlight=False,
        )
    if report.reuse_note:
        console.print(report.reuse_note, highlight=False)
    console.print(
        f"[dim]Every appearance is an {lead_notice()}; a trained person must review it.[/dim]"
    )


def render_clusters(console: Console, report: ClusterReport) -> None:
    console.print(
        f"Case {report.case}: {len(report.clusters)} cluster(s), people in most files first"
    )
    for c in report.clusters:
        spans = ", ".join(
            f"#{m.sighting_id} {Path(m.source).name} {clock(m.first_s)}–{clock(m.last_s)}"
            for m in c.sightings[:6]
        )
        more = f" and {len(c.sightings) - 6} more" if len(c.sightings) > 6 else ""
        console.print(
            f"  cluster {c.cluster_id}: {len(c.sightings)} sighting(s) in {c.files} file(s): "
            f"{spans}{more}",
            highlight=False,
        )
    console.print(f"[dim]Clusters are an {lead_notice()}; people decide (merge, split).[/dim]")


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
    table = Table("subject", "images", "category", "record", "review due", "status")
    for m in detail.members:
        table.add_row(
            m.name,
            str(m.images),
            m.category or "",
            m.record_id or "",
            str(m.review_due_on or ""),
            "removed" if m.removed else "active",
        )
    console.print(table)


def render_duplicates(console: Console, report: DuplicateReport) -> None:
    console.print(
        f"Gallery {report.gallery} (version {report.gallery_version}): {report.subjects} "
        f"subject(s), {report.templates} template(s) searched against each other "
        f"({report.scan})"
    )
    console.print(
        f"  bar {report.threshold:.4f} ({report.decision_rule}; target FPIR "
        f"{report.target_fpir:g}: about {report.expected_false_pairs:g} false pair(s) expected)",
        highlight=False,
    )
    if report.already_decided:
        console.print(f"  {report.already_decided} pair(s) already decided, not shown")
    if not report.pairs:
        console.print("No pair above the bar.")
        return
    table = Table("score", "subject a", "record a", "subject b", "record b")
    for pair in report.pairs:
        table.add_row(
            f"{pair.score:.4f}",
            pair.subject_a,
            pair.record_a or "",
            pair.subject_b,
            pair.record_b or "",
        )
    console.print(table)
    console.print(
        "Each pair is a lead, not a finding: compare the faces, then "
        "`retroface gallery duplicate-decide GALLERY A B --decision merge|distinct --reason ...`"
    )


def render_case(console: Console, case: CaseDetail) -> None:
    console.print(f"Case {case.reference} ({case.status}{', demo' if case.demo else ''})")
    console.print(f"  purpose: {case.purpose}", highlight=False)
    console.print(
        f"  lawful basis: {case.lawful_basis}; offence: {case.offence_category} "
        f"({case.seriousness or 'seriousness not recorded'})"
    )
    if case.judicial_reference:
        console.print(f"  judicial authorisation: {case.judicial_reference}")
    console.print(f"  requester: {case.requester}; searches run: {case.searches}")
    if not case.authorisations:
        console.print("  [yellow]not authorised[/yellow]")
    for a in case.authorisations:
        state = "[green]active[/green]" if a.active else "inactive"
        console.print(
            f"  authorised by {a.authorised_by} from {a.valid_from:%Y-%m-%d %H:%M} "
            f"until {a.valid_until:%Y-%m-%d %H:%M} UTC"
            f"{'; galleries ' + ', '.join(a.galleries) if a.galleries else ''}"
            f"{'; at most ' + str(a.max_searches) + ' searches' if a.max_searches else ''}: {state}"
        )


def render_verify(console: Console, report: VerifyReport) -> None:
    verdict = "above" if report.same_person_above_threshold else "below"
    console.print(
        f"score {report.score:.3f} is {verdict} the threshold {report.threshold:.3f} "
        f"({report.model})"
    )
    console.print(f"[dim]A score is an {lead_notice()}.[/dim]")


def render_deployment(console: Console, status: DeploymentStatus) -> None:
    dpia = status.dpia
    console.print(
        "DPIA: "
        + (
            f"{dpia['identifier']} v{dpia['version']}, review due {dpia['review_due_on']}"
            if dpia
            else "[red]not registered[/red]"
        )
    )
    console.print(f"policy: {status.policy or '[red]not registered[/red]'}")
    console.print(
        f"threshold floor {status.threshold_floor} (default {status.default_threshold}); "
        f"EU mode {'on' if status.eu_mode else 'off'}; probe retention {status.probe_retention}"
    )
    if status.searching_allowed:
        console.print("[green]searching allowed[/green]")
    else:
        console.print(f"[red]{status.refusal}[/red]", markup=True)


def render_disputed(console: Console, items: list[DisputedCandidate]) -> None:
    """The supervisor's queue: each disputed candidate, its reviewers' decisions and reasons,
    and whether this supervisor may resolve it."""
    if not items:
        console.print("no disputed candidates")
        return
    table = Table("id", "case", "probe", "subject", "score", "reviews", "you")
    for item in items:
        c = item.candidate
        table.add_row(
            str(c.candidate_id),
            c.case,
            Path(c.source).name,
            c.subject,
            f"{c.score:.3f}",
            "; ".join(f"{r.reviewer}: {r.outcome} ({r.reason})" for r in c.reviews),
            "may resolve" if item.may_resolve else f"may not: {item.why_not}",
        )
    console.print(table)
    console.print(
        "Resolve one with 'retroface review resolve ID --outcome ... --reason ...'.",
        highlight=False,
    )


def render_review_queue(console: Console, items: list[CandidateReview]) -> None:
    if not items:
        console.print("no candidates")
        return
    table = Table("id", "probe", "box", "subject", "rank", "score", "status", "reviews")
    for c in items:
        where = Path(c.source).name + (
            f" @{c.timestamp_s:.1f}s" if c.timestamp_s is not None else ""
        )
        table.add_row(
            str(c.candidate_id),
            where,
            ",".join(map(str, c.box)),
            c.subject,
            str(c.rank),
            f"{c.score:.3f}",
            c.status,
            "; ".join(f"{r.reviewer}: {r.outcome}" for r in c.reviews),
        )
    console.print(table)
    console.print(f"[dim]Every candidate is an {lead_notice()}.[/dim]")
