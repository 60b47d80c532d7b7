"""Engine descriptions: the one-line record of how a template was made must turn back
into exactly the engine that made it, and refuse, naming the part, what it cannot mean."""

from __future__ import annotations

from dataclasses import replace

import pytest

from retroface.errors import InvalidInputError
from retroface.faces.engine import DETECTORS, EMBEDDERS, EngineSpec
from retroface.faces.engine_description import MAX_LENGTH, describe, parse
from retroface.settings import Settings

DEFAULT = "coarse-cascade|onnx8|min40|maxpx9000000|align5+68|jit2m"


def test_the_default_engine_is_the_measured_configuration() -> None:
    spec = EngineSpec()
    assert (spec.detector, spec.embedder, spec.min_face_px, spec.max_detect_pixels) == (
        "coarse-cascade",
        "onnx8",
        40,
        9_000_000,
    )
    assert spec.alignments == (5, 68) and spec.jitters == 2 and spec.mirror
    assert describe(spec) == DEFAULT and parse(DEFAULT) == spec


def test_the_previous_default_stays_a_different_readable_engine() -> None:
    """Templates recorded before 2026-11-30 name the float ResNet and the plain cascade: the
    string still means that engine, and differs from today's default only in those parts."""
    old = parse("cascade|onnx|min40|maxpx9000000|align5+68|jit2m")
    assert old != EngineSpec() and (old.detector, old.embedder) == ("cascade", "onnx")
    assert replace(old, detector="coarse-cascade", embedder="onnx8") == EngineSpec()


def test_settings_take_their_engine_defaults_from_the_engine_spec() -> None:
    settings, spec = Settings(), EngineSpec()
    for name in ("detector", "embedder", "min_face_px", "max_detect_pixels", "alignments"):
        assert getattr(settings, name) == getattr(spec, name), name
    assert settings.jitters == spec.jitters


@pytest.mark.parametrize("detector", sorted(DETECTORS))
@pytest.mark.parametrize("embedder", [*sorted(EMBEDDERS), "onnx:/models/agency:v2.onnx"])
@pytest.mark.parametrize("alignments", [(5,), (68,), (5, 68), (68, 5)])
def test_every_backend_and_alignment_round_trips(
    detector: str, embedder: str, alignments: tuple[int, ...]
) -> None:
    spec = EngineSpec(
        detector=detector,
        embedder=embedder,
        min_face_px=80,
        max_detect_pixels=1_500_000,
        alignments=alignments,
        jitters=1,
    )
    text = describe(spec)
    assert parse(text) == spec and describe(parse(text)) == text


def test_each_field_has_its_own_part() -> None:
    spec = EngineSpec(
        detector="hog",
        embedder="onnx:C:/models/a b.onnx",
        min_face_px=1,
        max_detect_pixels=123,
        alignments=(68,),
        jitters=25,
        mirror=False,
    )
    assert describe(spec) == "hog|onnx:C:/models/a b.onnx|min1|maxpx123|align68|jit25"
    for changed in (
        replace(spec, min_face_px=56),
        replace(spec, max_detect_pixels=2),
        replace(spec, jitters=3),
        replace(spec, mirror=True),
    ):
        assert parse(describe(changed)) == changed


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("", "has 1 parts; expected 6"),
        ("cascade|onnx|min40|align5+68|jit10", "has 5 parts; expected 6"),
        (DEFAULT + "|extra", "has 7 parts; expected 6"),
        ("haar|onnx|min40|maxpx9000000|align5+68|jit10", "unknown detector 'haar'"),
        ("cascade|arcface|min40|maxpx9000000|align5+68|jit10", "unknown embedder 'arcface'"),
        ("cascade|onnx:|min40|maxpx9000000|align5+68|jit10", "embedder 'onnx:' has ':'"),
        (" cascade|onnx|min40|maxpx9000000|align5+68|jit10", "unknown detector ' cascade'"),
        ("cascade|onnx|40|maxpx9000000|align5+68|jit10", "'40' should be 'min' then"),
        ("cascade|onnx|min|maxpx9000000|align5+68|jit10", "'min' should be 'min' then"),
        ("cascade|onnx|min040|maxpx9000000|align5+68|jit10", "'min040' should be"),
        ("cascade|onnx|min0|maxpx9000000|align5+68|jit10", "'min0' should be"),
        ("cascade|onnx|min-4|maxpx9000000|align5+68|jit10", "'min-4' should be"),
        ("cascade|onnx|min40|maxpx9e6|align5+68|jit10", "'maxpx9e6' should be 'maxpx'"),
        ("cascade|onnx|min40|maxpx9000000|align5,68|jit10", "'align5,68' should be align5"),
        ("cascade|onnx|min40|maxpx9000000|align|jit10", "'align' should be align5"),
        ("cascade|onnx|min40|maxpx9000000|align7|jit10", "'align7' should be align5"),
        ("cascade|onnx|min40|maxpx9000000|align5+5|jit10", "'align5+5' names an alignment twice"),
        ("cascade|onnx|min40|maxpx9000000|align5+68|jit 10", "'jit 10' should be 'jit'"),
        ("cascade|onnx|min40|maxpx9000000|align5+68|jitters10", "'jitters10' should be 'jit'"),
        ("cascade|onnx|min40|maxpx9000000|align5+68|jit2mm", "'jit2m' should be 'jit'"),
        ("cascade|onnx|maxpx9000000|min40|align5+68|jit10", "'maxpx9000000' should be 'min'"),
    ],
)
def test_a_bad_description_names_its_bad_part(text: str, problem: str) -> None:
    with pytest.raises(InvalidInputError, match="bad engine description") as caught:
        parse(text)
    assert problem in str(caught.value)


def test_a_model_path_holding_the_separator_is_refused_not_written_ambiguously() -> None:
    spec = EngineSpec(embedder="onnx:/models/a|b.onnx")
    with pytest.raises(InvalidInputError, match=r"contains '\|'.*rename or move the file"):
        describe(spec)


def test_a_description_too_long_for_its_column_is_refused_both_ways() -> None:
    spec = EngineSpec(embedder="onnx:/" + "m" * MAX_LENGTH)
    with pytest.raises(InvalidInputError, match="shorter path"):
        describe(spec)
    with pytest.raises(InvalidInputError, match=f"longer than the {MAX_LENGTH}"):
        parse(DEFAULT.replace("|onnx8|", "|onnx:/" + "m" * MAX_LENGTH + "|"))


@pytest.mark.parametrize(
    "change",
    [
        {"jitters": 0},
        {"min_face_px": 0},
        {"max_detect_pixels": -1},
        {"alignments": ()},
        {"alignments": (5, 5)},
        {"alignments": (7,)},
        {"detector": "nope"},
    ],
)
def test_a_spec_no_description_can_carry_back_is_refused(change: dict[str, object]) -> None:
    with pytest.raises(InvalidInputError):
        describe(replace(EngineSpec(), **change))  # type: ignore[arg-type]
