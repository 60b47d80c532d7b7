"""Backups of a data directory: a consistent snapshot, a manifest of hashes, verify, restore.

Why this shape: a live SQLite database cannot be copied as a file (a write
in flight or a WAL not yet checkpointed gives a torn copy), so the database
is read through SQLite's online backup API, which copies a consistent
snapshot while others keep working. The other files of the data directory
(index files, uploaded evidence, contact sheets, case reports) are copied
beside it, and ``manifest.json`` records the SHA-256 and size of every file,
the schema revision, the retroface version, when and by whom. ``verify``
re-hashes everything and names each missing, extra or changed file;
``restore`` verifies first, writes into a temp folder beside the target and
renames it into place, and never deletes a data directory it replaces (it is
moved aside). The CLI session file (a credential) and temp files of
interrupted writes are left out.

A backup holds every biometric in the deployment: files are written readable
by their owner only (0600, folders 0700) and it must be stored like the data
directory itself. PostgreSQL deployments are backed up with ``pg_dump``.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import sqlite3
import tarfile
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path, PurePosixPath
from typing import IO, Any

from pydantic import BaseModel, ValidationError
from sqlalchemy import func, select, update

import retroface
from retroface.errors import AuthorisationError, InvalidInputError, RetrofaceError
from retroface.governance.audit import GENESIS
from retroface.governance.identity import Principal
from retroface.governance.roles import Action
from retroface.services.app import App, open_app
from retroface.services.biometrics.gallery_index import forget_held_indexes
from retroface.services.galleries.erase import ErasedRow, erased_rows, replay_erasures
from retroface.services.operations.data_directory import (
    SESSION_FILE,
    is_leftover,
    regular_files,
    sqlite_files,
    symlinks,
)
from retroface.services.operations.doctor import schema_heads, sqlite_path
from retroface.settings import Settings
from retroface.store.models import AuditEvent, MediaItem, ReferenceImage

MANIFEST = "manifest.json"
DATABASE_FILE = "retroface.sqlite3"
FORMAT = "retroface-backup"
FORMAT_VERSION = 1
ARCHIVE_SUFFIXES = (".tar", ".tar.gz", ".tgz")
CHUNK_BYTES = 1 << 20
PG_DUMP_ADVICE = (
    "this deployment keeps its database in PostgreSQL: back it up with pg_dump "
    "(pg_dump --format=custom) and copy the data directory's index/, uploads/ and exports/ "
    "folders with it; see docs/security.md"
)


class BackupError(RetrofaceError):
    """A backup is missing, not a retroface backup, damaged, or cannot be restored here."""


class ManifestFile(BaseModel):
    path: str
    sha256: str
    bytes: int


class Manifest(BaseModel):
    format: str
    format_version: int
    retroface_version: str
    created_at: datetime
    created_by: str
    created_by_role: str | None
    #: The data directory it was taken from (absolute), so a restore elsewhere can re-point
    #: the paths of uploaded files.
    source_home: str
    database: str
    alembic_revision: str
    audit_events: int
    audit_head: str
    files: list[ManifestFile]


class BackupReport(BaseModel):
    path: str
    archive: bool
    files: int
    bytes: int
    alembic_revision: str
    audit_events: int
    manifest_sha256: str
    left_out: list[str]


class BackupCheck(BaseModel):
    """What ``verify`` found: ok only if every file is present, unchanged, and nothing extra."""

    path: str
    ok: bool
    files: int
    bytes: int
    missing: list[str]
    extra: list[str]
    changed: list[str]
    manifest_sha256: str
    created_at: datetime
    created_by: str
    retroface_version: str
    alembic_revision: str
    #: False when the backup's schema is newer than this retroface knows (restore refuses).
    revision_known: bool


class RestoreReport(BaseModel):
    home: str
    files: int
    bytes: int
    manifest_sha256: str
    moved_aside: str | None
    paths_repointed: int
    alembic_revision: str
    #: People erased in the replaced data directory whom the backup still held: erased again.
    erasures_replayed: int = 0
    #: Whether a database was replaced (only then can later erasures be known and replayed).
    replaced_database: bool = False
    backup_created_at: datetime | None = None


# --- create -------------------------------------------------------------------------------


def create_backup(app: App, destination: Path) -> BackupReport:
    """Snapshot the database and copy the data directory into ``destination`` (a new or empty
    folder, or a ``.tar``/``.tar.gz`` file), then audit it in the live database."""
    principal = app.require(Action.SYSTEM_MAINTAIN)
    database = sqlite_path(app)
    if database is None:
        raise BackupError(f"retroface backup cannot do this: {PG_DUMP_ADVICE}")
    home = app.settings.home.resolve()
    destination = destination.expanduser().absolute()
    archive = destination.name.endswith(ARCHIVE_SUFFIXES)
    _check_destination(destination, home, archive)
    staging = _private_folder(destination.parent / f".{destination.name}.partial-{_token()}")
    try:
        files, left_out = _fill_staging(staging, home, database.resolve())
        manifest = _manifest(app, principal, staging, home, files)
        manifest_bytes = manifest.model_dump_json(indent=2).encode("utf-8")
        _write_private(staging / MANIFEST, manifest_bytes)
        if archive:
            _write_archive(staging, destination)
        else:
            _move_into_place(staging, destination)
    finally:
        shutil.rmtree(staging, ignore_errors=True)  # our own temp folder (gone if renamed)
    digest = hashlib.sha256(manifest_bytes).hexdigest()
    total = sum(f.bytes for f in manifest.files)
    with app.unit_of_work() as uow:
        app.audit(
            uow.session,
            action="backup.created",
            object_type="backup",
            object_id=digest[:16],
            destination=str(destination),
            manifest_sha256=digest,
            files=len(manifest.files),
            bytes=total,
            alembic_revision=manifest.alembic_revision,
            audit_events_included=manifest.audit_events,
        )
        uow.commit()
    return BackupReport(
        path=str(destination),
        archive=archive,
        files=len(manifest.files),
        bytes=total,
        alembic_revision=manifest.alembic_revision,
        audit_events=manifest.audit_events,
        manifest_sha256=digest,
        left_out=left_out,
    )


def _check_destination(destination: Path, home: Path, archive: bool) -> None:
    if destination.resolve().is_relative_to(home):
        raise InvalidInputError(
            f"{destination}: a backup inside the data directory would copy itself; "
            "choose a place outside it"
        )
    if archive and destination.exists():
        raise InvalidInputError(f"{destination} already exists; name a new archive file")
    if (not archive and destination.exists()) and (
        not destination.is_dir() or any(destination.iterdir())
    ):
        raise InvalidInputError(
            f"{destination} already exists and is not an empty folder; name a new folder, "
            f"or an archive ending in {' or '.join(ARCHIVE_SUFFIXES)}"
        )
    if not destination.parent.is_dir():
        raise InvalidInputError(f"{destination.parent}: no such folder")


def _token() -> str:
    return uuid.uuid4().hex[:12]


def _private_folder(path: Path) -> Path:
    path.mkdir(mode=0o700, parents=False, exist_ok=False)
    path.chmod(0o700)
    return path


def _write_private(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(data)


def _fill_staging(
    staging: Path, home: Path, database: Path
) -> tuple[list[ManifestFile], list[str]]:
    """The database snapshot first, then every other file; returns them and what was left out."""
    snapshot = staging / DATABASE_FILE
    _snapshot_sqlite(database, snapshot)
    files = [ManifestFile(path=DATABASE_FILE, **_hash_file(snapshot))]
    skip = sqlite_files(database)
    left_out = [
        f"{link.relative_to(home).as_posix()} (a symbolic link: retroface makes none)"
        for link in symlinks(home)
    ]
    for source in regular_files(home):
        relative = source.relative_to(home).as_posix()
        if source in skip:
            continue
        if relative == SESSION_FILE:
            left_out.append(f"{relative} (a person's login session)")
            continue
        if is_leftover(source, home):
            left_out.append(f"{relative} (temp file of an interrupted write)")
            continue
        target = staging / relative
        _private_parents(target, staging)
        try:
            files.append(ManifestFile(path=relative, **_copy_private(source, target)))
        except FileNotFoundError:  # deleted meanwhile (a closed case's upload, a new index)
            left_out.append(f"{relative} (deleted while the backup ran)")
    return files, left_out


def _snapshot_sqlite(database: Path, target: Path) -> None:
    """SQLite's online backup API: a consistent copy while other connections keep working."""
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    os.close(fd)  # created private first, so the copy is never readable by others
    source = sqlite3.connect(database, timeout=30)
    copy = sqlite3.connect(target)
    try:
        source.backup(copy)
        copy.execute("PRAGMA journal_mode=DELETE")  # one self-contained file
        result = copy.execute("PRAGMA integrity_check").fetchone()
    finally:
        copy.close()
        source.close()
    if result is None or result[0] != "ok":
        raise BackupError(
            "the database snapshot fails SQLite's integrity check; run 'retroface doctor' "
            "before backing up"
        )


