"""``retroface doctor``: do the database, the index files and the data directory agree?

Why: enrollment and ingest commit one unit at a time and index files are
saved after the commit, so a kill (power cut, out-of-memory, SIGKILL) never
loses a committed record but may leave an index that lags the database, the
temp file of an atomic write, a partial upload, or a job or search marked
"running" for ever. Doctor names each check as a finding with a count and
says what ``--repair`` does about it. Without ``repair`` nothing changes.
Each repair commits its own audit event (ids, counts and file names, never
data). The audit chain is checked and never "repaired": a broken chain is
an incident, answered from a signed export or a backup.

Work that looks abandoned (a running job, a temp file, an unreferenced
upload) is only treated as such once nothing has touched it for
``stale_after``: a server or a job may still be writing it. Run repairs
while no server or job is running.
"""

from __future__ import annotations

import json
import re
import sqlite3
import time
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timedelta
from pathlib import Path, PurePath
from typing import Any, Literal

import numpy as np
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from pydantic import BaseModel, computed_field
from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.engine import make_url
from sqlalchemy.orm import aliased

from retroface.faces.types import ModelInfo
from retroface.governance.audit import verify_chain
from retroface.governance.roles import Action
from retroface.index import load_index
from retroface.services.app import App
from retroface.services.biometrics.gallery_index import (
    index_path,
    rebuild_gallery_index,
    state_token,
)
from retroface.services.biometrics.uploaded_files import uploads_root
from retroface.services.galleries.manage import purge_subject_data
from retroface.services.galleries.versions import bump_version
from retroface.services.operations.data_directory import is_leftover, regular_files
from retroface.store.database import alembic_config
from retroface.store.models import (
    AuditEvent,
    Authorisation,
    Candidate,
    Case,
    Face,
    FaceCluster,
    Gallery,
    GalleryChange,
    MediaItem,
    ReferenceImage,
    Search,
    Sighting,
    Subject,
    Template,
    VideoJob,
    VideoSegment,
)
from retroface.store.unit_of_work import UnitOfWork

#: How long work must sit untouched before doctor treats it as left by a stopped process.
DEFAULT_STALE_AFTER = timedelta(minutes=60)
#: Ids or paths shown per finding (the count is always complete).
MAX_EXAMPLES = 10
INTERRUPTED = "interrupted"
_INDEX_FILE = re.compile(r"^gallery-(\d+)-(.+)\.faiss$")

Status = Literal["ok", "problem", "not-applicable"]


class Finding(BaseModel):
    """One named check: what it found, and what ``--repair`` does (or why it cannot)."""

    name: str
    status: Status
    count: int = 0
    detail: str
    repair: str
    repaired: int = 0
    examples: list[str] = []


class DoctorReport(BaseModel):
    home: str
    database: str
    repair: bool
    stale_after_minutes: float
    findings: list[Finding]
    #: Findings still failing (after repair, when asked): the exit code is non-zero if any.
    problems: int

    @computed_field  # type: ignore[prop-decorator]
    @property
    def ok(self) -> bool:
        return self.problems == 0


Repair = Callable[[], int]


def run_doctor(
    app: App, *, repair: bool = False, stale_after: timedelta = DEFAULT_STALE_AFTER
) -> DoctorReport:
    """Check everything; with ``repair``, fix what is repairable and check again."""
    app.require(Action.SYSTEM_MAINTAIN)
    if stale_after < timedelta(0):
        raise ValueError("stale_after cannot be negative")
    checked = _check_all(app, stale_after)
    if repair:
        done: dict[str, int] = {}
        for finding, fix in checked:
            if finding.status == "problem" and fix is not None:
                done[finding.name] = fix()
        checked = _check_all(app, stale_after)
        for finding, _ in checked:
            finding.repaired = done.get(finding.name, 0)
    findings = [f for f, _ in checked]
    return DoctorReport(
        home=str(app.settings.home.resolve()),
        database=app.db.engine.dialect.name,
        repair=repair,
        stale_after_minutes=stale_after.total_seconds() / 60,
        findings=findings,
        problems=sum(1 for f in findings if f.status == "problem"),
    )


