"""The dlib and ONNX embedder backends are interchangeable: same model identity on templates."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper

from retroface.errors import ModelError
from retroface.faces import EngineSpec, FaceEngine
from retroface.faces.dlib_resnet_onnx import (
    OnnxResNetEmbedder,
    convert_dlib_resnet,
    save_onnx_model,
)
from retroface.faces.embedder import DlibResNetEmbedder
from retroface.media import load_image

pytestmark = pytest.mark.needs_data


def test_both_backends_record_the_same_model_version() -> None:
    assert OnnxResNetEmbedder().model == DlibResNetEmbedder().model


def _arcface_style_model(path: Path, size: int = 112, dimension: int = 512) -> Path:
    """A stand-in with ArcFace's interface: (N, 3, 112, 112) float in, 512 floats out."""
    rng = np.random.default_rng(0)
    weights = rng.standard_normal((3 * size * size, dimension)).astype(np.float32) / 100
    graph = helper.make_graph(
        [
            helper.make_node("Flatten", ["input"], ["flat"], axis=1),
            helper.make_node("MatMul", ["flat", "w"], ["embedding"]),
        ],
        "arcface_like",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 3, size, size])],
        [helper.make_tensor_value_info("embedding", TensorProto.FLOAT, ["N", dimension])],
        [numpy_helper.from_array(weights, "w")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 9  # what the pinned ONNX Runtime reads
    path.write_bytes(model.SerializeToString())
    return path


def test_an_arcface_style_onnx_model_plugs_in_with_its_own_identity(
    tmp_path: Path, data: Path
) -> None:
    model = _arcface_style_model(tmp_path / "agency-model.onnx")
    engine = FaceEngine.from_spec(EngineSpec(embedder=f"onnx:{model}", detector="hog"))
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
    engine = FaceEngine.from_spec(EngineSpec(embedder=f"onnx:{path}", detector="hog"))
    assert engine.model.name == "dlib_resnet_v1" and engine.model.dimension == 128


def test_a_file_that_is_not_a_model_is_a_clear_error(tmp_path: Path) -> None:
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"not a model")
    with pytest.raises(ModelError, match="not a usable ONNX model"):
        FaceEngine.from_spec(EngineSpec(embedder=f"onnx:{junk}", detector="hog"))
