"""Expand the evidence a user names (files and folders) into a list of files to search."""

from __future__ import annotations

import os
from pathlib import Path

from retroface.media import is_image_path
from retroface.services.results import FileError


def expand_evidence(paths: list[Path]) -> tuple[list[Path], list[FileError]]:
    """Files named directly are always tried (their content decides); folders give their images."""
    files: list[Path] = []
    errors: list[FileError] = []
    for path in paths:
        if path.is_dir():
            for root, dirs, names in os.walk(path):
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                files.extend(
                    Path(root) / n
                    for n in sorted(names)
                    if not n.startswith(".") and is_image_path(Path(n))
                )
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
