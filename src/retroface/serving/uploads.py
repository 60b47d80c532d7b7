"""Receiving uploaded evidence and reference photos into the data directory.

Why keep them as files: the services work on files (their SHA-256 is the
evidence hash, provenance names them, review screens and contact sheets
re-read the faces from them), and biometric images may only live in the
data directory (see ``services/biometrics/uploaded_files.py`` for where and until
when). Each request's files go to a fresh folder; names are reduced to a safe basename (no path from the client is trusted),
the type is checked by suffix and declared content type before a byte is
stored, and the byte limit is enforced while streaming.
"""

from __future__ import annotations

import re
import shutil
import uuid
from pathlib import Path

from fastapi import UploadFile

from retroface.errors import InvalidInputError, MediaTooLargeError
from retroface.media.image_loader import is_image_path
from retroface.media.video_reader import is_video_path

CHUNK_BYTES = 1 << 20
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def safe_name(name: str | None, index: int) -> str:
    base = Path((name or "").replace("\\", "/")).name
    cleaned = _UNSAFE.sub("_", base).strip("._")[:120]
    return f"{index:03d}-{cleaned or 'upload'}"


def accepts(path: Path, content_type: str | None, allow_video: bool) -> bool:
    declared = (content_type or "application/octet-stream").split(";")[0].strip().lower()
    if is_image_path(path):
        return declared.startswith("image/") or declared == "application/octet-stream"
    if allow_video and is_video_path(path):
        return declared.startswith("video/") or declared == "application/octet-stream"
    return False


async def store_uploads(
    parent: Path, files: list[UploadFile], max_bytes: int, *, allow_video: bool
) -> tuple[Path, list[Path]]:
    """Save the files in a new folder under ``parent``; on any refusal nothing is kept."""
    if not files:
        raise InvalidInputError("upload at least one file")
    folder = parent / uuid.uuid4().hex
    folder.mkdir(parents=True)
    stored: list[Path] = []
    try:
        for index, upload in enumerate(files):
            target = folder / safe_name(upload.filename, index)
            if not accepts(target, upload.content_type, allow_video):
                wanted = "an image or a video" if allow_video else "an image"
                raise InvalidInputError(
                    f"{upload.filename or 'upload'}: not {wanted} this server accepts "
                    f"(type {upload.content_type or 'unknown'})"
                )
            written = 0
            with target.open("wb") as out:
                while chunk := await upload.read(CHUNK_BYTES):
                    written += len(chunk)
                    if written > max_bytes:
                        raise MediaTooLargeError(
                            f"{upload.filename or 'upload'}: larger than the limit of "
                            f"{max_bytes} bytes"
                        )
                    out.write(chunk)
            stored.append(target)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return folder, stored