def _check_all(app: App, stale_after: timedelta) -> list[tuple[Finding, Repair | None]]:
    checks: list[Callable[[App, timedelta], tuple[Finding, Repair | None]]] = [
        _sqlite_integrity,
        _sqlite_foreign_keys,
        _schema_revision,
        _audit_chain,
        _orphan_faces,
        _template_gallery_mismatch,
        _erased_subject_biometrics,
        _segment_sighting_counts,
        _sighting_cluster_links,
        _dangling_record_links,
        _interrupted_video_jobs,
        _interrupted_searches,
        # after the row repairs above, which can change what an index must hold
        _gallery_indexes,
        _orphan_index_files,
        _leftover_temp_files,
        _unreferenced_uploads,
        _missing_uploads,
    ]
    return [check(app, stale_after) for check in checks]


def _finding(
    name: str,
    problems: Sequence[object],
    *,
    ok: str,
    found: str,
    repair: str,
) -> Finding:
    """A finding from the list of problem ids/paths (empty = ok)."""
    return Finding(
        name=name,
        status="problem" if problems else "ok",
        count=len(problems),
        detail=found.format(n=len(problems)) if problems else ok,
        repair=repair,
        examples=[str(p) for p in list(problems)[:MAX_EXAMPLES]],
    )


def _record_repair(uow: UnitOfWork, app: App, name: str, count: int, **details: Any) -> None:
    app.audit(
        uow.session,
        action="maintenance.repaired",
        object_type="doctor_finding",
        object_id=name,
        repaired=count,
        **details,
    )


# --- the database itself ------------------------------------------------------------------


def sqlite_path(app: App) -> Path | None:
    """The SQLite database file, or None for a server database."""
    url = make_url(app.db.url)
    if url.get_backend_name() != "sqlite" or not url.database:
        return None
    return Path(url.database)


def _sqlite_rows(app: App, pragma: str) -> list[tuple[Any, ...]] | None:
    """Run a read-only PRAGMA on its own connection (no write lock, unlike a unit of work)."""
    path = sqlite_path(app)
    if path is None:
        return None
    connection = sqlite3.connect(path, timeout=30)
    try:
        return connection.execute(pragma).fetchall()
    finally:
        connection.close()


def _not_applicable(name: str, why: str, repair: str) -> tuple[Finding, Repair | None]:
    return Finding(name=name, status="not-applicable", detail=why, repair=repair), None


def _sqlite_integrity(app: App, _: timedelta) -> tuple[Finding, Repair | None]:
    repair = "none: restore the last good backup ('retroface backup restore')"
    rows = _sqlite_rows(app, "PRAGMA integrity_check")
    if rows is None:
        return _not_applicable(
            "sqlite-integrity",
            "PostgreSQL checks its own pages (use amcheck / pg_amcheck)",
            repair,
        )
    errors = [str(r[0]) for r in rows if r[0] != "ok"]
    return _finding(
        "sqlite-integrity",
        errors,
        ok="PRAGMA integrity_check: ok",
        found="PRAGMA integrity_check reported {n} problem(s)",
        repair=repair,
    ), None


def _sqlite_foreign_keys(app: App, _: timedelta) -> tuple[Finding, Repair | None]:
    """Rows written with enforcement off (another tool) can break references SQLite enforces."""
    repair = "none: the rows name their table and row id; restore a backup or fix by hand"
    rows = _sqlite_rows(app, "PRAGMA foreign_key_check")
    if rows is None:
        return _not_applicable(
            "sqlite-foreign-keys", "PostgreSQL always enforces foreign keys", repair
        )
    problems = [f"{table} row {rowid} -> {parent}" for table, rowid, parent, _ in rows]
    return _finding(
        "sqlite-foreign-keys",
        problems,
        ok="PRAGMA foreign_key_check: no violations",
        found="{n} row(s) reference a missing parent row",
        repair=repair,
    ), None


