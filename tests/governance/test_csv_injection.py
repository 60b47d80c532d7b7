"""Every CSV retroface writes shows operator text as text, never as a spreadsheet formula."""

from __future__ import annotations

import csv
import io
from collections import Counter
from datetime import date

import pytest

from retroface.governance.transparency import Statistics, to_csv
from retroface.media.csv_sheets import SafeCsvWriter, safe_cell

ATTACKS = ['=HYPERLINK("http://evil","x")', "+1+cmd|' /C calc'!A0", "-2+3", "@SUM(A1)", "\t=1"]


@pytest.mark.parametrize("cell", ATTACKS)
def test_formula_cells_are_written_as_text(cell: str) -> None:
    out = io.StringIO()
    SafeCsvWriter(out).writerow([cell, 1, -0.5])
    (row,) = csv.reader(io.StringIO(out.getvalue()))
    assert row == ["'" + cell, "1", "-0.5"]  # numbers stay numbers, negative ones too


def test_plain_text_is_unchanged() -> None:
    assert safe_cell("robbery") == "robbery" and safe_cell(3) == 3


def test_transparency_csv_neutralises_a_formula_in_an_operator_label() -> None:
    # Attack: an operator-supplied probe label becomes a group name in the published CSV.
    stats = Statistics(
        date(2026, 1, 1),
        date(2026, 12, 31),
        {"probe group": {'=HYPERLINK("http://evil")': Counter(searches=1)}},
    )
    rows = list(csv.reader(io.StringIO(to_csv(stats))))
    assert rows[1][3] == '\'=HYPERLINK("http://evil")'
    assert not any(cell.startswith(("=", "+", "@")) for row in rows for cell in row)
