"""Receiving uploaded evidence and reference photos into the data directory.

Why keep them as files: the services work on files (their SHA-256 is the
evidence hash, provenance names them, review screens and contact sheets
re-read the faces from them), and biometric images may only live in the
data directory (see ``services/biometrics/uploaded_files.py`` for where and until
when). Each request's files go to a fresh folder; names are reduced to a safe basename (no path from the client is trusted),
the type is checked by suffix and declared content type before a byte is
stored, and the byte limit is enforced while streaming.

The multipart body itself is parsed only after the caller is known: an
upload route declares no ``File``/``Form`` parameters (FastAPI would read
and spool the whole body before any dependency runs), authenticates, checks
the role, and then reads the form with :func:`upload_form`. So an anonymous
request is refused (401, audited) before one byte of its body is read, let
alone written to a temporary file. Paths of stored files never leave the
server: :class:`UploadNames` puts each file's original name in their place
in results and messages.
"""

from __future__ import annotations

import re
import shutil
import uuid
from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import ExitStack, asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any, TypeVar

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException as StarletteHTTPException

from retroface.errors import InvalidInputError, MediaTooLargeError
from retroface.media.image_loader import is_image_path
from retroface.media.video_reader import is_video_path
from retroface.services import App
from retroface.services.biometrics.uploaded_files import readable_upload, seal_upload
from retroface.store.data_protection import DataCipher

#: Files one request may carry (the whole body is also capped: server.py, http_guard.py).
MAX_FILES_PER_REQUEST = 50
#: Plain (non-file) fields one upload form may carry, and the bytes of each.
MAX_FORM_FIELDS = 50
MAX_FIELD_BYTES = 64 * 1024
Form = TypeVar("Form", bound=BaseModel)

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


def _check_type(target: Path, upload: UploadFile, allow_video: bool) -> None:
    if not accepts(target, upload.content_type, allow_video):
        wanted = "an image or a video" if allow_video else "an image"
        raise InvalidInputError(
            f"{upload.filename or 'upload'}: not {wanted} this server accepts "
            f"(type {upload.content_type or 'unknown'})"
        )


def check_types(files: list[UploadFile], *, allow_video: bool) -> None:
    """Refuse a request whose files are missing, too many, or not all of an accepted type
    (by name and declared type: nothing read), before any other check or store."""
    if not files:
        raise InvalidInputError("upload at least one file")
    if len(files) > MAX_FILES_PER_REQUEST:
        raise MediaTooLargeError(
            f"{len(files)} files in one request: at most {MAX_FILES_PER_REQUEST} are accepted"
        )
    for index, upload in enumerate(files):
        _check_type(Path(safe_name(upload.filename, index)), upload, allow_video)


async def store_uploads(
    parent: Path,
    files: list[UploadFile],
    max_bytes: int,
    *,
    allow_video: bool,
    cipher: DataCipher | None = None,
) -> tuple[Path, list[Path]]:
    """Save the files in a new folder under ``parent``; on any refusal nothing is kept.
    Where ``cipher`` is enabled (an encrypted data directory) each file is sealed before it
    touches the disk, so it is held in memory (at most ``max_bytes``) until then."""
    check_types(files, allow_video=allow_video)
    folder = parent / uuid.uuid4().hex
    folder.mkdir(parents=True)
    stored: list[Path] = []
    sealing = cipher is not None and cipher.enabled
    try:
        for index, upload in enumerate(files):
            target = folder / safe_name(upload.filename, index)
            _check_type(target, upload, allow_video)
            written = 0
            held = bytearray()
            with target.open("wb") as out:
                while chunk := await upload.read(CHUNK_BYTES):
                    written += len(chunk)
                    if written > max_bytes:
                        raise MediaTooLargeError(
                            f"{upload.filename or 'upload'}: larger than the limit of "
                            f"{max_bytes} bytes"
                        )
                    if sealing:
                        held += chunk
                    else:
                        out.write(chunk)
                if cipher is not None and sealing:
                    out.write(seal_upload(cipher, target, bytes(held)))
            stored.append(target)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return folder, stored