def schema_heads(url: str) -> tuple[set[str], set[str]]:
    """(head revisions of this retroface's migrations, every revision it knows)."""
    script = ScriptDirectory.from_config(alembic_config(url))
    return set(script.get_heads()), {r.revision for r in script.walk_revisions()}


def _schema_revision(app: App, _: timedelta) -> tuple[Finding, Repair | None]:
    with app.db.engine.connect() as connection:
        current = set(MigrationContext.configure(connection).get_current_heads())
    heads, _known = schema_heads(app.db.url)
    problems = (
        [] if current == heads else [f"database at {sorted(current)}, code at {sorted(heads)}"]
    )
    return _finding(
        "schema-revision",
        problems,
        ok=f"schema at the latest migration ({', '.join(sorted(heads))})",
        found="the schema is not at this retroface's latest migration",
        repair="none: every command migrates on start; a newer schema needs a newer retroface",
    ), None


def _audit_chain(app: App, _: timedelta) -> tuple[Finding, Repair | None]:
    with app.unit_of_work() as uow:
        report = verify_chain(uow.session)
    repair = (
        "never: the log is evidence; compare a signed export ('audit check-export') or "
        "restore a backup, and report the incident"
    )
    if report.ok:
        return Finding(
            name="audit-chain",
            status="ok",
            detail=f"hash chain intact: {report.events} events, head {report.head[:16]}",
            repair=repair,
        ), None
    return Finding(
        name="audit-chain",
        status="problem",
        count=1,
        detail=f"hash chain broken at event {report.first_bad_id}: {report.reason}",
        repair=repair,
        examples=[str(report.first_bad_id)],
    ), None


# --- gallery index files ------------------------------------------------------------------


def _active_template_ids(uow: UnitOfWork, gallery_id: int, model: ModelInfo) -> np.ndarray:
    """The ids the gallery's index must hold for ``model`` (active subjects only)."""
    ids = uow.session.scalars(
        select(Template.id)
        .join(Subject, Template.subject_id == Subject.id)
        .where(
            Subject.gallery_id == gallery_id,
            Subject.removed_at.is_(None),
            Template.model_name == model.name,
            Template.model_version == model.version,
        )
        .order_by(Template.id)
    ).all()
    return np.asarray(ids, dtype=np.int64)


def _gallery_models(uow: UnitOfWork) -> list[tuple[Gallery, ModelInfo]]:
    """Every (gallery, model) that has templates: each needs an index that agrees."""
    rows = uow.session.execute(
        select(Subject.gallery_id, Template.model_name, Template.model_version, Template.dimension)
        .join(Subject, Template.subject_id == Subject.id)
        .distinct()
    ).all()
    galleries = {g.id: g for g in uow.session.scalars(select(Gallery))}
    return sorted(
        ((galleries[g], ModelInfo(name, version, dim)) for g, name, version, dim in rows),
        key=lambda pair: (pair[0].id, pair[1].tag),
    )


def _index_disagreement(
    uow: UnitOfWork, index_dir: Path, gallery: Gallery, model: ModelInfo
) -> str | None:
    """Why the persisted index of ``gallery`` for ``model`` disagrees with the database."""
    wanted = _active_template_ids(uow, gallery.id, model)
    path = index_path(index_dir, gallery, model)
    if not path.exists():
        return None if len(wanted) == 0 else f"{path.name}: missing"
    loaded = load_index(path, model.dimension, uow.cipher)  # sealed where encrypted
    if loaded is None:
        return f"{path.name}: unreadable or incomplete"
    index, token = loaded
    if token != state_token(gallery.id, gallery.version, model):
        return f"{path.name}: saved for another gallery version ({token})"
    held = np.sort(index.ids())
    if len(held) != len(wanted):
        return f"{path.name}: {len(held)} templates, the database has {len(wanted)}"
    if not np.array_equal(held, wanted):
        return f"{path.name}: template ids differ from the database's"
    return None


