"""What a backup holds and reports: the manifest format (file hashes, schema revision, who and when) and the result types of create, verify and restore."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

from retroface.errors import RetrofaceError

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