def _private_parents(target: Path, root: Path) -> None:
    missing = [p for p in reversed(target.parents) if p.is_relative_to(root) and not p.exists()]
    for folder in missing:
        _private_folder(folder)


def _copy_private(source: Path, target: Path) -> dict[str, Any]:
    digest = hashlib.sha256()
    size = 0
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with source.open("rb") as src, os.fdopen(fd, "wb") as out:
        while chunk := src.read(CHUNK_BYTES):
            digest.update(chunk)
            size += len(chunk)
            out.write(chunk)
    return {"sha256": digest.hexdigest(), "bytes": size}


def _hash_stream(stream: IO[bytes]) -> dict[str, Any]:
    digest = hashlib.sha256()
    size = 0
    while chunk := stream.read(CHUNK_BYTES):
        digest.update(chunk)
        size += len(chunk)
    return {"sha256": digest.hexdigest(), "bytes": size}


def _hash_file(path: Path) -> dict[str, Any]:
    with path.open("rb") as stream:
        return _hash_stream(stream)


def _manifest(
    app: App, principal: Principal, staging: Path, home: Path, files: list[ManifestFile]
) -> Manifest:
    revision, events, head = _snapshot_facts(staging / DATABASE_FILE)
    return Manifest(
        format=FORMAT,
        format_version=FORMAT_VERSION,
        retroface_version=retroface.__version__,
        created_at=app.now(),
        created_by=principal.username,
        created_by_role=principal.role.value,
        source_home=str(home),
        database=DATABASE_FILE,
        alembic_revision=revision,
        audit_events=events,
        audit_head=head,
        files=files,
    )