def _index_problems(app: App) -> tuple[int, list[tuple[int, ModelInfo, str]]]:
    """(indexes expected, [(gallery id, model, why it disagrees)])."""
    with app.unit_of_work() as uow:
        pairs = _gallery_models(uow)
        problems = [
            (gallery.id, model, why)
            for gallery, model in pairs
            if (why := _index_disagreement(uow, app.settings.index_dir, gallery, model)) is not None
        ]
    return len(pairs), problems


def _gallery_indexes(app: App, _: timedelta) -> tuple[Finding, Repair | None]:
    expected, problems = _index_problems(app)

    def fix() -> int:
        _, current = _index_problems(app)  # earlier repairs may have changed galleries
        with app.unit_of_work() as uow:
            for gallery_id, model, _why in current:
                gallery = uow.session.get(Gallery, gallery_id)
                assert gallery is not None
                rebuild_gallery_index(
                    uow, app.settings.index_dir, gallery, model, app.settings.index_exact_max
                )
            _record_repair(
                uow,
                app,
                "gallery-indexes",
                len(current),
                rebuilt=[f"gallery {g} model {m.tag}" for g, m, _ in current],
            )
            uow.commit()
        return len(current)

    finding = _finding(
        "gallery-indexes",
        [why for _, _, why in problems],
        ok=f"{expected} gallery index(es) agree with the database (version, count, ids)",
        found="{n} gallery index(es) missing or disagreeing with the database",
        repair="rebuild each from the database's templates (searches rebuild them anyway)",
    )
    return finding, fix if problems else None


def _orphan_index_files(app: App, _: timedelta) -> tuple[Finding, Repair | None]:
    """Index files no gallery's templates explain: a deleted gallery, a stale foreign model."""
    index_dir = app.settings.index_dir
    orphans: list[Path] = []
    with app.unit_of_work() as uow:
        expected = {index_path(index_dir, g, m) for g, m in _gallery_models(uow)}
        galleries = {g.id: g for g in uow.session.scalars(select(Gallery))}
    if index_dir.is_dir():
        for path in sorted(index_dir.iterdir()):
            if not path.is_file() or is_leftover(path, app.settings.home):
                continue
            faiss_file = path if path.suffix == ".faiss" else path.with_suffix(".faiss")
            if path.suffix not in {".faiss", ".json"} or faiss_file in expected:
                continue
            match = _INDEX_FILE.match(faiss_file.name)
            gallery = galleries.get(int(match.group(1))) if match else None
            if gallery is None or not _empty_and_current(faiss_file, gallery):
                orphans.append(path)

    def fix() -> int:
        with app.unit_of_work() as uow:
            _record_repair(
                uow, app, "orphan-index-files", len(orphans), files=[p.name for p in orphans]
            )
            uow.commit()
        for path in orphans:
            path.unlink(missing_ok=True)
        return len(orphans)

    finding = _finding(
        "orphan-index-files",
        [p.name for p in orphans],
        ok="every index file belongs to a gallery and model in the database",
        found="{n} index file(s) belong to no gallery, or to a model it has no templates of",
        repair="delete them (an index is rebuilt from the database when next used)",
    )
    return finding, fix if orphans else None


def _empty_and_current(faiss_file: Path, gallery: Gallery) -> bool:
    """An index for a model the gallery has no templates of is fine if empty and current
    (a search with another embedder saves one)."""
    try:
        meta = json.loads(faiss_file.with_suffix(".json").read_text())
    except (OSError, ValueError):
        return False
    prefix = f"gallery={gallery.id};version={gallery.version};model="
    return str(meta.get("state", "")).startswith(prefix) and meta.get("n") == 0


# --- rows that lost their place -----------------------------------------------------------


