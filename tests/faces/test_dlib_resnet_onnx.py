"""dlib's face ResNet converted to ONNX gives dlib's own descriptors; the reader refuses bad files.

Standalone: the chips are made here the way dlib's documentation makes them
(HOG detector, 5-point landmarks, ``get_face_chip(size=150, padding=0.25)``)
from real LFW photographs, and compared with dlib's descriptor of the same chip.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

dlib = pytest.importorskip("dlib")
pytest.importorskip("onnxruntime")
pytest.importorskip("face_recognition_models")

from retroface.faces.dlib_dat_reader import (  # noqa: E402
    AddPrev,
    Conv,
    DlibFormatError,
    FullyConnected,
    InputRGB,
    LossMetric,
    read_dlib_network,
)
from retroface.faces.dlib_resnet_onnx import (  # noqa: E402
    OnnxResNetEmbedder,
    convert_dlib_resnet,
    save_onnx_model,
)
from retroface.faces.model_files import (  # noqa: E402
    LANDMARKS_5_FILE,
    MMOD_FILE,
    RESNET_FILE,
    packaged_model_path,
)

DATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "data"
LFW = DATA / "lfw"
CHIPS = 20
TOLERANCE = 1e-3

pytestmark = pytest.mark.needs_data


@pytest.fixture(scope="module")
def chips() -> np.ndarray:
    """~20 aligned 150x150 chips of different people from LFW, as (N, 150, 150, 3) uint8."""
    if not LFW.is_dir():
        pytest.skip(f"LFW images not found at {LFW.resolve()}")

    detector = dlib.get_frontal_face_detector()
    landmarks = dlib.shape_predictor(str(packaged_model_path(LANDMARKS_5_FILE)))
    people = sorted(p for p in LFW.iterdir() if p.is_dir())
    found: list[np.ndarray] = []
    for person in people[:: max(1, len(people) // (2 * CHIPS))]:
        photos = sorted(person.glob("*.jpg"))
        if not photos:
            continue
        with Image.open(photos[0]) as image:
            pixels = np.asarray(image.convert("RGB"))
        faces = detector(pixels, 1)
        if faces:
            shape = landmarks(pixels, faces[0])
            found.append(dlib.get_face_chip(pixels, shape, size=150, padding=0.25))
        if len(found) == CHIPS:
            break
    if len(found) < CHIPS:
        pytest.skip(f"only {len(found)} faces found in {LFW.resolve()}")
    return np.stack(found)


@pytest.fixture(scope="module")
def dlib_descriptors(chips: np.ndarray) -> np.ndarray:
    """dlib's own (un-normalised) descriptor of each chip."""
    net = dlib.face_recognition_model_v1(str(packaged_model_path(RESNET_FILE)))
    return np.stack([np.asarray(net.compute_face_descriptor(chip)) for chip in chips])


@pytest.fixture(scope="module")
def embedder() -> OnnxResNetEmbedder:
    return OnnxResNetEmbedder(threads=1)


def test_onnx_matches_dlib_within_1e_3_on_real_chips(
    chips: np.ndarray, dlib_descriptors: np.ndarray, embedder: OnnxResNetEmbedder
) -> None:
    batched = embedder.raw_descriptors(list(chips))
    assert batched.shape == (len(chips), 128) and batched.dtype == np.float32
    assert float(np.abs(batched - dlib_descriptors).max()) <= TOLERANCE
    one = embedder.raw_descriptors([chips[0]])  # a batch of one takes the same path
    assert float(np.abs(one[0] - dlib_descriptors[0]).max()) <= TOLERANCE
    # dlib's descriptors are not unit vectors; ours are not either (normalising is embed's job)
    assert not np.allclose(np.linalg.norm(batched, axis=1), 1.0, atol=1e-3)
    assert np.allclose(np.linalg.norm(embedder.embed(list(chips[:2])), axis=1), 1.0, atol=1e-5)


def test_saved_onnx_file_gives_the_same_descriptors(
    chips: np.ndarray, embedder: OnnxResNetEmbedder, tmp_path: Path
) -> None:
    model = convert_dlib_resnet()
    path = save_onnx_model(model, tmp_path / "resnet.onnx")
    assert path.read_bytes() == convert_dlib_resnet().SerializeToString()  # deterministic
    reloaded = OnnxResNetEmbedder(path, threads=1).raw_descriptors(list(chips[:4]))
    assert np.array_equal(reloaded, embedder.raw_descriptors(list(chips[:4])))


def test_reader_returns_the_face_resnet_layers() -> None:
    layers = read_dlib_network(packaged_model_path(RESNET_FILE))
    kinds = [layer.kind for layer in layers]
    assert isinstance(layers[0], InputRGB) and isinstance(layers[-1], LossMetric)
    assert (layers[0].rows, layers[0].cols) == (150, 150)
    assert kinds.count("con") == 29 and kinds.count("affine") == 29
    assert kinds.count("add_prev") == 14 and kinds.count("avg_pool") == 5
    convs = [layer for layer in layers if isinstance(layer, Conv)]
    assert convs[0].weight.shape == (32, 3, 7, 7)  # OIHW
    assert convs[0].stride == (2, 2) and convs[0].padding == (0, 0)
    assert {a.tag for a in layers if isinstance(a, AddPrev)} == {1, 2}
    fc = layers[-2]
    assert isinstance(fc, FullyConnected) and fc.weight.shape == (128, 256) and fc.bias is None


@pytest.mark.parametrize("keep", [0.001, 0.3, 0.999])
def test_truncated_model_file_is_refused(tmp_path: Path, keep: float) -> None:
    raw = packaged_model_path(RESNET_FILE).read_bytes()
    cut = tmp_path / "cut.dat"
    cut.write_bytes(raw[: int(len(raw) * keep)])
    with pytest.raises(DlibFormatError, match="truncated"):
        read_dlib_network(cut)


def test_other_dlib_networks_and_junk_are_refused(tmp_path: Path) -> None:
    with pytest.raises(DlibFormatError, match="loss_mmod"):
        read_dlib_network(packaged_model_path(MMOD_FILE))  # dlib's CNN face detector
    junk = tmp_path / "junk.dat"
    junk.write_bytes(bytes(1000))
    with pytest.raises(DlibFormatError):
        read_dlib_network(junk)
    longer = tmp_path / "longer.dat"
    longer.write_bytes(packaged_model_path(RESNET_FILE).read_bytes() + b"\x01\x00")
    with pytest.raises(DlibFormatError, match="unexpected bytes"):
        read_dlib_network(longer)
