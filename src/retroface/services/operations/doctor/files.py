"""Doctor: files in the data directory — temp files of atomic writes, uploads nobody references, uploads that went missing."""

from __future__ import annotations

import time
from collections.abc import Iterable
from datetime import timedelta
from pathlib import Path, PurePath

from sqlalchemy import select

from retroface.services.app import App
from retroface.services.biometrics.uploaded_files import uploads_root
from retroface.services.operations.data_directory import is_leftover, regular_files
from retroface.services.operations.doctor.findings import (
    Finding,
    Repair,
    make_finding,
    record_repair,
)
from retroface.store.models import (
    Case,
    MediaItem,
    ReferenceImage,
)
from retroface.store.unit_of_work import UnitOfWork


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
            record_repair(uow, app, name, len(paths), files=_relative(paths, home)[:100])
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


def leftover_temp_files(app: App, stale_after: timedelta) -> tuple[Finding, Repair | None]:
    home = app.settings.home
    leftovers = [
        p
        for p in (regular_files(home) if home.is_dir() else [])
        if is_leftover(p, home) and _untouched(p, stale_after)
    ]
    finding = make_finding(
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


def unreferenced_uploads(app: App, stale_after: timedelta) -> tuple[Finding, Repair | None]:
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
    finding = make_finding(
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


def missing_uploads(app: App, _: timedelta) -> tuple[Finding, Repair | None]:
    """Uploaded evidence of open cases and uploaded reference photos must still be on disk
    (review screens and contact sheets re-read faces from them)."""
    with app.unit_of_work() as uow:
        wanted = _stored_upload_keys(uow, open_cases_only=True)
    present = set(_uploaded_files(app))
    missing = sorted(wanted - present)
    return make_finding(
        "missing-uploads",
        [f"uploads/{m}" for m in missing],
        ok="every uploaded file the database refers to is present",
        found="{n} uploaded file(s) the database refers to are missing",
        repair="none: restore them from a backup ('retroface backup verify' lists its files)",
    ), None
