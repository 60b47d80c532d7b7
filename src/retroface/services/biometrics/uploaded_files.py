"""Where files uploaded over HTTP live in the data directory, and their deletion.

Evidence uploaded for a case sits in one folder per case, so closing the
case can delete it with the rest of the case's probe data; reference photos
uploaded to a gallery sit in one folder per gallery, since subjects' images
are read again for review (and erased with the subject's other data).
Folder names are digests, so no case reference or name appears on disk.
"""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Iterable
from pathlib import Path


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()[:24]


def uploads_root(home: Path) -> Path:
    return home / "uploads"


def case_upload_folder(home: Path, case_reference: str) -> Path:
    return uploads_root(home) / "evidence" / _digest(case_reference)


def gallery_upload_folder(home: Path, gallery_name: str) -> Path:
    return uploads_root(home) / "references" / _digest(gallery_name)


def case_upload_files(home: Path, case_reference: str) -> list[Path]:
    folder = case_upload_folder(home, case_reference)
    return sorted(p for p in folder.rglob("*") if p.is_file()) if folder.is_dir() else []


def remove_case_uploads(home: Path, case_reference: str) -> None:
    """Delete the case's uploaded evidence (called once the closure is committed)."""
    shutil.rmtree(case_upload_folder(home, case_reference), ignore_errors=True)


def uploaded_files_among(home: Path, paths: Iterable[str]) -> list[Path]:
    """Those of ``paths`` that were uploaded into the data directory (and so are ours)."""
    root = uploads_root(home).resolve()
    return [p for p in map(Path, paths) if p.resolve().is_relative_to(root)]


def remove_files(paths: list[Path]) -> None:
    for path in paths:
        path.unlink(missing_ok=True)
