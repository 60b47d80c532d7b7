"""An engine as one line of text, in the spirit of FAISS's index factory strings.

Why: a template is only comparable with templates made the same way, and the
threshold only means what it was measured for. The model name and version say
which network ran, not how the face reached it (detector, smallest face,
alignments, jitter). One short string records all of it on each template and
search, reads well in a report, and turns back into the exact spec::

    cascade|onnx|min40|maxpx9000000|align5+68|jit2m

Grammar (six ``|``-separated parts, in this order, nothing else)::

    description := detector "|" embedder "|" "min" N "|" "maxpx" N "|" "align" A ("+" A)? "|" "jit" N "m"?
    detector    := NAME (":" ARG)?        a key of DETECTORS
    embedder    := NAME (":" ARG)?        a key of EMBEDDERS, e.g. onnx:/models/agency.onnx
    N           := [1-9][0-9]*           no sign, no leading zero
    A           := "5" | "68"            in the spec's order: the first gives the landmarks

The smallest face (``min``, px), the detection pixel cap (``maxpx``) and the
jittered copies (``jit``) are whole numbers; ``m`` after the copies means each chip's
mirror image is embedded too (descriptions written before it existed have none, and
still mean the engine that made their templates). ``maxpx`` is always written, though
it rarely differs from the default: a recorded string must mean the same engine
after a later release changes a default, so no part is left implicit.

Each spec has exactly one description and each description one spec
(``describe(parse(s)) == s``), so two records can be compared as strings. ARG
(a model path) may hold ``:`` but not ``|``, which separates the parts; a path
holding one is refused with a message saying so rather than written ambiguously.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from retroface.errors import InvalidInputError
from retroface.faces.engine_spec import DETECTORS, EMBEDDERS, EngineSpec

SEPARATOR = "|"
#: Longest description a templates or searches record holds (their ``engine`` column).
MAX_LENGTH = 300
ALIGNMENTS = (5, 68)
GRAMMAR = "detector|embedder|minN|maxpxN|alignA[+B]|jitN[m]"

_NUMBER = re.compile(r"[1-9][0-9]*")


def describe(spec: EngineSpec) -> str:
    """The description of ``spec``; refuses a spec no description can carry back."""
    _check_backend(spec.detector, "detector", DETECTORS)
    _check_backend(spec.embedder, "embedder", EMBEDDERS)
    for value, what in (
        (spec.min_face_px, "min_face_px"),
        (spec.max_detect_pixels, "max_detect_pixels"),
        (spec.jitters, "jitters"),
    ):
        if value < 1:
            raise InvalidInputError(f"{what} must be at least 1, got {value}")
    _check_alignments(spec.alignments)
    text = SEPARATOR.join(
        (
            spec.detector,
            spec.embedder,
            f"min{spec.min_face_px}",
            f"maxpx{spec.max_detect_pixels}",
            "align" + "+".join(str(points) for points in spec.alignments),
            f"jit{spec.jitters}{'m' if spec.mirror else ''}",
        )
    )
    if len(text) > MAX_LENGTH:
        raise InvalidInputError(
            f"the engine description is {len(text)} characters, more than the {MAX_LENGTH} "
            "a record holds: give the embedder model a shorter path"
        )
    return text


def parse(text: str) -> EngineSpec:
    """The spec ``text`` describes; the error names the part that is wrong."""
    if len(text) > MAX_LENGTH:
        raise _bad(text, f"it is longer than the {MAX_LENGTH} characters a record holds")
    parts = text.split(SEPARATOR)
    if len(parts) != 6:
        raise _bad(text, f"it has {len(parts)} parts; expected 6: {GRAMMAR}")
    detector, embedder, min_part, maxpx_part, align_part, jit_part = parts
    try:
        _check_backend(detector, "detector", DETECTORS)
        _check_backend(embedder, "embedder", EMBEDDERS)
    except InvalidInputError as exc:
        raise _bad(text, str(exc)) from None
    return EngineSpec(
        detector=detector,
        embedder=embedder,
        min_face_px=_number(text, min_part, "min", "the smallest face in pixels"),
        max_detect_pixels=_number(text, maxpx_part, "maxpx", "the detection pixel cap"),
        alignments=_alignments(text, align_part),
        jitters=_number(text, jit_part.removesuffix("m"), "jit", "the jittered copies per chip"),
        mirror=jit_part.endswith("m"),
    )


def _check_backend(name: str, kind: str, registry: Mapping[str, object]) -> None:
    key, colon, argument = name.partition(":")
    if key not in registry:
        raise InvalidInputError(
            f"unknown {kind} {name!r} (available: {', '.join(sorted(registry))})"
        )
    if colon and not argument:
        raise InvalidInputError(f"{kind} {name!r} has ':' but nothing after it")
    if SEPARATOR in argument:
        raise InvalidInputError(
            f"{kind} {name!r} contains '{SEPARATOR}', which separates the parts of an engine "
            "description: rename or move the file"
        )


def _check_alignments(alignments: tuple[int, ...]) -> None:
    if (
        not alignments
        or any(points not in ALIGNMENTS for points in alignments)
        or len(set(alignments)) != len(alignments)
    ):
        raise InvalidInputError(f"alignments must be 5, 68 or both, got {alignments!r}")


def _number(text: str, part: str, prefix: str, meaning: str) -> int:
    digits = part.removeprefix(prefix)
    if not part.startswith(prefix) or not _NUMBER.fullmatch(digits):
        raise _bad(
            text,
            f"{part!r} should be {prefix!r} then {meaning}, a whole number from 1 "
            f"without leading zeros (e.g. {prefix}10)",
        )
    return int(digits)


def _alignments(text: str, part: str) -> tuple[int, ...]:
    names = part.removeprefix("align").split("+")
    if not part.startswith("align") or any(n not in ("5", "68") for n in names):
        raise _bad(text, f"{part!r} should be align5, align68, align5+68 or align68+5")
    if len(set(names)) != len(names):
        raise _bad(text, f"{part!r} names an alignment twice")
    return tuple(int(n) for n in names)


def _bad(text: str, problem: str) -> InvalidInputError:
    return InvalidInputError(f"bad engine description {text!r}: {problem}")
