"""Restore a verified backup: written beside the target, renamed into place, the replaced directory moved aside; erasures since the backup replayed; refusals audited."""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import IO, Any

from sqlalchemy import func, select, update

from retroface.errors import AuthorisationError, InvalidInputError, RetrofaceError
from retroface.governance.identity import Principal
from retroface.governance.roles import Action
from retroface.services.app import App, open_app
from retroface.services.biometrics.gallery_index import forget_held_indexes
from retroface.services.galleries.erase import ErasedRow, erased_rows, replay_erasures
from retroface.services.operations.backup.archive import (
    describe_problems,
    opened,
    safe_relative,
    verify_backup,
)
from retroface.services.operations.backup.create import private_folder, private_parents, token
from retroface.services.operations.backup.manifest import (
    CHUNK_BYTES,
    MANIFEST,
    BackupError,
    Manifest,
    RestoreReport,
)
from retroface.settings import Settings
from retroface.store.models import AuditEvent, MediaItem, ReferenceImage

Credentials = Callable[[App], Principal | None]
log = logging.getLogger("retroface.backup")


def restore_backup(
    settings: Settings, source: Path, credentials: Credentials, *, force: bool = False
) -> RestoreReport:
    """Verify ``source``, rebuild the data directory ``settings.home`` from it, and audit the
    restore in the restored database, acting as an admin of the backed-up deployment.

    ``credentials`` identifies the person against the backup's own users (the restored
    database is the one their action is recorded in). A non-empty target is refused unless
    ``force``; it is then moved aside, never deleted. A refusal is recorded in the
    deployment the restore would have replaced, if there is one.
    """
    try:
        return _restore(settings, source, credentials, force)
    except RetrofaceError as exc:
        _record_refusal(settings, source, exc)
        raise


def _record_refusal(settings: Settings, source: Path, exc: RetrofaceError) -> None:
    """Audit a refused restore in the data directory it targeted: an attempt to replace a
    deployment is on its record even when nobody could be authenticated for it."""
    if settings.database_url:
        return  # refused before anything: a database server is restored with its own tools
    home = settings.home.expanduser().absolute()
    if not settings.with_(home=home).sqlite_path.is_file():
        return  # no deployment there to keep a record (and none must be created)
    try:
        app = open_app(settings.with_(home=home))
    except Exception:  # a damaged database is a reason to restore: the refusal still stands
        log.warning("a refused restore could not be recorded in %s", home)
        return
    try:
        with app.unit_of_work() as uow:
            app.audit(
                uow,
                action="backup.restore_refused",
                object_type="backup",
                object_id=source.name[:64],
                source=str(source.absolute()),
                reason=str(exc)[:500],
                authenticated=False,
            )
            uow.commit()
    finally:
        app.close()


def _restore(
    settings: Settings, source: Path, credentials: Credentials, force: bool
) -> RestoreReport:
    if settings.database_url:
        raise BackupError(
            "RETROFACE_DATABASE_URL names a database server: restore a PostgreSQL deployment "
            "with pg_restore (see docs/security.md); 'backup restore' rebuilds a data "
            "directory whose database is its own SQLite file"
        )
    home = settings.home.expanduser().absolute()
    check = verify_backup(source)
    if not check.ok:
        raise BackupError(f"{source} does not verify, nothing restored: {describe_problems(check)}")
    if not check.revision_known:
        raise BackupError(
            f"{source} was made by a newer retroface (schema {check.alembic_revision}, "
            f"retroface {check.retroface_version}); upgrade retroface before restoring"
        )
    occupied = home.exists() and (not home.is_dir() or any(home.iterdir()))
    if occupied and not force:
        raise InvalidInputError(
            f"{home} is not empty: restore into a new or empty folder (--home), or give "
            "--force to move the current data directory aside (it is kept, never deleted)"
        )
    home.parent.mkdir(parents=True, exist_ok=True)
    replaced = settings.with_(home=home).sqlite_path
    had_database = occupied and replaced.is_file()
    erased = erased_rows(replaced) if had_database else []
    staging = private_folder(home.parent / f".{home.name}.restore-{token()}")
    try:
        manifest, digest, total = _extract(source, staging)
        repointed, replayed = _audit_restore(
            settings, staging, home, manifest, digest, source, credentials, erased
        )
        aside = _swap_into_place(staging, home, occupied)
    finally:
        shutil.rmtree(staging, ignore_errors=True)  # our own temp folder (gone if renamed)
    forget_held_indexes()
    return RestoreReport(
        home=str(home),
        files=len(manifest.files),
        bytes=total,
        manifest_sha256=digest,
        moved_aside=str(aside) if aside else None,
        paths_repointed=repointed,
        alembic_revision=manifest.alembic_revision,
        erasures_replayed=replayed,
        replaced_database=had_database,
        backup_created_at=manifest.created_at,
    )