def _snapshot_facts(snapshot: Path) -> tuple[str, int, str]:
    """(schema revision, audit events, audit chain head) as the snapshot holds them."""
    connection = sqlite3.connect(snapshot)
    try:
        revision = connection.execute("SELECT version_num FROM alembic_version").fetchone()
        events = connection.execute("SELECT count(*) FROM audit_events").fetchone()
        head = connection.execute(
            "SELECT event_hash FROM audit_events ORDER BY id DESC LIMIT 1"
        ).fetchone()
    finally:
        connection.close()
    return str(revision[0]), int(events[0]), str(head[0]) if head else GENESIS


def _write_archive(staging: Path, destination: Path) -> None:
    """A tar of the staging folder (private modes, no owner names), renamed into place."""
    partial = destination.with_name(destination.name + f".{_token()}.partial")
    mode = "w" if destination.name.endswith(".tar") else "w:gz"
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as raw, tarfile.open(fileobj=raw, mode=mode) as tar:  # type: ignore[call-overload]
            for path in regular_files(staging):
                info = tar.gettarinfo(str(path), arcname=path.relative_to(staging).as_posix())
                info.mode, info.uid, info.gid, info.uname, info.gname = 0o600, 0, 0, "", ""
                with path.open("rb") as stream:
                    tar.addfile(info, stream)
        os.replace(partial, destination)
    finally:
        partial.unlink(missing_ok=True)


def _move_into_place(staging: Path, destination: Path) -> None:
    if destination.exists():
        destination.rmdir()  # checked empty above
    os.replace(staging, destination)


# --- read and verify ----------------------------------------------------------------------


def _safe_relative(name: str) -> str | None:
    """A member name as a plain relative path inside the backup, or None if it escapes it."""
    path = PurePosixPath(name)
    if path.is_absolute() or not path.parts or any(p in {"..", ""} for p in path.parts):
        return None
    return path.as_posix().removeprefix("./") or None


