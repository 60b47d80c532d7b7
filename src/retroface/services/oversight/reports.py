"""Reports for oversight: transparency statistics and the DPIA evidence pack.

Both are aggregates and settings, never images or templates, so they may be
written wherever the person asks outside the data directory (never over an
existing file unless asked to); each is audited as it is produced.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime, time
from pathlib import Path

from sqlalchemy import select

from retroface.errors import InvalidInputError
from retroface.faces.model_cards import model_cards
from retroface.governance import dpia_pack, transparency
from retroface.governance.audit import verify_chain
from retroface.governance.output_files import check_output_file, check_output_folder
from retroface.governance.review_policy import candidate_status
from retroface.governance.roles import Action
from retroface.services.app import App
from retroface.services.deployment.rules import deployment_status
from retroface.services.galleries.manage import gallery_cap
from retroface.services.results import ReportFiles
from retroface.services.search.gate import FAILED
from retroface.store.models import Candidate, Case, Review, ReviewResolution, Search, Subject


def transparency_report(
    app: App, start: date, end: date, out_dir: Path, *, force: bool = False
) -> ReportFiles:
    """Markdown and CSV figures for searches started from ``start`` to ``end`` inclusive,
    written outside the data directory (over earlier ones only with ``force``)."""
    app.require(Action.REPORT_TRANSPARENCY)
    if end < start:
        raise InvalidInputError(f"--to ({end}) is before --from ({start})")
    names = [f"transparency-{start}-{end}.md", f"transparency-{start}-{end}.csv"]
    check_output_folder(out_dir, app.settings, "transparency report", names, force=force)
    begin = datetime.combine(start, time.min, UTC)
    finish = datetime.combine(end, time.max, UTC)
    with app.unit_of_work() as uow:
        searches = uow.session.execute(
            select(Search, Case)
            .join(Case, Search.case_id == Case.id)
            .where(
                Search.started_at >= begin,
                Search.started_at <= finish,
                # A search that failed on a fault ran for nobody: not a use to report.
                Search.status != FAILED,
            )
        ).all()
        ids = [s.id for s, _ in searches]
        candidates = uow.session.execute(
            select(Candidate.id, Candidate.search_id, Subject.labels)
            .join(Subject, Candidate.subject_id == Subject.id)
            .where(Candidate.search_id.in_(ids))
        ).all()
        reviews: dict[int, list[tuple[str, str]]] = defaultdict(list)
        for cid, reviewer, outcome in uow.session.execute(
            select(Review.candidate_id, Review.reviewer, Review.outcome)
            .where(Review.search_id.in_(ids))
            .order_by(Review.id)
        ):
            reviews[cid].append((reviewer, outcome))
        # A supervisor's resolution of a dispute is the candidate's final standing.
        resolved = dict(
            uow.session.execute(
                select(ReviewResolution.candidate_id, ReviewResolution.status).where(
                    ReviewResolution.candidate_id.in_([c[0] for c in candidates])
                )
            ).all()
        )
        by_search: dict[str, list[transparency.CandidateFacts]] = defaultdict(list)
        for cid, sid, labels in candidates:
            standing = resolved.get(cid) or candidate_status(reviews[cid])
            by_search[sid].append(transparency.CandidateFacts(standing, dict(labels or {})))
        facts = [
            transparency.SearchFacts(
                offence_category=case.offence_category,
                seriousness=case.seriousness or "not recorded",
                lawful_basis=case.lawful_basis,
                probe_labels=dict(search.probe_labels or {}),
                candidates=by_search[search.id],
            )
            for search, case in searches
        ]
        stats = transparency.compute(facts, start, end)
        paths = _write(
            out_dir,
            {
                f"transparency-{start}-{end}.md": transparency.to_markdown(stats),
                f"transparency-{start}-{end}.csv": transparency.to_csv(stats),
            },
        )
        app.audit(
            uow,
            action="report.transparency",
            object_type="report",
            object_id=f"{start}..{end}",
            searches=len(facts),
            files=paths,
        )
        uow.commit()
    return ReportFiles(files=paths, searches=len(facts))


def dpia_report(app: App, out: Path, *, force: bool = False) -> ReportFiles:
    """The DPIA evidence pack, written outside the data directory (over a file only with
    ``force``)."""
    app.require(Action.REPORT_DPIA)
    check_output_file(out, app.settings, "DPIA evidence pack", force=force)
    status = deployment_status(app)
    with app.unit_of_work() as uow:
        galleries = []
        for gallery in uow.galleries.list():
            members = [s for s in uow.subjects.in_gallery(gallery.id) if s.removed_at is None]
            categories: dict[str, int] = defaultdict(int)
            for s in members:
                categories[s.category or "not recorded"] += 1
            galleries.append(
                {
                    "name": gallery.name,
                    "version": gallery.version,
                    "active": len(members),
                    "cap": gallery_cap(app, gallery),
                    "categories": dict(categories),
                    "under_18": sum(1 for s in members if s.under_18_reason),
                }
            )
        chain = verify_chain(uow.session)
        facts = dpia_pack.DpiaFacts(
            deployment=status.model_dump(),
            galleries=galleries,
            settings={
                "detector_in_use": app.engine_spec.detector,
                "embedder_in_use": app.engine_spec.embedder,
                "probe_retention": status.probe_retention,
                "removal_grace_days": app.settings.removal_grace_days,
                "max_candidates": app.settings.max_candidates,
                "gallery_max_subjects": app.settings.gallery_max_subjects,
            },
            model_cards=[c.as_dict() for c in model_cards()],
            audit_head={
                "events": chain.events,
                "ok": chain.ok,
                "head": chain.head,
                "reason": chain.reason,
            },
            generated_at=app.now().isoformat(timespec="seconds"),
        )
        paths = _write(out.parent, {out.name: dpia_pack.render(facts)})
        app.audit(
            uow,
            action="report.dpia",
            object_type="report",
            object_id="dpia",
            audit_head=chain.head,
            files=paths,
        )
        uow.commit()
    return ReportFiles(files=paths, searches=None)


def _write(directory: Path, files: dict[str, str]) -> list[str]:
    try:
        directory.mkdir(parents=True, exist_ok=True)
        written = []
        for name, text in files.items():
            path = directory / name
            path.write_text(text, encoding="utf-8")
            written.append(str(path))
    except OSError as exc:
        raise InvalidInputError(f"{directory}: cannot write the report ({exc.strerror})") from exc
    return written
