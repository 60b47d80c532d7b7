"""What lives in the data directory, by kind: the database, leftovers, credentials, the rest.

Why one module: ``doctor`` deletes leftovers and ``backup`` copies everything
else, and both must agree on which files are which. Two rules matter most:
the SQLite file and its ``-wal``/``-shm``/``-journal`` companions are never
deleted or copied raw (a hot journal is part of the database until SQLite
has replayed it; a backup reads the database through SQLite's backup API),
and a CLI session file is one person's credential, never part of a backup.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

#: Where older versions kept the CLI's saved session (now in each OS user's config folder,
#: ``cli/session_file.py``): a credential, not deployment data, so never backed up.
SESSION_FILE = "session.json"
#: Companions SQLite keeps beside the database file.
SQLITE_COMPANIONS = ("-wal", "-shm", "-journal")
#: Suffixes of files an interrupted atomic write leaves behind (the final name is written last).
TEMP_SUFFIXES = (".tmp", ".partial")
#: Private temp folder of the data directory (plaintext copies of sealed uploads being read).
TEMP_FOLDER = "tmp"
#: Where versions before the index-folder lock left an interrupted save's metadata (now ``*.tmp``).
INDEX_META_TEMP_SUFFIX = ".faiss.json"


def sqlite_files(database: Path) -> set[Path]:
    """The database file and the companions SQLite may keep beside it."""
    return {database, *(database.with_name(database.name + s) for s in SQLITE_COMPANIONS)}


def is_leftover(path: Path, home: Path) -> bool:
    """A temp file of an interrupted write, or a plaintext copy of a sealed upload a crash
    left in ``tmp/`` (a reader deletes its own): never read again, safe to delete, and
    never backed up."""
    if path.name.endswith(TEMP_SUFFIXES) or path.is_relative_to(home / TEMP_FOLDER):
        return True
    return path.parent == home / "index" and path.name.endswith(INDEX_META_TEMP_SUFFIX)


def regular_files(root: Path) -> Iterator[Path]:
    """Every regular file under ``root`` (sorted, symbolic links neither followed nor listed)."""
    for folder, dirs, files in os.walk(root):
        dirs.sort()
        here = Path(folder)
        for name in sorted(files):
            path = here / name
            if path.is_file() and not path.is_symlink():
                yield path


def symlinks(root: Path) -> list[Path]:
    """Symbolic links under ``root``: retroface never makes them, so they are reported."""
    found: list[Path] = []
    for folder, dirs, files in os.walk(root):
        found += [Path(folder) / n for n in dirs + files if (Path(folder) / n).is_symlink()]
    return sorted(found)
