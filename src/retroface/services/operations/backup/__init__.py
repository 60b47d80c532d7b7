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

The work is split by step: ``create``, ``archive`` (read and verify) and ``restore``.
"""

from retroface.services.operations.backup.archive import describe_problems, verify_backup
from retroface.services.operations.backup.create import create_backup
from retroface.services.operations.backup.manifest import (
    BackupCheck,
    BackupError,
    BackupReport,
    RestoreReport,
)
from retroface.services.operations.backup.restore import restore_backup

__all__ = [
    "BackupCheck",
    "BackupError",
    "BackupReport",
    "RestoreReport",
    "create_backup",
    "describe_problems",
    "restore_backup",
    "verify_backup",
]
