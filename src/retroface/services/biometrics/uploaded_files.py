"""Where files uploaded over HTTP live in the data directory, and their deletion.

Evidence uploaded for a case sits in one folder per case, so closing the
case can delete it with the rest of the case's probe data; reference photos
uploaded to a gallery sit in one folder per gallery, since subjects' images
are read again for review (and erased with the subject's other data).
Where the data directory is encrypted (``retroface keys init``), every
uploaded file is sealed like the other face files (store/data_protection.py,
bound to its path under ``uploads/``): the engine and the review screens read
it through :func:`readable_upload`, a plaintext copy in a private folder
(``tmp/`` in the data directory) that lives only while it is read.
Folder names are keyed digests (HMAC-SHA256 under the installation's own
random key, ``installation.key`` in the data directory, made once), so no
case reference or name appears on disk and a folder name cannot be tested
against a list of likely references without that key. Folders named by the
unkeyed digest of earlier versions stay readable (rows name their files by
path) and are deleted with their case like the keyed ones.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import shutil
import uuid
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path, PurePath

from sqlalchemy import select

from retroface.errors import DataIntegrityError
from retroface.services.app import App
from retroface.store.data_protection import DataCipher, file_associated, is_sealed
from retroface.store.models import MediaItem, ReferenceImage

#: Where plaintext copies of sealed uploads live while the engine or a view reads them.
PLAINTEXT_COPIES = "tmp/plaintext"
_UPLOAD_KINDS = ("evidence", "references")

#: The installation's random key (32 bytes), in the data directory; made on first use.
INSTALLATION_KEY_FILE = "installation.key"
_KEY_BYTES = 32


def installation_key(home: Path) -> bytes:
    """The data directory's random key, made once (atomically: two processes starting
    together agree on one). It keys the upload folder names and, derived by purpose, the
    server's pre-session form tokens; it is not the data key (store/data_protection.py)."""
    path = home / INSTALLATION_KEY_FILE
    try:
        key = path.read_bytes()
    except FileNotFoundError:
        home.mkdir(parents=True, exist_ok=True)
        tmp = home / f".{INSTALLATION_KEY_FILE}.{secrets.token_hex(4)}.tmp"
        tmp.write_bytes(secrets.token_bytes(_KEY_BYTES))
        tmp.chmod(0o600)
        try:
            os.link(tmp, path)  # fails if another process made it first: theirs is kept
        except FileExistsError:
            pass
        finally:
            tmp.unlink(missing_ok=True)
        key = path.read_bytes()
    if len(key) != _KEY_BYTES:
        raise DataIntegrityError(
            f"{path} is damaged (not {_KEY_BYTES} bytes): restore it from a backup"
        )
    return key


def derived_key(home: Path, purpose: str) -> bytes:
    """A key for one purpose, derived from the installation key (never the key itself)."""
    return hmac.new(installation_key(home), purpose.encode("utf-8"), hashlib.sha256).digest()


def _digest(home: Path, kind: str, value: str) -> str:
    key = derived_key(home, f"upload-folder:{kind}")
    return hmac.new(key, value.encode("utf-8"), hashlib.sha256).hexdigest()[:32]


def _legacy_digest(value: str) -> str:
    """The unkeyed folder name of versions before the installation key."""
    return hashlib.sha256(value.encode("utf-8")).hexdigest()[:24]


def uploads_root(home: Path) -> Path:
    return home / "uploads"


def case_upload_folder(home: Path, case_reference: str) -> Path:
    return uploads_root(home) / "evidence" / _digest(home, "case", case_reference)


def gallery_upload_folder(home: Path, gallery_name: str) -> Path:
    return uploads_root(home) / "references" / _digest(home, "gallery", gallery_name)


def _case_folders(home: Path, case_reference: str) -> list[Path]:
    """The case's keyed folder and, from earlier versions, its unkeyed one."""
    legacy = uploads_root(home) / "evidence" / _legacy_digest(case_reference)
    return [case_upload_folder(home, case_reference), legacy]


def case_upload_files(home: Path, case_reference: str) -> list[Path]:
    return sorted(
        p
        for folder in _case_folders(home, case_reference)
        if folder.is_dir()
        for p in folder.rglob("*")
        if p.is_file()
    )


