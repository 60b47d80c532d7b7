"""Probe enhancement operations: named, checked, and replayable to the same bytes."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from retroface.errors import InvalidInputError, MediaError
from retroface.media import load_image
from retroface.media.enhancement import (
    MAX_STEPS,
    OPERATIONS,
    apply_steps,
    enhancement_record,
    parse_step,
    parse_steps,
    pixels_sha256,
    replay,
    steps_from_json,
    steps_from_text,
    steps_of,
    steps_to_json,
)
from tests.conftest import EXAMPLES

pytestmark = pytest.mark.needs_data

#: One step of every operation, as an analyst would type it.
EVERY_OPERATION = [
    "crop:40,30,360,380",
    "rotate:90",
    "rotate:-12.5",
    "mirror",
    "brightness:1.4",
    "contrast:factor=1.2",
    "gamma:0.7",
    "equalise",
    "clahe:clip=2.0,tile=8",
    "denoise:method=median,size=3",
    "denoise:method=gaussian,sigma=0.8",
    "sharpen:radius=2,percent=150,threshold=3",
    "deinterlace:method=double,field=odd",
    "deinterlace:method=blend",
    "upscale:factor=1.5,method=lanczos",
    "upscale:2",
]


@pytest.fixture(scope="module")
def photo() -> np.ndarray:
    """A real photo, shrunk by a crop so the whole list runs fast."""
    pixels = load_image(EXAMPLES / "biden.jpg").pixels
    return pixels[:480, :420].copy()


def test_every_operation_is_covered() -> None:
    assert {s.split(":")[0] for s in EVERY_OPERATION} == set(OPERATIONS)


def test_replaying_the_steps_gives_a_byte_identical_image(photo: np.ndarray) -> None:
    steps = parse_steps(EVERY_OPERATION)
    first = apply_steps(photo, steps)
    again = apply_steps(photo.copy(), parse_steps(EVERY_OPERATION))
    assert first.dtype == np.uint8 and first.tobytes() == again.tobytes()
    assert not np.array_equal(first[: photo.shape[0], : photo.shape[1]], photo)


def test_replay_after_a_json_round_trip_of_the_record_is_byte_identical(
    photo: np.ndarray,
) -> None:
    steps = parse_steps(EVERY_OPERATION)
    enhanced = apply_steps(photo, steps)
    record = json.loads(json.dumps(enhancement_record(steps, enhanced)))
    assert record["pixels_sha256"] == pixels_sha256(enhanced)
    assert (record["width"], record["height"]) == (enhanced.shape[1], enhanced.shape[0])
    assert replay(photo, record).tobytes() == enhanced.tobytes()
    # The recorded list, given back as the JSON form, is the same steps.
    assert steps_from_json(record) == steps
    assert steps_from_text(json.dumps(record["steps"])) == steps


def test_each_step_is_recorded_with_every_parameter() -> None:
    recorded = steps_to_json(parse_steps(["clahe", "gamma:0.8", "denoise", "upscale:2"]))
    assert recorded == [
        {"op": "clahe", "clip": 2.0, "tile": 8},
        {"op": "gamma", "gamma": 0.8},
        {"op": "denoise", "method": "median", "size": 3},
        {"op": "upscale", "factor": 2.0, "method": "bicubic"},
    ]
    assert steps_of({"steps": recorded}) == [
        "clahe:clip=2,tile=8",
        "gamma:gamma=0.8",
        "denoise:method=median,size=3",
        "upscale:factor=2,method=bicubic",
    ]


def test_a_replay_that_does_not_recreate_the_searched_image_is_refused(
    photo: np.ndarray,
) -> None:
    steps = parse_steps(["gamma:0.8"])
    record = enhancement_record(steps, apply_steps(photo, steps))
    changed = photo.copy()
    changed[0, 0] ^= 1
    with pytest.raises(MediaError, match="does not re-create"):
        replay(changed, record)
    with pytest.raises(InvalidInputError, match="version"):
        replay(photo, {**record, "version": 99})


def test_geometry_operations_are_exact(photo: np.ndarray) -> None:
    assert np.array_equal(
        apply_steps(photo, parse_steps(["crop:10,20,30,40"])), photo[20:60, 10:40]
    )
    quarter = apply_steps(photo, parse_steps(["rotate:90"]))
    assert np.array_equal(quarter, np.rot90(photo))
    back = apply_steps(photo, parse_steps(["rotate:90", "rotate:-90"]))
    assert np.array_equal(back, photo)
    assert np.array_equal(apply_steps(photo, parse_steps(["mirror"])), photo[:, ::-1])
    assert apply_steps(photo, parse_steps(["upscale:3"])).shape == (1440, 1260, 3)
    doubled = apply_steps(photo, parse_steps(["deinterlace"]))
    assert np.array_equal(doubled[0], doubled[1]) and np.array_equal(doubled[0], photo[0])


def test_clahe_and_gamma_brighten_a_dark_photo(photo: np.ndarray) -> None:
    dark = (photo.astype(np.float64) * 0.25).astype(np.uint8)
    for step in ("clahe:clip=3", "gamma:0.5", "equalise", "brightness:3"):
        assert apply_steps(dark, parse_steps([step])).mean() > dark.mean() + 10, step


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("blur:2", "unknown enhancement 'blur'"),
        ("gamma", "'gamma' needs gamma"),
        ("gamma:0", "gamma must be between 0.1 and 10"),
        ("gamma:abc", "gamma must be a number"),
        ("gamma:nan", "must be a finite number"),
        ("gamma:0.8,2", "too many values"),
        ("gamma:gamma=0.8,gamma=0.9", "gamma given twice"),
        ("gamma:strength=2", "has no parameter strength"),
        ("clahe:clip=0.5", "clip must be between 1 and 40"),
        ("clahe:tile=2.5", "tile must be a whole number"),
        ("clahe:clip=2,3", "a bare value cannot follow a named one"),
        ("crop:1,2,3", "'crop' needs h"),
        ("crop:-1,0,10,10", "x must be between 0"),
        ("crop:0,0,0,10", "w must be between 1"),
        ("rotate:400", "degrees must be between -360 and 360"),
        ("mirror:diagonal", "axis must be one of horizontal, vertical"),
        ("brightness:-1", "factor must be between 0 and 8"),
        ("contrast:9", "factor must be between 0 and 8"),
        ("equalise:2", "too many values"),
        ("denoise:size=4", "size must be odd"),
        ("denoise:size=31", "size must be between 3 and 15"),
        ("denoise:method=gaussian,size=3", "size does not apply to method=gaussian"),
        ("denoise:method=wavelet", "method must be one of median, gaussian"),
        ("sharpen:percent=0", "percent must be between 1 and 500"),
        ("sharpen:radius=50", "radius must be between 0.1 and 20"),
        ("sharpen:threshold=300", "threshold must be between 0 and 255"),
        ("deinterlace:method=blend,field=odd", "field does not apply to method=blend"),
        ("deinterlace:field=top", "field must be one of even, odd"),
        ("upscale:0.5", "factor must be between 1 and 8"),
        ("upscale:2,method=nearest", "method must be one of bicubic, lanczos"),
    ],
)
def test_each_operation_refuses_bad_parameters_clearly(text: str, message: str) -> None:
    with pytest.raises(InvalidInputError, match=message):
        parse_step(text)


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ('{"op": "gamma"}', "JSON list"),
        ("[1]", 'object with an "op" name'),
        ('[{"gamma": 0.8}]', 'object with an "op" name'),
        ('[{"op": "gamma", "gamma": true}]', "gamma must be a number"),
        ('[{"op": "mirror", "axis": 1}]', "axis must be one of"),
        ("[{]", "not valid JSON"),
        ('{"version": 2, "steps": []}', "recorded under version 2"),
    ],
)
def test_the_json_form_refuses_bad_documents_clearly(document: str, message: str) -> None:
    with pytest.raises(InvalidInputError, match=message):
        steps_from_text(document)


def test_steps_that_cannot_apply_to_the_image_are_refused(photo: np.ndarray) -> None:
    with pytest.raises(InvalidInputError, match="goes past the image"):
        apply_steps(photo, parse_steps(["crop:400,0,100,100"]))
    with pytest.raises(InvalidInputError, match=r"\(upscale:factor=4,method=bicubic\) would"):
        apply_steps(photo, parse_steps(["upscale:4"]), max_pixels=1_000_000)
    with pytest.raises(InvalidInputError, match=r"\(rotate:degrees=45\) would make the image"):
        apply_steps(photo, parse_steps(["rotate:45"]), max_pixels=300_000)
    with pytest.raises(InvalidInputError, match=f"at most {MAX_STEPS}"):
        parse_steps(["mirror"] * (MAX_STEPS + 1))


def test_the_input_image_is_not_changed(photo: np.ndarray, tmp_path: Path) -> None:
    before = photo.copy()
    apply_steps(photo, parse_steps(EVERY_OPERATION))
    assert np.array_equal(photo, before)


def test_the_text_form_of_a_recorded_step_parses_back_to_the_same_step() -> None:
    steps = parse_steps([*EVERY_OPERATION, "gamma:0.123456789", "rotate:-0.1"])
    assert parse_steps([s.text() for s in steps]) == steps
