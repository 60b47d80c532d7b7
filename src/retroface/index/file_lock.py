"""One lock per index folder, shared by every process that reads or writes index files.

An index is two files (the FAISS data and its metadata with the state token).
Without a lock, two processes saving the same gallery at once (two supervisors
enrolling into it) can leave one's data beside the other's token, and a reader
can pair an old token with a new file. Saves hold the lock exclusively, loads
shared; the lock is advisory (``flock``) on a file no one ever deletes, so a
crashed holder releases it with its process. Where ``fcntl`` does not exist
(Windows) the lock is a no-op: single-process use only.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX
    fcntl = None  # type: ignore[assignment]

#: The lock file's name in each index folder (never matched by index-file globs).
LOCK_NAME = ".index.lock"


@contextmanager
def index_folder_lock(folder: Path, *, shared: bool) -> Iterator[None]:
    """Hold the folder's lock (shared for reading, exclusive for writing) for the block."""
    if fcntl is None:  # pragma: no cover - not POSIX
        yield
        return
    folder.mkdir(parents=True, exist_ok=True)
    handle = os.open(folder / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(handle, fcntl.LOCK_SH if shared else fcntl.LOCK_EX)
        yield
    finally:
        os.close(handle)  # closing releases the lock