def _orphan_faces(app: App, _: timedelta) -> tuple[Finding, Repair | None]:
    """Faces with no media item and no reference image, that no candidate or sighting uses."""
    with app.unit_of_work() as uow:
        ids = list(
            uow.session.scalars(
                select(Face.id)
                .where(
                    Face.media_item_id.is_(None),
                    Face.reference_image_id.is_(None),
                    ~select(Candidate.id).where(Candidate.face_id == Face.id).exists(),
                    ~select(Sighting.id).where(Sighting.face_id == Face.id).exists(),
                )
                .order_by(Face.id)
            )
        )

    def fix() -> int:
        with app.unit_of_work() as uow:
            templates = uow.session.execute(delete(Template).where(Template.face_id.in_(ids)))
            uow.session.execute(delete(Face).where(Face.id.in_(ids)))
            _record_repair(
                uow,
                app,
                "orphan-faces",
                len(ids),
                face_ids=ids[:100],
                templates_deleted=int(templates.rowcount or 0),  # type: ignore[attr-defined]
            )
            uow.commit()
        return len(ids)

    finding = _finding(
        "orphan-faces",
        [f"face {i}" for i in ids],
        ok="every face belongs to a media item or a reference image",
        found="{n} face(s) belong to no media item or reference image and are used nowhere",
        repair="delete them and their templates (biometric data nothing can reach)",
    )
    return finding, fix if ids else None


def _template_gallery_mismatch(app: App, _: timedelta) -> tuple[Finding, Repair | None]:
    """Gallery templates whose recorded gallery is not their subject's (search goes by subject)."""
    with app.unit_of_work() as uow:
        rows = uow.session.execute(
            select(Template.id, Subject.gallery_id)
            .join(Subject, Template.subject_id == Subject.id)
            .where(or_(Template.gallery_id.is_(None), Template.gallery_id != Subject.gallery_id))
            .order_by(Template.id)
        ).all()
    fixes = [(tid, gid) for tid, gid in rows]

    def fix() -> int:
        with app.unit_of_work() as uow:
            for template_id, gallery_id in fixes:
                uow.session.execute(
                    update(Template).where(Template.id == template_id).values(gallery_id=gallery_id)
                )
            _record_repair(
                uow,
                app,
                "template-gallery-mismatch",
                len(fixes),
                template_ids=[t for t, _ in fixes][:100],
            )
            uow.commit()
        return len(fixes)

    finding = _finding(
        "template-gallery-mismatch",
        [f"template {t}" for t, _ in fixes],
        ok="every gallery template records its subject's gallery",
        found="{n} gallery template(s) record a gallery other than their subject's",
        repair="set each template's gallery to its subject's",
    )
    return finding, fix if fixes else None


def _erased_subject_biometrics(app: App, _: timedelta) -> tuple[Finding, Repair | None]:
    """An erased person must keep no image, face or template (erasure is final)."""
    with app.unit_of_work() as uow:
        ids = sorted(
            set(
                uow.session.scalars(
                    select(Subject.id)
                    .join(ReferenceImage, ReferenceImage.subject_id == Subject.id)
                    .where(Subject.erased_at.is_not(None))
                )
            )
            | set(
                uow.session.scalars(
                    select(Subject.id)
                    .join(Template, Template.subject_id == Subject.id)
                    .where(Subject.erased_at.is_not(None))
                )
            )
        )

    def fix() -> int:
        with app.unit_of_work() as uow:
            totals: dict[str, int] = {}
            for subject in uow.session.scalars(select(Subject).where(Subject.id.in_(ids))):
                was_listed = subject.removed_at is None
                for key, value in purge_subject_data(uow, subject, app).items():
                    totals[key] = totals.get(key, 0) + value
                if was_listed:  # it was still searchable: a membership change
                    gallery = uow.session.get(Gallery, subject.gallery_id)
                    assert gallery is not None
                    bump_version(uow, gallery, app.actor, "subject-erased", subject.id)
            _record_repair(
                uow, app, "erased-subject-biometrics", len(ids), subject_ids=ids, **totals
            )
            uow.commit()
        return len(ids)

    finding = _finding(
        "erased-subject-biometrics",
        [f"subject {i}" for i in ids],
        ok="erased subjects hold no images, faces or templates",
        found="{n} erased subject(s) still hold images, faces or templates",
        repair="delete them, as the erasure should have",
    )
    return finding, fix if ids else None


