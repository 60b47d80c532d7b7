"""Read a backup (folder or tar archive) and verify it: every file re-hashed against the manifest; each missing, extra or changed file named."""

from __future__ import annotations

import hashlib
import os
import tarfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path, PurePosixPath
from typing import IO, Any

from pydantic import ValidationError

from retroface.errors import InvalidInputError
from retroface.services.operations.backup.create import hash_stream
from retroface.services.operations.backup.manifest import (
    FORMAT,
    FORMAT_VERSION,
    MANIFEST,
    BackupCheck,
    BackupError,
    Manifest,
)
from retroface.services.operations.doctor import schema_heads


def safe_relative(name: str) -> str | None:
    """A member name as a plain relative path inside the backup, or None if it escapes it."""
    path = PurePosixPath(name)
    if path.is_absolute() or not path.parts or any(p in {"..", ""} for p in path.parts):
        return None
    return path.as_posix().removeprefix("./") or None


class _Backup:
    """One backup, folder or archive, read without extracting anything unchecked."""

    def __init__(self, path: Path, tar: tarfile.TarFile | None) -> None:
        self.path = path
        self._tar = tar

    def entries(self) -> tuple[dict[str, Any], list[str]]:
        """Regular files by relative name, and names that are not plain files inside it."""
        files: dict[str, Any] = {}
        odd: list[str] = []
        if self._tar is not None:
            for member in self._tar.getmembers():
                name = safe_relative(member.name)
                if member.isdir() and name is not None:
                    continue
                if name is None or not member.isfile():
                    odd.append(member.name)
                else:
                    files[name] = member
            return files, odd
        for folder, dirs, names in os.walk(self.path):  # never follows symbolic links
            here = Path(folder)
            for item in (here / n for n in sorted(dirs + names)):
                name = item.relative_to(self.path).as_posix()
                if item.is_symlink() or not (item.is_file() or item.is_dir()):
                    odd.append(name)
                elif item.is_file():
                    files[name] = item
        return files, odd

    @contextmanager
    def open(self, entry: Any) -> Iterator[IO[bytes]]:
        if self._tar is not None:
            stream = self._tar.extractfile(entry)
            assert stream is not None  # regular members only
            with stream:
                yield stream
        else:
            with Path(entry).open("rb") as stream:
                yield stream

    def manifest(self, files: dict[str, Any]) -> tuple[Manifest, str]:
        if MANIFEST not in files:
            raise BackupError(f"{self.path}: not a retroface backup (no {MANIFEST})")
        with self.open(files[MANIFEST]) as stream:
            raw = stream.read()
        try:
            manifest = Manifest.model_validate_json(raw)
        except ValidationError as exc:
            raise BackupError(f"{self.path}: {MANIFEST} is damaged or not retroface's") from exc
        if manifest.format != FORMAT or manifest.format_version > FORMAT_VERSION:
            raise BackupError(
                f"{self.path}: backup format {manifest.format} v{manifest.format_version} is "
                "not one this retroface reads; use a newer retroface"
            )
        return manifest, hashlib.sha256(raw).hexdigest()


@contextmanager
def opened(path: Path) -> Iterator[_Backup]:
    if not path.exists():
        raise InvalidInputError(f"{path}: no such backup folder or archive")
    if not path.is_file():
        yield _Backup(path, None)
        return
    try:
        tar = tarfile.open(path, "r:*")  # noqa: SIM115 - closed by the with below
    except (tarfile.TarError, OSError) as exc:
        raise BackupError(f"{path}: not a readable tar archive ({exc})") from exc
    with tar:
        yield _Backup(path, tar)


def verify_backup(source: Path) -> BackupCheck:
    """Re-hash every file; name each one missing, extra (or not a plain file) or changed."""
    with opened(source) as backup:
        files, odd = backup.entries()
        manifest, digest = backup.manifest(files)
        listed = {f.path: f for f in manifest.files}
        missing = sorted(set(listed) - set(files))
        extra = sorted((set(files) - set(listed) - {MANIFEST}) | set(odd))
        changed: list[str] = []
        for name in sorted(set(listed) & set(files)):
            with backup.open(files[name]) as stream:
                found = hash_stream(stream)
            if found != {"sha256": listed[name].sha256, "bytes": listed[name].bytes}:
                changed.append(name)
    _, known = schema_heads(_placeholder_url())
    return BackupCheck(
        path=str(source),
        ok=not (missing or extra or changed)
        and any(f.path == manifest.database for f in manifest.files),
        files=len(manifest.files),
        bytes=sum(f.bytes for f in manifest.files),
        missing=missing,
        extra=extra,
        changed=changed,
        manifest_sha256=digest,
        created_at=manifest.created_at,
        created_by=manifest.created_by,
        retroface_version=manifest.retroface_version,
        alembic_revision=manifest.alembic_revision,
        revision_known=manifest.alembic_revision in known,
    )


def _placeholder_url() -> str:
    """Alembic's script directory needs a URL to configure; no connection is made."""
    return "sqlite://"


def describe_problems(check: BackupCheck) -> str:
    parts = [
        f"{label}: {', '.join(names[:5])}{' ...' if len(names) > 5 else ''}"
        for label, names in (
            ("missing", check.missing),
            ("extra", check.extra),
            ("changed", check.changed),
        )
        if names
    ]
    return "; ".join(parts) or "the manifest lists no database"
