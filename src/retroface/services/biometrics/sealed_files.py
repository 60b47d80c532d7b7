"""Face images retroface itself writes into the data directory, sealed where it is encrypted.

Which files: contact sheets (``exports/contact-sheets``: a grid of face crops),
case reports (``exports/case-reports``: HTML and PDF with every candidate's
probe and reference face), and the evidence and reference photos uploaded over
HTTP (``uploads/``, sealed as they are stored: serving/uploads.py; read through
``uploaded_files.readable_upload``). Each keeps its name; where the data
directory is encrypted its content is one sealed blob bound to its path
(see store/data_protection.py), written atomically. The server decrypts a
report when it sends it; on the command line ``retroface keys decrypt``
writes a plaintext copy for a person entitled to the file (audited).

Evidence a CLI user names stays where it is, as it is: it is theirs, not in
the data directory.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

from retroface.errors import InvalidInputError, NotFoundError
from retroface.governance.output_files import check_output_file
from retroface.governance.roles import Action
from retroface.services.app import App
from retroface.store.data_protection import DataCipher, file_associated

#: Folders (relative to the data directory) whose files hold faces, and who may open them.
PROTECTED_FOLDERS: dict[str, Action] = {
    "exports/contact-sheets": Action.VIDEO_CLUSTER,
    "exports/case-reports": Action.REPORT_CASE,
    "uploads/evidence": Action.REVIEW_READ,
    "uploads/references": Action.GALLERY_READ,
}


def _relative(home: Path, path: Path) -> str:
    try:
        return path.resolve().relative_to(home.resolve()).as_posix()
    except ValueError as exc:
        raise InvalidInputError(f"{path} is not inside the data directory {home}") from exc


def write_protected_file(cipher: DataCipher, home: Path, path: Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` (inside ``home``), sealed when the directory is encrypted;
    a crash leaves the old file or none, never a half-written one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    blob = cipher.encrypt(data, file_associated(_relative(home, path)))
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    tmp.write_bytes(blob)
    os.replace(tmp, path)
    return path


def read_protected_file(
    cipher: DataCipher, home: Path, path: Path, *, allow_plaintext: bool = False
) -> bytes:
    """The plaintext of a file written by :func:`write_protected_file` (no permission check:
    callers that just wrote it, or :func:`decrypt_protected_file`, check and audit)."""
    blob = path.read_bytes()
    return cipher.decrypt(
        blob, file_associated(_relative(home, path)), allow_plaintext=allow_plaintext
    )


def protected_files(home: Path) -> list[Path]:
    """Every file retroface wrote into the protected folders (temp files of a write excluded)."""
    found: list[Path] = []
    for folder in PROTECTED_FOLDERS:
        root = home / folder
        if root.is_dir():
            found += [p for p in root.rglob("*") if p.is_file() and not p.name.endswith(".tmp")]
    return sorted(found)


def decrypt_protected_file(app: App, path: Path, out: Path, *, force: bool = False) -> Path:
    """Write a plaintext copy of a protected file to ``out`` for a person entitled to it
    (contact sheets: who may cluster footage; case reports: who may read them); audited with
    both paths, since the copy leaves the data directory's protection. ``out`` is outside the
    data directory, and an existing file is replaced only with ``force``."""
    home = app.settings.home
    relative = _relative(home, path)
    folder = next((f for f in PROTECTED_FOLDERS if relative.startswith(f + "/")), None)
    if folder is None:
        raise InvalidInputError(
            f"{path} is not a contact sheet or case report of this data directory"
        )
    app.require(PROTECTED_FOLDERS[folder])
    if not path.is_file():
        raise NotFoundError(f"no file {path}")
    if out.resolve().is_relative_to(home.resolve()):
        raise InvalidInputError("--out must be outside the data directory (its copy is plaintext)")
    check_output_file(out, app.settings, "plaintext copy", force=force)
    with app.unit_of_work() as uow:
        plain = read_protected_file(uow.cipher, home, path)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(plain)
        app.audit(
            uow,
            action="file.decrypted",
            object_type="file",
            object_id=relative[:64],
            file=relative,
            out=str(out),
        )
        uow.commit()
    return out
