"""The dlib and ONNX embedder backends are interchangeable: same model identity on templates."""

from __future__ import annotations

import pytest

from retroface.faces.dlib_resnet_onnx import OnnxResNetEmbedder
from retroface.faces.embedder import DlibResNetEmbedder

pytestmark = pytest.mark.needs_data


def test_both_backends_record_the_same_model_version() -> None:
    assert OnnxResNetEmbedder().model == DlibResNetEmbedder().model
