"""CSV sheets in and out: read what people hand to retroface (provenance, group labels,
pairs) the same way, and write sheets a spreadsheet cannot turn into formulas.

A cell that begins with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is run
as a formula by Excel and LibreOffice when the sheet is opened (CSV injection,
OWASP): a probe label or a case field typed as ``=HYPERLINK(...)`` would then act
on the reader's machine. Text cells that begin so are written with a leading
apostrophe, which spreadsheets show as text; numbers are written as numbers.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, TextIO

from retroface.errors import InvalidInputError


def read_sheet(path: Path, what: str, required: Sequence[str]) -> list[dict[str, str]]:
    """Rows as dicts (a BOM from spreadsheet exports is fine); unreadable files, empty sheets
    and missing columns are clear errors naming the file."""
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            rows = list(csv.DictReader(handle))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise InvalidInputError(f"{path}: cannot read the {what} file ({exc})") from exc
    return _checked(rows, str(path), required)


def parse_sheet(data: bytes, name: str, what: str, required: Sequence[str]) -> list[dict[str, str]]:
    """:func:`read_sheet` of a sheet's bytes (an upload, never written to disk); ``name``
    is what errors call it (the name its uploader gave)."""
    try:
        text = data.decode("utf-8-sig")
        rows = list(csv.DictReader(io.StringIO(text, newline="")))
    except (UnicodeDecodeError, csv.Error) as exc:
        raise InvalidInputError(f"{name}: cannot read the {what} file ({exc})") from exc
    return _checked(rows, name, required)


def _checked(
    rows: list[dict[str, str]], where: str, required: Sequence[str]
) -> list[dict[str, str]]:
    if not rows:
        raise InvalidInputError(f"{where}: no rows (the header names the columns)")
    missing = [c for c in required if c not in rows[0]]
    if missing:
        raise InvalidInputError(f"{where}: missing column(s) {', '.join(missing)}")
    return rows


#: First characters that make a spreadsheet treat a cell as a formula.
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: object) -> object:
    """A text cell a spreadsheet will show as text; other values unchanged."""
    if isinstance(value, str) and value.startswith(FORMULA_TRIGGERS):
        return "'" + value
    return value


class SafeCsvWriter:
    """``csv.writer`` whose text cells are neutralised with :func:`safe_cell`."""

    def __init__(self, handle: TextIO, **options: Any) -> None:
        self._writer = csv.writer(handle, **options)

    def writerow(self, row: Iterable[object]) -> None:
        self._writer.writerow([safe_cell(v) for v in row])

    def writerows(self, rows: Iterable[Iterable[object]]) -> None:
        for row in rows:
            self.writerow(row)
