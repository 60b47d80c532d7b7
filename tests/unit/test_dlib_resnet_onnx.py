"""dlib's ResNet run by ONNX Runtime gives dlib's own descriptors for the same chips."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from retroface.faces import FaceEngine
from retroface.faces.dlib_dat_reader import DlibFormatError, read_dlib_network
from retroface.faces.dlib_resnet_onnx import OnnxResNetEmbedder
from retroface.faces.embedder import DlibResNetEmbedder
from retroface.faces.model_files import RESNET_FILE, packaged_model_path
from retroface.media import load_image

pytestmark = pytest.mark.needs_data


@pytest.fixture(scope="module")
def chips(engine: FaceEngine, data: Path) -> list[np.ndarray]:
    """Aligned chips of 24 real LFW faces (different people, lighting, poses)."""
    people = sorted(p for p in (data / "lfw").iterdir() if p.is_dir())[::240][:24]
    out = []
    for person in people:
        pixels = load_image(sorted(person.glob("*.jpg"))[0]).pixels
        detections = engine.detector.detect(pixels)
        if detections:
            out.append(engine.aligner.align(pixels, detections[0].box).chip)
    assert len(out) >= 20
    return out


def test_onnx_descriptors_match_dlib_within_1e_3(chips: list[np.ndarray]) -> None:
    reference = DlibResNetEmbedder().raw_descriptors(chips)
    converted = OnnxResNetEmbedder().raw_descriptors(chips)
    assert converted.shape == reference.shape == (len(chips), 128)
    assert float(np.abs(converted - reference).max()) <= 1e-3


def test_both_backends_record_the_same_model_version() -> None:
    assert OnnxResNetEmbedder().model == DlibResNetEmbedder().model


def test_reader_lists_the_networks_layers() -> None:
    layers = read_dlib_network(packaged_model_path(RESNET_FILE))
    kinds = [layer.kind for layer in layers]
    assert kinds[0] == "input" and kinds[-1] == "loss_metric"
    assert kinds.count("con") == 29 and kinds.count("add_prev") == 14
    assert layers[0].params["rows"] == 150


def test_truncated_model_file_is_refused(tmp_path: Path) -> None:
    raw = packaged_model_path(RESNET_FILE).read_bytes()
    cut = tmp_path / "cut.dat"
    cut.write_bytes(raw[: len(raw) // 3])
    with pytest.raises(DlibFormatError):
        read_dlib_network(cut)


def test_a_file_that_is_not_a_network_is_refused(tmp_path: Path) -> None:
    junk = tmp_path / "junk.dat"
    junk.write_bytes(b"\x00" * 1000)
    with pytest.raises(DlibFormatError):
        read_dlib_network(junk)