def remove_case_uploads(home: Path, case_reference: str) -> None:
    """Delete the case's uploaded evidence (called once the closure is committed)."""
    for folder in _case_folders(home, case_reference):
        shutil.rmtree(folder, ignore_errors=True)


def uploaded_files_among(home: Path, paths: Iterable[str]) -> list[Path]:
    """Those of ``paths`` that were uploaded into the data directory (and so are ours)."""
    root = uploads_root(home).resolve()
    return [p for p in map(Path, paths) if p.resolve().is_relative_to(root)]


def remove_files(paths: list[Path]) -> None:
    for path in paths:
        path.unlink(missing_ok=True)


def remove_unused_uploads(app: App, paths: Iterable[Path]) -> list[Path]:
    """Delete those of ``paths`` (one request's uploads) that no media item or reference
    image names: evidence of a search refused at its gate, files that could not be read,
    references an enrolment refused. Their folder goes too once empty. Returns the deleted."""
    paths = list(paths)
    if not paths:
        return []
    names = {str(p.resolve()) for p in paths} | {str(p) for p in paths}
    with app.unit_of_work() as uow:
        used = set(
            uow.session.scalars(
                select(MediaItem.source_path).where(MediaItem.source_path.in_(names))
            )
        )
        used |= set(
            uow.session.scalars(
                select(ReferenceImage.source_path).where(ReferenceImage.source_path.in_(names))
            )
        )
    unused = [p for p in paths if str(p.resolve()) not in used and str(p) not in used]
    remove_files(unused)
    for folder in {p.parent for p in unused}:
        if folder.is_dir() and not any(folder.iterdir()):
            folder.rmdir()
    return unused


def upload_location(path: str | PurePath) -> tuple[Path, str] | None:
    """(data directory, path under it) of an uploaded file, e.g. ``uploads/evidence/...``;
    None for a file that was not uploaded (a CLI user's own evidence)."""
    parts = PurePath(path).parts
    for i in range(len(parts) - 2, -1, -1):
        if parts[i] == "uploads" and parts[i + 1] in _UPLOAD_KINDS:
            return Path(*parts[:i]), "/".join(parts[i:])
    return None


def seal_upload(cipher: DataCipher, path: Path, data: bytes) -> bytes:
    """``data`` as it is stored at ``path`` (sealed and bound to it, where encrypted)."""
    location = upload_location(path)
    if location is None:
        raise ValueError(f"{path} is not under an uploads folder")
    return cipher.encrypt(data, file_associated(location[1]))


@contextmanager
def readable_upload(cipher: DataCipher, path: Path) -> Iterator[Path]:
    """A path the engine can open: ``path`` itself unless it is a sealed upload, else a
    plaintext copy (same name, so the same suffix) in a private folder of the data
    directory, deleted on leaving. A copy a crash left behind is a leftover temp file for
    ``retroface doctor --repair`` (services/operations/data_directory.py)."""
    location = upload_location(path)
    if location is None:
        yield path
        return
    with path.open("rb") as stream:
        head = stream.read(16)
    if not is_sealed(head):
        yield path
        return
    home, relative = location
    plain = cipher.decrypt(path.read_bytes(), file_associated(relative))
    folder = home / PLAINTEXT_COPIES / uuid.uuid4().hex
    folder.mkdir(parents=True, mode=0o700)
    copy = folder / path.name
    try:
        descriptor = os.open(copy, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "wb") as out:
            out.write(plain)
        del plain
        yield copy
    finally:
        shutil.rmtree(folder, ignore_errors=True)


#: Plaintext copies being analysed → the stored (sealed) uploads they were made from.
Sources = Mapping[Path, Path]


def recorded_source(path: Path, sources: Sources | None) -> str:
    """The path a row records for an analysed file: the stored upload when ``path`` is a
    plaintext copy of one (:func:`readable_upload`), else ``path`` itself; resolved."""
    resolved = path.resolve()
    for copy, stored in (sources or {}).items():
        if copy.resolve() == resolved:
            return str(stored.resolve())
    return str(resolved)