def _extract(source: Path, staging: Path) -> tuple[Manifest, str, int]:
    """Copy every listed file into ``staging`` (0600/0700), hashing again as it is written:
    the backup could change between the verify and the copy."""
    total = 0
    with opened(source) as backup:
        files, _ = backup.entries()
        manifest, digest = backup.manifest(files)
        for item in manifest.files:
            name = safe_relative(item.path)
            if name is None or name == MANIFEST or name not in files:
                raise BackupError(f"{source}: manifest entry {item.path!r} cannot be restored")
            target = staging / name
            private_parents(target, staging)
            with backup.open(files[name]) as stream:
                written = _stream_private(stream, target)
            if written != {"sha256": item.sha256, "bytes": item.bytes}:
                raise BackupError(f"{source}: {item.path} changed while it was restored")
            total += item.bytes
    return manifest, digest, total


def _stream_private(stream: IO[bytes], target: Path) -> dict[str, Any]:
    digest = hashlib.sha256()
    size = 0
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        while chunk := stream.read(CHUNK_BYTES):
            digest.update(chunk)
            size += len(chunk)
            out.write(chunk)
    return {"sha256": digest.hexdigest(), "bytes": size}


def _audit_restore(
    settings: Settings,
    staging: Path,
    home: Path,
    manifest: Manifest,
    digest: str,
    source: Path,
    credentials: Credentials,
    erased: list[ErasedRow],
) -> tuple[int, int]:
    """Open the restored database (migrating an older schema), check the person is one of its
    admins, re-point uploaded files' paths if the data directory moved, erase again whoever
    the replaced database had erased, and audit it all. Returns (paths re-pointed, erasures
    replayed)."""
    app = open_app(settings.with_(home=staging, database_url=None))
    try:
        principal = credentials(app)
        if principal is None:
            raise AuthorisationError(
                "a restore is recorded in the restored deployment's audit log: set "
                "RETROFACE_USER to one of its admins (the password is prompted for, or "
                "read from RETROFACE_PASSWORD)"
            )
        app = app.acting_as(principal)
        app.require(Action.SYSTEM_MAINTAIN)
        with app.unit_of_work() as uow:
            repointed = _repoint_uploads(uow.session, Path(manifest.source_home), home)
            events = int(uow.session.scalar(select(func.count(AuditEvent.id))) or 0)
            app.audit(
                uow,
                action="backup.restored",
                object_type="backup",
                object_id=digest[:16],
                source=str(source.absolute()),
                manifest_sha256=digest,
                backup_created_at=manifest.created_at.isoformat(),
                backup_created_by=manifest.created_by,
                files=len(manifest.files),
                alembic_revision=manifest.alembic_revision,
                audit_events_in_backup=manifest.audit_events,
                audit_events_found=events,
                paths_repointed=repointed,
                home=str(home),
            )
            uow.commit()
        replayed = replay_erasures(
            app, erased, f"erased after backup {digest[:16]} was made; replayed on its restore"
        )
        return repointed, len(replayed.subject_ids)
    finally:
        app.close()


def _repoint_uploads(session: Any, old_home: Path, new_home: Path) -> int:
    """Rows naming files uploaded into the old data directory now name the restored copies."""
    if old_home == new_home:
        return 0
    old, new = str(old_home / "uploads") + os.sep, str(new_home / "uploads") + os.sep
    count = 0
    for model in (MediaItem, ReferenceImage):
        rows = session.execute(
            select(model.id, model.source_path).where(model.source_path.startswith(old))
        ).all()
        for row_id, path in rows:
            session.execute(
                update(model).where(model.id == row_id).values(source_path=new + path[len(old) :])
            )
        count += len(rows)
    return count


def _swap_into_place(staging: Path, home: Path, occupied: bool) -> Path | None:
    """Rename the restored folder into place; a previous data directory is moved aside."""
    aside: Path | None = None
    if occupied:
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
        aside = home.with_name(f"{home.name}.before-restore-{stamp}-{token()[:4]}")
        os.replace(home, aside)
    elif home.exists():
        home.rmdir()  # an empty folder
    try:
        os.replace(staging, home)
    except OSError:
        if aside is not None:
            os.replace(aside, home)  # put the old one back: never leave no data directory
        raise
    return aside
