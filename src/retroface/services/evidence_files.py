"""Expand the evidence a user names (files and folders) into a list of files to search."""

from __future__ import annotations

from pathlib import Path

from retroface.media import files_under, is_image_path
from retroface.media.video_reader import is_video_path
from retroface.services.results import FileError


def expand_evidence(paths: list[Path]) -> tuple[list[Path], list[FileError]]:
    """Files named directly are always tried (their content decides); folders give their
    images and videos."""
    files: list[Path] = []
    errors: list[FileError] = []
    for path in paths:
        if path.is_dir():
            files.extend(files_under(path, lambda p: is_image_path(p) or is_video_path(p)))
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
