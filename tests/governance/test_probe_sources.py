"""A probe's provenance: a known source type and a supplier, and no sketch or look-alike."""

from __future__ import annotations

import pytest

from retroface.errors import InvalidInputError
from retroface.governance.probe_sources import (
    MAX_SUPPLIER_CHARS,
    SOURCE_TYPES,
    ProbeProvenance,
    ProbeSourceRefusedError,
    check_probe_source,
    probe_provenance,
)


@pytest.mark.parametrize("source_type", sorted(SOURCE_TYPES))
def test_every_listed_source_type_is_recorded_as_given(source_type: str) -> None:
    assert check_probe_source(source_type, "DC Smith, Met Police") == ProbeProvenance(
        source_type, "DC Smith, Met Police"
    )


def test_common_spellings_read_as_the_source_type_meant() -> None:
    assert check_probe_source(" Body_Worn Video ", "PC 123").source_type == "body-worn-video"
    assert check_probe_source("BWV", "PC 123").source_type == "body-worn-video"
    assert check_probe_source("CCTV", "PC 123").source_type == "cctv"


@pytest.mark.parametrize(
    ("declared", "said"),
    [
        ("sketch", "a sketch"),
        ("forensic sketch", "a sketch"),
        ("composite", "a composite"),
        ("E-FIT", "a composite"),
        ("photofit", "a composite"),
        ("artist's impression", "an artist's impression"),
        ("artist-impression", "an artist's impression"),
        ("substitute", "a substitute image"),
        ("look-alike", "a substitute image"),
        ("looks like", "a substitute image"),
    ],
)
def test_a_probe_that_is_not_an_image_of_the_person_sought_is_refused(
    declared: str, said: str
) -> None:
    with pytest.raises(ProbeSourceRefusedError, match=f"declared as {said}") as refused:
        check_probe_source(declared, "DC Smith")
    assert "must use an image of the person sought" in str(refused.value)
    assert isinstance(refused.value, InvalidInputError)  # rendered like any user mistake


def test_an_unknown_source_type_or_no_supplier_is_refused_saying_what_is_allowed() -> None:
    with pytest.raises(InvalidInputError, match="unknown source type 'pigeon post': one of cctv"):
        check_probe_source("pigeon post", "DC Smith")
    with pytest.raises(InvalidInputError, match="say where the evidence came from"):
        check_probe_source("", "DC Smith")
    with pytest.raises(InvalidInputError, match="say who supplied the evidence"):
        check_probe_source("cctv", "  \n\t ")
    with pytest.raises(InvalidInputError, match=f"at most {MAX_SUPPLIER_CHARS} characters"):
        check_probe_source("cctv", "x" * (MAX_SUPPLIER_CHARS + 1))


def test_the_supplier_is_kept_on_one_printable_line() -> None:
    given = check_probe_source("cctv", "DC Smith\n\x1b[31mMet\x00 Police ")
    assert given.supplied_by == "DC Smith [31mMet Police"


def test_no_provenance_given_is_none_and_half_of_one_is_refused() -> None:
    assert probe_provenance(None, None) is None
    with pytest.raises(InvalidInputError, match="say who supplied"):
        probe_provenance("cctv", None)
    with pytest.raises(InvalidInputError, match="say where the evidence came from"):
        probe_provenance(None, "DC Smith")