@asynccontextmanager
async def upload_form(
    request: Request, model: type[Form]
) -> AsyncIterator[tuple[Form, list[UploadFile]]]:
    """The form's fields, validated by ``model`` (422 naming the field, as FastAPI's own
    parameters would), and its ``files``; the spooled files are closed on leaving.
    Call it only once the caller is authenticated and allowed to upload."""
    try:
        form = await request.form(
            max_files=MAX_FILES_PER_REQUEST,
            max_fields=MAX_FORM_FIELDS,
            max_part_size=MAX_FIELD_BYTES,
        )
    except StarletteHTTPException as exc:  # a malformed body, or too many parts
        if "Too many files" in str(exc.detail):
            raise MediaTooLargeError(
                f"more than {MAX_FILES_PER_REQUEST} files in one request: at most "
                f"{MAX_FILES_PER_REQUEST} are accepted"
            ) from None
        raise
    try:
        fields: dict[str, str] = {}
        files: list[UploadFile] = []
        for name, value in form.multi_items():
            if isinstance(value, str):
                if value != "":  # an empty form field is an absent one
                    fields[name] = value
            elif name == "files":
                files.append(value)
        try:
            parsed = model.model_validate(fields)
        except ValidationError as exc:
            raise RequestValidationError(
                [{**e, "loc": ("body", *e["loc"])} for e in exc.errors()]
            ) from None
        if not files:
            raise RequestValidationError(
                [{"type": "missing", "loc": ("body", "files"), "msg": "Field required"}]
            )
        yield parsed, files
    finally:
        await form.close()  # the spooled files


def multipart_body(model: type[BaseModel], files_description: str) -> dict[str, Any]:
    """The OpenAPI ``requestBody`` of an upload route (its form is read by hand, so FastAPI
    cannot describe it): ``model``'s fields plus ``files``."""
    schema = model.model_json_schema()
    schema.pop("title", None)
    schema["properties"]["files"] = {
        "type": "array",
        "items": {"type": "string", "format": "binary"},
        "description": files_description,
    }
    schema["required"] = [*schema.get("required", []), "files"]
    return {
        "requestBody": {
            "required": True,
            "content": {"multipart/form-data": {"schema": schema}},
        }
    }


class UploadNames:
    """Stored upload paths → the names their uploaders gave, for what a client is shown."""

    def __init__(self, home: Path, stored: Mapping[Path, str]) -> None:
        pairs: dict[str, str] = {}
        for path, name in stored.items():
            shown = Path((name or path.name).replace("\\", "/")).name or path.name
            pairs[str(path)] = pairs[str(path.resolve())] = shown
        for root in {str(home.resolve()), str(home)}:  # anything else inside the data directory
            pairs.setdefault(root, "<data directory>")
        self._pairs = sorted(pairs.items(), key=lambda kv: len(kv[0]), reverse=True)

    def alias(self, copy: Path, stored: Path) -> None:
        """Show ``copy`` (a plaintext copy of ``stored`` being read) as ``stored`` is shown."""
        shown = dict(self._pairs).get(str(stored), stored.name)
        pairs = dict(self._pairs) | {str(copy): shown, str(copy.resolve()): shown}
        self._pairs = sorted(pairs.items(), key=lambda kv: len(kv[0]), reverse=True)

    def __call__(self, text: str) -> str:
        for stored, shown in self._pairs:
            text = text.replace(stored, shown)
        return text

    def json(self, value: Any) -> Any:
        """``value`` (JSON data) with every string redacted."""
        if isinstance(value, str):
            return self(value)
        if isinstance(value, list):
            return [self.json(v) for v in value]
        if isinstance(value, dict):
            return {k: self.json(v) for k, v in value.items()}
        return value


async def stored_with_names(
    parent: Path,
    home: Path,
    files: list[UploadFile],
    max_bytes: int,
    *,
    allow_video: bool,
    cipher: DataCipher | None = None,
) -> tuple[Path, list[Path], UploadNames]:
    """:func:`store_uploads`, plus the names to show in place of the stored paths."""
    folder, paths = await store_uploads(
        parent, files, max_bytes, allow_video=allow_video, cipher=cipher
    )
    names = UploadNames(home, {p: f.filename or p.name for p, f in zip(paths, files, strict=True)})
    return folder, paths, names


def current_cipher(application: App) -> DataCipher:
    """The data cipher, in line with the database's key record (a key made or rotated by
    another process since is followed)."""
    with application.unit_of_work() as uow:
        return uow.cipher


@contextmanager
def readable_copies(
    cipher: DataCipher, stored: list[Path], names: UploadNames
) -> Iterator[dict[Path, Path]]:
    """Plaintext copies of the stored uploads for the engine (the files themselves where the
    data directory is not encrypted) → the stored files, which the services' rows record;
    each copy is shown by its upload's name, and all are deleted on leaving."""
    with ExitStack() as stack:
        copies: dict[Path, Path] = {}
        for path in stored:
            copy = stack.enter_context(readable_upload(cipher, path))
            names.alias(copy, path)
            copies[copy] = path
        yield copies