def _segment_sighting_counts(app: App, _: timedelta) -> tuple[Finding, Repair | None]:
    """Each finished video window stored its sightings once: the count it recorded must hold."""
    with app.unit_of_work() as uow:
        stored = (
            select(func.count(Sighting.id))
            .where(Sighting.segment_id == VideoSegment.id)
            .scalar_subquery()
        )
        rows = uow.session.execute(
            select(VideoSegment.id, VideoSegment.sightings, stored)
            .where(VideoSegment.sightings != stored)
            .order_by(VideoSegment.id)
        ).all()
    return _finding(
        "segment-sighting-counts",
        [f"segment {sid}: recorded {want}, stored {got}" for sid, want, got in rows],
        ok="every video segment holds the sightings it recorded (none lost, none twice)",
        found="{n} video segment(s) hold a different number of sightings than they recorded",
        repair="none: rows were changed outside retroface; restore a backup or re-ingest",
    ), None


def _sighting_cluster_links(app: App, _: timedelta) -> tuple[Finding, Repair | None]:
    with app.unit_of_work() as uow:
        ids = list(
            uow.session.scalars(
                select(Sighting.id)
                .where(
                    Sighting.cluster_id.is_not(None),
                    ~select(FaceCluster.id).where(FaceCluster.id == Sighting.cluster_id).exists(),
                )
                .order_by(Sighting.id)
            )
        )

    def fix() -> int:
        with app.unit_of_work() as uow:
            uow.session.execute(
                update(Sighting).where(Sighting.id.in_(ids)).values(cluster_id=None)
            )
            _record_repair(uow, app, "sighting-cluster-links", len(ids), sighting_ids=ids[:100])
            uow.commit()
        return len(ids)

    finding = _finding(
        "sighting-cluster-links",
        [f"sighting {i}" for i in ids],
        ok="every clustered sighting's cluster exists",
        found="{n} sighting(s) point to a cluster that does not exist",
        repair="unlink them (they count as not clustered; 'video cluster' groups them again)",
    )
    return finding, fix if ids else None


def _dangling_record_links(app: App, _: timedelta) -> tuple[Finding, Repair | None]:
    """Links the schema does not enforce and that records (not repairs) must explain."""
    with app.unit_of_work() as uow:
        searches = uow.session.scalars(
            select(Search.id).where(
                Search.authorisation_id.is_not(None),
                ~select(Authorisation.id)
                .where(Authorisation.id == Search.authorisation_id)
                .exists(),
            )
        ).all()
        changes = uow.session.scalars(
            select(GalleryChange.id).where(
                GalleryChange.subject_id.is_not(None),
                ~select(Subject.id).where(Subject.id == GalleryChange.subject_id).exists(),
            )
        ).all()
        target = aliased(FaceCluster)
        merged = uow.session.scalars(
            select(FaceCluster.id).where(
                FaceCluster.merged_into.is_not(None),
                ~select(target.id).where(target.id == FaceCluster.merged_into).exists(),
            )
        ).all()
    problems = (
        [f"search {s}: authorisation missing" for s in searches]
        + [f"gallery change {c}: subject missing" for c in changes]
        + [f"cluster {c}: merged into a missing cluster" for c in merged]
    )
    return _finding(
        "dangling-record-links",
        problems,
        ok="searches, gallery changes and merged clusters point to rows that exist",
        found="{n} record(s) point to a row that no longer exists",
        repair="none: these rows are the record of what happened; restore a backup",
    ), None


# --- work left running by a stopped process -----------------------------------------------


def _latest(*values: datetime | None) -> datetime:
    return max(v for v in values if v is not None)


