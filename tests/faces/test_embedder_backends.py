"""The dlib and ONNX embedder backends are interchangeable: same model identity on templates."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from retroface.errors import ModelError
from retroface.faces import EngineSpec, FaceEngine
from retroface.faces.dlib_resnet_onnx import (
    OnnxResNetEmbedder,
    convert_dlib_resnet,
    save_onnx_model,
)
from retroface.faces.embedder import DlibResNetEmbedder
from retroface.media import load_image
from tests.helpers import arcface_style_onnx_model

pytestmark = pytest.mark.needs_data


def test_both_backends_record_the_same_model_version() -> None:
    assert OnnxResNetEmbedder().model == DlibResNetEmbedder().model


def test_an_arcface_style_onnx_model_plugs_in_with_its_own_identity(
    tmp_path: Path, data: Path
) -> None:
    model = arcface_style_onnx_model(tmp_path / "agency-model.onnx")
    engine = FaceEngine.from_spec(EngineSpec(embedder=f"onnx:{model}", detector="hog", jitters=1))
    assert engine.model.dimension == 512 and engine.model.name == "agency-model"
    assert engine.model.version != OnnxResNetEmbedder().model.version
    examples = data / "face_recognition" / "examples"
    first = engine.analyse(load_image(examples / "obama.jpg").pixels)[0].embedding
    again = engine.analyse(load_image(examples / "obama.jpg").pixels)[0].embedding
    other = engine.analyse(load_image(examples / "biden.jpg").pixels)[0].embedding
    assert first.shape == (512,) and abs(float(np.linalg.norm(first)) - 1.0) < 1e-5
    assert float(first @ again) > 0.9999 and float(first @ other) < 0.9999


def test_the_converted_dlib_model_saved_as_onnx_keeps_dlibs_identity(tmp_path: Path) -> None:
    path = save_onnx_model(convert_dlib_resnet(), tmp_path / "dlib.onnx")
    engine = FaceEngine.from_spec(EngineSpec(embedder=f"onnx:{path}", detector="hog", jitters=1))
    assert engine.model.name == "dlib_resnet_v1" and engine.model.dimension == 128


def test_a_file_that_is_not_a_model_is_a_clear_error(tmp_path: Path) -> None:
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"not a model")
    with pytest.raises(ModelError, match="not a usable ONNX model"):
        FaceEngine.from_spec(EngineSpec(embedder=f"onnx:{junk}", detector="hog", jitters=1))
