"""dlib's MMOD face detector run in ONNX Runtime finds dlib's own faces, with dlib's scores.

Real images only: news photos, a group photo and a crop of a CCTV-like crowd
video, each given to dlib's ``cnn_face_detection_model_v1`` and to the ONNX
detector in dlib's configuration (no enlargement, every pyramid level).
"""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest

from retroface.faces.detector import CnnDetector

dlib = pytest.importorskip("dlib")
pytest.importorskip("onnxruntime")
pytest.importorskip("face_recognition_models")

from retroface.faces import EngineSpec, FaceEngine  # noqa: E402
from retroface.faces.dlib_dat_reader import DlibFormatError  # noqa: E402
from retroface.faces.mmod_detector import OnnxMmodDetector  # noqa: E402
from retroface.faces.mmod_onnx import (  # noqa: E402
    PLANE_NAME,
    OnnxResizer,
    build_mmod_onnx,
    mmod_session,
    read_mmod_network,
)
from retroface.faces.mmod_pyramid import build_plane, pyramid_layout, resize_aligned  # noqa: E402
from retroface.faces.model_files import MMOD_FILE, RESNET_FILE, packaged_model_path  # noqa: E402
from retroface.media import load_image  # noqa: E402

DATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "data"
SCORE_TOLERANCE = 1e-3
BOX_TOLERANCE_PX = 2

pytestmark = pytest.mark.needs_data


def _crowd_crop() -> np.ndarray:
    """A 640x360 crop of frame 50 of the CCTV-like crowd video, holding two small faces."""

    with av.open(str(DATA / "video" / "covent_garden_crowd.mp4")) as container:
        for index, frame in enumerate(container.decode(video=0)):
            if index == 50:
                return frame.to_ndarray(format="rgb24")[500:860, 150:790].copy()
    raise AssertionError("the crowd video has fewer than 51 frames")


@pytest.fixture(scope="module")
def images() -> dict[str, np.ndarray]:
    if not DATA.is_dir():
        pytest.skip(f"real face data not found at {DATA.resolve()}")
    examples = DATA / "face_recognition" / "examples"
    return {
        "tilted_lfw_face": load_image(
            DATA / "lfw" / "Jelena_Dokic" / "Jelena_Dokic_0004.jpg"
        ).pixels,
        "obama_240p": load_image(examples / "obama-240p.jpg").pixels,
        "two_people": load_image(examples / "two_people.jpg").pixels,
        "crowd_crop": _crowd_crop(),
    }


@pytest.fixture(scope="module")
def dlib_cnn() -> object:
    return dlib.cnn_face_detection_model_v1(str(packaged_model_path(MMOD_FILE)))


@pytest.fixture(scope="module")
def exact() -> OnnxMmodDetector:
    return OnnxMmodDetector(scale=1.0, level_step=1)


def test_reader_finds_dlibs_detector_network() -> None:
    network = read_mmod_network()
    assert [conv.filters for conv, _ in network.stages] == [16, 32, 32, 45, 45, 45, 1]
    assert [conv.stride for conv, _ in network.stages][:4] == [(2, 2)] * 3 + [(1, 1)]
    assert network.stages[-1][1] is None and all(a is not None for _, a in network.stages[:-1])
    assert network.loss.windows == ((80, 80),)
    assert 0.3 < network.loss.nms_iou < 0.4
    assert network.input.padding == 10 and network.input.outer_padding == 11
    # A score at output (c, r) is centred on plane pixel (8c + 14, 8r + 14).
    x, y = network.output_to_plane(np.array([0, 3]), np.array([0, 5]))
    assert x.tolist() == [14, 38] and y.tolist() == [14, 54]


def test_reader_refuses_the_face_resnet(tmp_path: Path) -> None:
    with pytest.raises(DlibFormatError, match="MMOD"):
        read_mmod_network(packaged_model_path(RESNET_FILE))
    cut = tmp_path / "cut.dat"
    cut.write_bytes(packaged_model_path(MMOD_FILE).read_bytes()[:5000])
    with pytest.raises(DlibFormatError, match="truncated"):
        read_mmod_network(cut)


def test_same_faces_boxes_and_scores_as_dlib(
    images: dict[str, np.ndarray], dlib_cnn: object, exact: OnnxMmodDetector
) -> None:
    compared = 0
    for name, pixels in images.items():
        theirs = sorted(
            (
                (d.rect.left(), d.rect.top(), d.rect.right(), d.rect.bottom(), d.confidence)
                for d in dlib_cnn(pixels, 0)  # type: ignore[operator]
            ),
            key=lambda d: -d[4],
        )
        ours = exact.raw_detections(pixels)
        assert len(ours) == len(theirs), name
        for mine, dlibs in zip(ours, theirs, strict=True):
            assert np.abs(np.subtract(mine[:4], dlibs[:4])).max() <= BOX_TOLERANCE_PX, name
            assert abs(mine[4] - dlibs[4]) <= SCORE_TOLERANCE, name
        compared += len(theirs)
    assert compared >= 4  # the photos hold real faces; an empty comparison proves nothing


