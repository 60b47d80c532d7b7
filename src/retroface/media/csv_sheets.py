"""Read the CSV sheets people hand to retroface (provenance, group labels, pairs) the same way."""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path

from retroface.errors import InvalidInputError


def read_sheet(path: Path, what: str, required: Sequence[str]) -> list[dict[str, str]]:
    """Rows as dicts (a BOM from spreadsheet exports is fine); unreadable files, empty sheets
    and missing columns are clear errors naming the file."""
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            rows = list(csv.DictReader(handle))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise InvalidInputError(f"{path}: cannot read the {what} file ({exc})") from exc
    if not rows:
        raise InvalidInputError(f"{path}: no rows (the header names the columns)")
    missing = [c for c in required if c not in rows[0]]
    if missing:
        raise InvalidInputError(f"{path}: missing column(s) {', '.join(missing)}")
    return rows
