"""Expand the evidence a user names (files and folders) into a list of files to search."""

from __future__ import annotations

from pathlib import Path

from retroface.media import image_files_under
from retroface.services.results import FileError


def expand_evidence(paths: list[Path]) -> tuple[list[Path], list[FileError]]:
    """Files named directly are always tried (their content decides); folders give their images."""
    files: list[Path] = []
    errors: list[FileError] = []
    for path in paths:
        if path.is_dir():
            files.extend(image_files_under(path))
        elif path.exists():
            files.append(path)
        else:
            errors.append(FileError(source=str(path), error=f"{path}: no such file or folder"))
    seen: set[Path] = set()
    unique = []
    for f in files:
        key = f.resolve()
        if key not in seen:
            seen.add(key)
            unique.append(f)
    return unique, errors