class _Backup:
    """One backup, folder or archive, read without extracting anything unchecked."""

    def __init__(self, path: Path, tar: tarfile.TarFile | None) -> None:
        self.path = path
        self._tar = tar

    def entries(self) -> tuple[dict[str, Any], list[str]]:
        """Regular files by relative name, and names that are not plain files inside it."""
        files: dict[str, Any] = {}
        odd: list[str] = []
        if self._tar is not None:
            for member in self._tar.getmembers():
                name = _safe_relative(member.name)
                if member.isdir() and name is not None:
                    continue
                if name is None or not member.isfile():
                    odd.append(member.name)
                else:
                    files[name] = member
            return files, odd
        for folder, dirs, names in os.walk(self.path):  # never follows symbolic links
            here = Path(folder)
            for item in (here / n for n in sorted(dirs + names)):
                name = item.relative_to(self.path).as_posix()
                if item.is_symlink() or not (item.is_file() or item.is_dir()):
                    odd.append(name)
                elif item.is_file():
                    files[name] = item
        return files, odd

    @contextmanager
    def open(self, entry: Any) -> Iterator[IO[bytes]]:
        if self._tar is not None:
            stream = self._tar.extractfile(entry)
            assert stream is not None  # regular members only
            with stream:
                yield stream
        else:
            with Path(entry).open("rb") as stream:
                yield stream

    def manifest(self, files: dict[str, Any]) -> tuple[Manifest, str]:
        if MANIFEST not in files:
            raise BackupError(f"{self.path}: not a retroface backup (no {MANIFEST})")
        with self.open(files[MANIFEST]) as stream:
            raw = stream.read()
        try:
            manifest = Manifest.model_validate_json(raw)
        except ValidationError as exc:
            raise BackupError(f"{self.path}: {MANIFEST} is damaged or not retroface's") from exc
        if manifest.format != FORMAT or manifest.format_version > FORMAT_VERSION:
            raise BackupError(
                f"{self.path}: backup format {manifest.format} v{manifest.format_version} is "
                "not one this retroface reads; use a newer retroface"
            )
        return manifest, hashlib.sha256(raw).hexdigest()


@contextmanager
def _opened(path: Path) -> Iterator[_Backup]:
    if not path.exists():
        raise InvalidInputError(f"{path}: no such backup folder or archive")
    if not path.is_file():
        yield _Backup(path, None)
        return
    try:
        tar = tarfile.open(path, "r:*")  # noqa: SIM115 - closed by the with below
    except (tarfile.TarError, OSError) as exc:
        raise BackupError(f"{path}: not a readable tar archive ({exc})") from exc
    with tar:
        yield _Backup(path, tar)


def verify_backup(source: Path) -> BackupCheck:
    """Re-hash every file; name each one missing, extra (or not a plain file) or changed."""
    with _opened(source) as backup:
        files, odd = backup.entries()
        manifest, digest = backup.manifest(files)
        listed = {f.path: f for f in manifest.files}
        missing = sorted(set(listed) - set(files))
        extra = sorted((set(files) - set(listed) - {MANIFEST}) | set(odd))
        changed: list[str] = []
        for name in sorted(set(listed) & set(files)):
            with backup.open(files[name]) as stream:
                found = _hash_stream(stream)
            if found != {"sha256": listed[name].sha256, "bytes": listed[name].bytes}:
                changed.append(name)
    _, known = schema_heads(_placeholder_url())
    return BackupCheck(
        path=str(source),
        ok=not (missing or extra or changed)
        and any(f.path == manifest.database for f in manifest.files),
        files=len(manifest.files),
        bytes=sum(f.bytes for f in manifest.files),
        missing=missing,
        extra=extra,
        changed=changed,
        manifest_sha256=digest,
        created_at=manifest.created_at,
        created_by=manifest.created_by,
        retroface_version=manifest.retroface_version,
        alembic_revision=manifest.alembic_revision,
        revision_known=manifest.alembic_revision in known,
    )


def _placeholder_url() -> str:
    """Alembic's script directory needs a URL to configure; no connection is made."""
    return "sqlite://"


def describe_problems(check: BackupCheck) -> str:
    parts = [
        f"{label}: {', '.join(names[:5])}{' ...' if len(names) > 5 else ''}"
        for label, names in (
            ("missing", check.missing),
            ("extra", check.extra),
            ("changed", check.changed),
        )
        if names
    ]
    return "; ".join(parts) or "the manifest lists no database"


# --- restore ------------------------------------------------------------------------------

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
                uow.session,
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
    staging = _private_folder(home.parent / f".{home.name}.restore-{_token()}")
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
    with _opened(source) as backup:
        files, _ = backup.entries()
        manifest, digest = backup.manifest(files)
        for item in manifest.files:
            name = _safe_relative(item.path)
            if name is None or name == MANIFEST or name not in files:
                raise BackupError(f"{source}: manifest entry {item.path!r} cannot be restored")
            target = staging / name
            _private_parents(target, staging)
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
                uow.session,
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
        aside = home.with_name(f"{home.name}.before-restore-{stamp}-{_token()[:4]}")
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