def _interrupted_video_jobs(app: App, stale_after: timedelta) -> tuple[Finding, Repair | None]:
    """A job's last sign of life: its start, a finished segment, or a (re)start audited."""
    cutoff = app.now() - stale_after
    with app.unit_of_work() as uow:
        rows = uow.session.execute(
            select(
                VideoJob.id,
                VideoJob.started_at,
                select(func.max(VideoSegment.created_at))
                .where(VideoSegment.job_id == VideoJob.id)
                .scalar_subquery(),
                select(func.max(AuditEvent.occurred_at))
                .where(
                    AuditEvent.object_type == "video_job",
                    AuditEvent.object_id == VideoJob.id,
                )
                .scalar_subquery(),
            ).where(VideoJob.status == "running")
        ).all()
    stale = sorted(str(job_id) for job_id, *times in rows if _latest(*times) <= cutoff)

    finding = _finding(
        "interrupted-video-jobs",
        stale,
        ok="no video job is marked running without progress"
        + (f" ({len(rows)} running and active)" if rows else ""),
        found="{n} video job(s) marked running made no progress for " + _minutes(stale_after),
        repair=f"mark them '{INTERRUPTED}'; running the same 'video ingest' again resumes "
        "each from its last finished segment",
    )
    fix = _mark_interrupted(app, VideoJob, "interrupted-video-jobs", stale, "job_ids")
    return finding, fix if stale else None


def _interrupted_searches(app: App, stale_after: timedelta) -> tuple[Finding, Repair | None]:
    cutoff = app.now() - stale_after
    with app.unit_of_work() as uow:
        rows = uow.session.execute(
            select(
                Search.id,
                Search.started_at,
                select(func.max(MediaItem.created_at))
                .where(MediaItem.search_id == Search.id)
                .scalar_subquery(),
            ).where(Search.status == "running")
        ).all()
    stale = sorted(str(search_id) for search_id, *times in rows if _latest(*times) <= cutoff)

    finding = _finding(
        "interrupted-searches",
        stale,
        ok="no search is marked running without progress",
        found="{n} search(es) marked running made no progress for " + _minutes(stale_after),
        repair=f"mark them '{INTERRUPTED}' (the files they finished keep their candidates; "
        "search the rest again)",
    )
    fix = _mark_interrupted(app, Search, "interrupted-searches", stale, "search_ids")
    return finding, fix if stale else None


def _mark_interrupted(
    app: App, model: type[VideoJob] | type[Search], name: str, stale: list[str], ids_key: str
) -> Repair:
    """The repair of work left running: mark exactly those rows, if still running, interrupted
    (the resume logic picks them up), audited with their ids."""

    def fix() -> int:
        with app.unit_of_work() as uow:
            uow.session.execute(
                update(model)
                .where(model.id.in_(stale), model.status == "running")
                .values(status=INTERRUPTED)
            )
            _record_repair(uow, app, name, len(stale), **{ids_key: stale})
            uow.commit()
        return len(stale)

    return fix


def _minutes(span: timedelta) -> str:
    return f"{span.total_seconds() / 60:g} minute(s)"


# --- files in the data directory ----------------------------------------------------------


def _untouched(path: Path, stale_after: timedelta) -> bool:
    try:
        return time.time() - path.stat().st_mtime >= stale_after.total_seconds()
    except OSError:
        return False


def _relative(paths: Iterable[Path], home: Path) -> list[str]:
    return [str(p.relative_to(home)) for p in paths]


def _delete_files(
    app: App, name: str, paths: list[Path], *, prune_under: Path | None = None
) -> Repair:
    """A repair that audits the (relative) names first, then deletes the files."""
    home = app.settings.home

    def fix() -> int:
        with app.unit_of_work() as uow:
            _record_repair(uow, app, name, len(paths), files=_relative(paths, home)[:100])
            uow.commit()
        for path in paths:
            path.unlink(missing_ok=True)
        if prune_under is not None:
            _prune_empty_folders(prune_under)
        return len(paths)

    return fix


