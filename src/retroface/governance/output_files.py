"""Where a command may write a file it was asked to: never into the data directory.

The data directory (and a SQLite database file kept elsewhere) is written only
through the data layer: the store, the index files, the sealed face files. A
file a person asks for (an audit export, a report, an evaluation folder, a
calibration record, a decrypted copy, the alerts of a live run, the audit
checkpoint key and log) goes somewhere else, so that no role, not even the
read-only auditor, can overwrite the database by naming it as an output. An
existing file is never replaced unless the person says so (``--force``).

Paths are compared after resolving links, and an existing target that is the
same file as the database under another name (a hard link) is refused too.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from retroface.errors import InvalidInputError
from retroface.settings import Settings

#: What SQLite keeps beside a database file.
_SQLITE_SIDE_FILES = ("", "-wal", "-shm", "-journal")


def database_file(settings: Settings) -> Path | None:
    """The SQLite database file the settings name (None for a database server)."""
    try:
        url = make_url(settings.url)
    except ArgumentError:
        return None
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return None
    return Path(url.database)


def inside_data_directory(path: Path, settings: Settings) -> bool:
    """Whether writing ``path`` would write into the data directory or the database."""
    target = path.resolve()
    if target.is_relative_to(settings.home.resolve()):
        return True
    database = database_file(settings)
    if database is None:
        return False
    database = database.resolve()
    if target.parent == database.parent and target.name in {
        database.name + suffix for suffix in _SQLITE_SIDE_FILES
    }:
        return True
    return _same_file(target, database)


def _same_file(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:  # one of them does not exist
        return False


def refuse_inside_data_directory(path: Path, settings: Settings, what: str) -> None:
    """Raise unless ``path`` lies outside the data directory and the database."""
    if inside_data_directory(path, settings):
        raise InvalidInputError(
            f"{path} is inside the data directory {settings.home}: write the {what} "
            "somewhere else (only retroface's data layer writes there)"
        )


def check_output_file(path: Path, settings: Settings, what: str, *, force: bool) -> None:
    """A new file outside the data directory; an existing one only with ``force``."""
    refuse_inside_data_directory(path, settings, what)
    if path.is_dir():
        raise InvalidInputError(f"{path} is a folder: name the {what} file to write")
    if path.exists() and not force:
        raise InvalidInputError(
            f"{path} exists: name a new file, or give --force to replace it with the {what}"
        )


def check_output_folder(
    folder: Path, settings: Settings, what: str, names: Iterable[str] | None, *, force: bool
) -> None:
    """A folder outside the data directory to write the ``what`` into.

    With ``names``, the files about to be written there must not exist; without, the folder
    must be new or empty (a report of many files). ``force`` allows replacing them.
    """
    refuse_inside_data_directory(folder, settings, what)
    if folder.exists() and not folder.is_dir():
        raise InvalidInputError(f"{folder} is a file: name a folder for the {what}")
    if force or not folder.is_dir():
        return
    if names is None:
        taken = sorted(p.name for p in folder.iterdir())
    else:
        taken = sorted(n for n in names if (folder / n).exists())
    if taken:
        shown = ", ".join(taken[:3]) + (", …" if len(taken) > 3 else "")
        raise InvalidInputError(
            f"{folder} already holds {shown}: name a new folder, or give --force to replace "
            f"them with the {what}"
        )
