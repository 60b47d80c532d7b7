"""A case reference is made of characters that survive URLs, file names and reports as they are:
a '/' made a case unreachable by its link, a right-to-left override disguised it."""

from __future__ import annotations

import pytest

from retroface.errors import InvalidInputError
from retroface.services import App
from retroface.services.cases.manage import MAX_REFERENCE, open_case, show_case

FIELDS = {
    "purpose": "p",
    "lawful_basis": "law-enforcement",
    "offence": "robbery",
    "seriousness": "indictable-only",
}


@pytest.mark.parametrize(
    "reference",
    [
        "A/B",
        "OP-1\u202egpj.exe",  # a right-to-left override: shown as "OP-1exe.jpg"
        "OP 1",
        "..",
        "-flag",
        "OP-\u0031\u0301",  # a combining accent
        "ОР-1",  # Cyrillic letters that look like Latin "OP"
        "x" * (MAX_REFERENCE + 1),
    ],
)
def test_a_reference_outside_the_safe_characters_is_refused(app: App, reference: str) -> None:
    with pytest.raises(InvalidInputError, match="a case reference is"):
        open_case(app, reference, **FIELDS)


def test_letters_digits_and_dash_underscore_dot_colon_are_accepted(app: App) -> None:
    for reference in ("OP-2026:17.a_b", "7", "x" * MAX_REFERENCE):
        assert open_case(app, reference, **FIELDS).reference == reference
        assert show_case(app, reference).reference == reference