def _prune_empty_folders(root: Path) -> None:
    for folder in sorted((p for p in root.rglob("*") if p.is_dir()), reverse=True):
        if not any(folder.iterdir()):
            folder.rmdir()


def _leftover_temp_files(app: App, stale_after: timedelta) -> tuple[Finding, Repair | None]:
    home = app.settings.home
    leftovers = [
        p
        for p in (regular_files(home) if home.is_dir() else [])
        if is_leftover(p, home) and _untouched(p, stale_after)
    ]
    finding = _finding(
        "leftover-temp-files",
        _relative(leftovers, home),
        ok="no temp files of interrupted writes",
        found="{n} temp file(s) of interrupted writes (atomic saves, partial copies)",
        repair="delete them (nothing reads them; the database files are never touched)",
    )
    return finding, _delete_files(app, finding.name, leftovers) if leftovers else None


def upload_key(path: str | PurePath) -> str | None:
    """Where a stored path sits under an ``uploads`` folder (``evidence/...`` or
    ``references/...``), so a data directory that moved still matches its rows."""
    parts = PurePath(path).parts
    for i in range(len(parts) - 2, -1, -1):
        if parts[i] == "uploads" and parts[i + 1] in {"evidence", "references"}:
            return "/".join(parts[i + 1 :])
    return None


def _stored_upload_keys(uow: UnitOfWork, *, open_cases_only: bool) -> set[str]:
    media = select(MediaItem.source_path)
    if open_cases_only:
        media = media.join(Case, MediaItem.case_id == Case.id).where(Case.status == "open")
    paths = list(uow.session.scalars(media))
    paths += list(uow.session.scalars(select(ReferenceImage.source_path)))
    return {key for key in map(upload_key, paths) if key is not None}


def _uploaded_files(app: App) -> dict[str, Path]:
    root = uploads_root(app.settings.home)
    if not root.is_dir():
        return {}
    return {
        str(p.relative_to(root).as_posix()): p
        for p in regular_files(root)
        if not is_leftover(p, app.settings.home)
    }


def _unreferenced_uploads(app: App, stale_after: timedelta) -> tuple[Finding, Repair | None]:
    """Uploads no open case or listed subject refers to: partial uploads of a killed server,
    files a search could not read, evidence a closure or purge was killed before deleting.
    Nothing can search or review them, yet they hold faces (data minimisation)."""
    with app.unit_of_work() as uow:
        referenced = _stored_upload_keys(uow, open_cases_only=True)
    files = _uploaded_files(app)
    unreferenced = [
        path
        for key, path in sorted(files.items())
        if key not in referenced and _untouched(path, stale_after)
    ]
    finding = _finding(
        "unreferenced-uploads",
        _relative(unreferenced, app.settings.home),
        ok=f"every uploaded file ({len(files)}) belongs to an open case or a reference image",
        found="{n} uploaded file(s) belong to no open case's media or reference image",
        repair="delete them (partial, unusable or closed-case uploads nothing can use)",
    )
    fix = _delete_files(
        app, finding.name, unreferenced, prune_under=uploads_root(app.settings.home)
    )
    return finding, fix if unreferenced else None


def _missing_uploads(app: App, _: timedelta) -> tuple[Finding, Repair | None]:
    """Uploaded evidence of open cases and uploaded reference photos must still be on disk
    (review screens and contact sheets re-read faces from them)."""
    with app.unit_of_work() as uow:
        wanted = _stored_upload_keys(uow, open_cases_only=True)
    present = set(_uploaded_files(app))
    missing = sorted(wanted - present)
    return _finding(
        "missing-uploads",
        [f"uploads/{m}" for m in missing],
        ok="every uploaded file the database refers to is present",
        found="{n} uploaded file(s) the database refers to are missing",
        repair="none: restore them from a backup ('retroface backup verify' lists its files)",
    ), None
