"""Create a backup: a consistent SQLite snapshot and the data directory's files, hashed into a manifest, written private (0600/0700) as a folder or an archive."""

from __future__ import annotations

import hashlib
import os
import shutil
import sqlite3
import tarfile
import uuid
from pathlib import Path
from typing import IO, Any

import retroface
from retroface.errors import InvalidInputError
from retroface.governance.audit import GENESIS
from retroface.governance.identity import Principal
from retroface.governance.roles import Action
from retroface.services.app import App
from retroface.services.operations.backup.manifest import (
    ARCHIVE_SUFFIXES,
    CHUNK_BYTES,
    DATABASE_FILE,
    FORMAT,
    FORMAT_VERSION,
    MANIFEST,
    PG_DUMP_ADVICE,
    BackupError,
    BackupReport,
    Manifest,
    ManifestFile,
)
from retroface.services.operations.data_directory import (
    SESSION_FILE,
    is_leftover,
    regular_files,
    sqlite_files,
    symlinks,
)
from retroface.services.operations.doctor import sqlite_path


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
    staging = private_folder(destination.parent / f".{destination.name}.partial-{token()}")
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
            uow,
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


def token() -> str:
    return uuid.uuid4().hex[:12]


def private_folder(path: Path) -> Path:
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
        private_parents(target, staging)
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


def private_parents(target: Path, root: Path) -> None:
    missing = [p for p in reversed(target.parents) if p.is_relative_to(root) and not p.exists()]
    for folder in missing:
        private_folder(folder)


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


def hash_stream(stream: IO[bytes]) -> dict[str, Any]:
    digest = hashlib.sha256()
    size = 0
    while chunk := stream.read(CHUNK_BYTES):
        digest.update(chunk)
        size += len(chunk)
    return {"sha256": digest.hexdigest(), "bytes": size}


def _hash_file(path: Path) -> dict[str, Any]:
    with path.open("rb") as stream:
        return hash_stream(stream)


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
    partial = destination.with_name(destination.name + f".{token()}.partial")
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
