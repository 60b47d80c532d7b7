"""The shipped int8 ResNet: the float model's template space (same version, cosine >= 0.999
on real faces), the same identity decisions, and refused when made from other weights."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest

from retroface.errors import ModelError
from retroface.faces import EngineSpec
from retroface.faces.dlib_resnet_onnx import OnnxResNetEmbedder
from retroface.faces.engine import FaceEngine
from retroface.faces.resnet_int8 import INT8_FILE, WEIGHTS_VERSION_KEY, int8_embedder
from retroface.media import load_image

pytestmark = pytest.mark.needs_data


@pytest.fixture(scope="module")
def one_view() -> FaceEngine:
    """The float engine, one view per face (what the quantised model is compared with)."""
    return FaceEngine.from_spec(EngineSpec(embedder="onnx", jitters=1, mirror=False))


@pytest.fixture(scope="module")
def chips(data: Path, one_view: FaceEngine) -> list[np.ndarray]:
    """5-point chips (and their mirrors) of the first photo of 16 LFW people."""
    people = sorted(p for p in (data / "lfw").iterdir() if p.is_dir())[::300][:16]
    photos = [load_image(sorted(person.glob("*.jpg"))[0]).pixels for person in people]
    found: list[np.ndarray] = []
    for faces in one_view.analyse_many(photos):
        for face in faces:
            assert face.chip is not None
            found += [face.chip, np.ascontiguousarray(face.chip[:, ::-1])]
    assert len(found) >= 20
    return found


def test_int8_descriptors_stay_in_the_float_models_space(chips: list[np.ndarray]) -> None:
    float_model, int8_model = OnnxResNetEmbedder(), int8_embedder()
    assert int8_model.model == float_model.model  # searched against float-enrolled galleries
    cosine = (float_model.embed(chips) * int8_model.embed(chips)).sum(axis=1)
    assert cosine.min() >= 0.999, cosine.min()


def test_an_int8_engine_matches_float_templates_of_the_same_person(
    data: Path, one_view: FaceEngine
) -> None:
    lfw = data / "lfw"
    quantised = FaceEngine.from_spec(EngineSpec(embedder="onnx8", jitters=1, mirror=False))
    bush = [load_image(lfw / "George_W_Bush" / f"George_W_Bush_000{i}.jpg").pixels for i in (1, 2)]
    blair = load_image(lfw / "Tony_Blair" / "Tony_Blair_0001.jpg").pixels
    [[probe]] = quantised.analyse_many([bush[0]])
    [[same], [other]] = one_view.analyse_many([bush[1], blair])
    assert float(probe.embedding @ same.embedding) > 0.93
    assert float(probe.embedding @ other.embedding) < 0.9


def test_default_templates_compare_with_the_previous_defaults(data: Path) -> None:
    """The default engine (coarse-cascade, int8, six views) and the float default before it
    (cascade, onnx, the same six views) make templates of one model version, which agree
    on the same photo and still tell two people apart across the two recipes."""
    lfw = data / "lfw"
    new = FaceEngine.from_spec(EngineSpec())
    old = FaceEngine.from_spec(EngineSpec(detector="cascade", embedder="onnx"))
    assert new.model == old.model
    bush = [load_image(lfw / "George_W_Bush" / f"George_W_Bush_000{i}.jpg").pixels for i in (1, 2)]
    blair = load_image(lfw / "Tony_Blair" / "Tony_Blair_0001.jpg").pixels
    [[mine]] = new.analyse_many([bush[0]])
    [[theirs]] = old.analyse_many([bush[0]])
    assert float(mine.embedding @ theirs.embedding) > 0.99
    [[same], [other]] = old.analyse_many([bush[1], blair])
    assert float(mine.embedding @ same.embedding) > 0.93
    assert float(mine.embedding @ other.embedding) < 0.9


def test_a_model_quantised_from_other_weights_is_refused(tmp_path: Path) -> None:
    model = onnx.load(str(INT8_FILE))
    onnx.helper.set_model_props(model, {WEIGHTS_VERSION_KEY: "0123456789ab"})
    other = tmp_path / INT8_FILE.name
    other.write_bytes(model.SerializeToString())
    with pytest.raises(ModelError, match="quantised from ResNet weights 0123456789ab"):
        int8_embedder(other)
