"""What footage is analysed with, given the stills' engine and the settings."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from retroface.faces import EngineSpec
from retroface.services.video.ingest import footage_spec
from retroface.settings import Settings


def test_footage_embeds_in_float_where_stills_use_the_int8_twin(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path)
    stills = EngineSpec()
    assert stills.embedder == "onnx8"
    footage = footage_spec(stills, settings)
    assert footage.embedder == "onnx" and footage.detector == settings.video_detector
    assert footage.alignments == stills.alignments[:1] and footage.jitters == 1


def test_another_model_is_never_swapped_for_the_float_resnet(tmp_path: Path) -> None:
    """An agency's own model keeps its template space in footage too."""
    stills = replace(EngineSpec(), embedder="onnx:/models/arcface.onnx")
    assert footage_spec(stills, Settings(home=tmp_path)).embedder == "onnx:/models/arcface.onnx"
    chosen = Settings(home=tmp_path, video_embedder="onnx8")
    assert footage_spec(EngineSpec(), chosen).embedder == "onnx8"