def test_every_stage_matches_a_plain_numpy_forward_pass(images: dict[str, np.ndarray]) -> None:
    """Layer by layer: ONNX (affine folded into the convolutions) vs dlib's layers unfolded."""
    network = read_mmod_network()
    pixels = images["tilted_lfw_face"][::2, ::2]  # small, so the NumPy pass stays quick
    stem = network.input
    layout = pyramid_layout(*pixels.shape[:2], stem.padding, stem.outer_padding)
    plane = build_plane(pixels, layout, stem.mean_rgb, stem.scale)
    session = mmod_session(build_mmod_onnx(network, every_stage=True))
    names = [o.name for o in session.get_outputs()]
    outputs = dict(zip(names, session.run(None, {PLANE_NAME: plane[None]}), strict=True))
    x = plane.astype(np.float64)
    for index, (conv, affine) in enumerate(network.stages):
        x = _conv(x, conv.weight.astype(np.float64), conv.bias, conv.stride[0], conv.padding[0])
        if affine is not None:
            x = np.maximum(x * affine.gamma[:, None, None] + affine.beta[:, None, None], 0)
            got = outputs[f"stage{index}"][0]
        else:
            got = outputs["scores"][0]
        scale = max(1.0, float(np.abs(x).max()))
        assert np.abs(got - x).max() <= 1e-4 * scale, f"stage {index}"


def _conv(x: np.ndarray, w: np.ndarray, b: np.ndarray | None, stride: int, pad: int) -> np.ndarray:
    x = np.pad(x, ((0, 0), (pad, pad), (pad, pad)))
    k = w.shape[2]
    rows = (x.shape[1] - k) // stride + 1
    cols = (x.shape[2] - k) // stride + 1
    windows = np.lib.stride_tricks.sliding_window_view(x, (k, k), axis=(1, 2))
    windows = windows[:, ::stride, ::stride][:, :rows, :cols]
    out = np.einsum("cyxij,ocij->oyx", windows, w, optimize=True)
    return out + (0 if b is None else b[:, None, None])


def test_onnx_pyramid_resize_matches_dlibs_arithmetic(images: dict[str, np.ndarray]) -> None:
    level = np.moveaxis(images["two_people"], 2, 0).astype(np.float32) / 256
    mine = resize_aligned(level, 400, 700)
    theirs = OnnxResizer()(level, 400, 700)
    assert mine.shape == theirs.shape == (3, 400, 700)
    assert np.abs(mine - theirs).max() < 1e-4


def test_cctv_settings_keep_dlibs_faces_in_the_crowd(
    images: dict[str, np.ndarray], exact: OnnxMmodDetector
) -> None:
    crowd = images["crowd_crop"]
    reference = [d.box for d in exact.detect(crowd)]
    engine = FaceEngine.from_spec(EngineSpec(detector="cnn-onnx", jitters=1))
    faces = engine.analyse(crowd)
    assert len(reference) >= 2 and len(faces) >= len(reference)
    for box in reference:
        assert any(
            abs(f.detection.box.x - box.x) < box.w / 3
            and abs(f.detection.box.y - box.y) < box.h / 3
            for f in faces
        )
    assert all(f.detection.detector == "mmod_onnx" for f in faces)
    assert all(np.isclose(np.linalg.norm(f.embedding), 1.0) for f in faces)


def test_default_cascade_rescues_a_face_hog_misses_where_dlibs_cnn_does(
    images: dict[str, np.ndarray],
) -> None:

    pixels = images["tilted_lfw_face"]  # HOG finds nothing in this tilted face
    cascade = FaceEngine.from_spec(EngineSpec(jitters=1)).detector
    ours = cascade.detect(pixels)
    theirs = CnnDetector().detect(pixels)
    assert len(ours) == len(theirs) == 1 and ours[0].detector == "mmod_onnx"
    a, b = ours[0].box, theirs[0].box
    # dlib doubles the image with its own filter, we with PIL's: the peak can move one
    # step of the score map (8 px at the level's scale), so the boxes agree by overlap.
    inner_w = min(a.x + a.w, b.x + b.w) - max(a.x, b.x)
    inner_h = min(a.y + a.h, b.y + b.h) - max(a.y, b.y)
    inner = max(0, inner_w) * max(0, inner_h)
    assert inner / (a.w * a.h + b.w * b.h - inner) >= 0.7
