"""dlib's MMOD CNN face detector, run by ONNX Runtime from dlib's own weights.

Why: dlib's CNN detector finds the small and turned faces CCTV is full of,
but the dlib-bin wheel (no BLAS) needs seconds per frame for it. The same
network in ONNX Runtime computes the same score map many times faster. This
module checks that ``mmod_human_face_detector.dat`` holds the network dlib's
``cnn_face_detection_model_v1`` declares::

    loss_mmod<con<1,9,9,1,1, rcon5<rcon5<rcon5<downsampler<input_rgb_image_pyramid<pyramid_down<6>>>>>>>>
    downsampler = 3 x (con 5x5 stride 2, affine, relu): 16, 32, 32 filters
    rcon5       = con 5x5 (45 filters), affine, relu

builds it as an ONNX graph (each affine layer folded into its convolution,
as in :mod:`retroface.faces.dlib_resnet_onnx`), and turns score maps into
boxes the way dlib's ``loss_mmod`` does: every score above the threshold is
an 80x80 window centred where the score's position maps to in the pyramid
plane, taken back to image pixels through its pyramid level; windows are
then kept greedily by score, dropping any that overlaps a kept one (dlib's
overlap test: intersection over the *bounding* rectangle of the two).
The pyramid itself is :mod:`retroface.faces.mmod_pyramid`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import onnx
from numpy.typing import NDArray
from onnx import TensorProto, helper, numpy_helper

from retroface.faces.dlib_dat_reader import (
    Affine,
    Conv,
    DlibFormatError,
    DlibLayer,
    InputRGBPyramid,
    LossMmod,
    Relu,
    TagOrSkip,
    parse_dlib_layers,
)
from retroface.faces.model_files import MMOD_FILE, packaged_model_path

if TYPE_CHECKING:
    import onnxruntime

PLANE_NAME = "plane"
SCORES_NAME = "scores"
OPSET = 17
IR_VERSION = 8

# (filters, kernel, stride) of each convolution, input to output; each but the last
# is followed by an affine layer and a ReLU.
_MMOD_CONVS = ((16, 5, 2), (32, 5, 2), (32, 5, 2), (45, 5, 1), (45, 5, 1), (45, 5, 1), (1, 9, 1))


@dataclass(frozen=True)
class MmodNetwork:
    """The detector's parts: input layer, (convolution, affine or None) stages, loss layer."""

    input: InputRGBPyramid
    stages: tuple[tuple[Conv, Affine | None], ...]
    loss: LossMmod

    def output_to_plane(
        self, col: NDArray[np.integer], row: NDArray[np.integer]
    ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Map score-map positions to plane pixels, as dlib's ``map_output_to_input``."""
        x, y = col.astype(np.float64), row.astype(np.float64)
        for conv, _ in reversed(self.stages):
            (kh, kw), (sh, sw), (ph, pw) = conv.kernel, conv.stride, conv.padding
            x, y = x * sw - pw + kw // 2, y * sh - ph + kh // 2
        return x, y


def read_mmod_network(path: Path | None = None) -> MmodNetwork:
    """The layers of dlib's MMOD face detector (default: the packaged file), checked.

    Raises :class:`DlibFormatError` for a damaged file or any other network.
    """
    path = path or packaged_model_path(MMOD_FILE)
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise DlibFormatError(f"{path}: cannot read the model ({exc.strerror})") from exc
    try:
        return _check(parse_dlib_layers(data))
    except DlibFormatError as exc:
        raise DlibFormatError(f"{path}: {exc}") from None


def _check(layers: list[DlibLayer | TagOrSkip]) -> MmodNetwork:
    expected = 1 + 3 * (len(_MMOD_CONVS) - 1) + 1 + 1
    if len(layers) != expected:
        raise DlibFormatError(f"the network has {len(layers)} layers, the MMOD detector {expected}")
    stem, loss = layers[0], layers[-1]
    if not isinstance(stem, InputRGBPyramid):
        raise DlibFormatError(f"the input layer is {stem.kind}, not an RGB image pyramid")
    if not isinstance(loss, LossMmod) or loss.bounding_box_regression:
        raise DlibFormatError(f"the loss layer is {loss.kind}, not MMOD without box regression")
    if len(loss.windows) != 1:
        raise DlibFormatError("the detector has several detection windows; one is supported")
    stages: list[tuple[Conv, Affine | None]] = []
    channels = 3
    for index, (filters, kernel, stride) in enumerate(_MMOD_CONVS):
        at = 1 + 3 * index
        conv = layers[at]
        pad = 0 if stride != 1 else kernel // 2
        if not isinstance(conv, Conv) or (conv.filters, conv.kernel, conv.stride, conv.padding) != (
            filters,
            (kernel, kernel),
            (stride, stride),
            (pad, pad),
        ):
            raise DlibFormatError(f"layer {at} is not a {filters}@{kernel}x{kernel}/{stride} con")
        if conv.weight.shape[1] != channels or conv.fused_relu:
            raise DlibFormatError(
                f"layer {at} takes {conv.weight.shape[1]} channels, not {channels}"
            )
        channels = filters
        if index == len(_MMOD_CONVS) - 1:
            stages.append((conv, None))
            break
        affine, relu = layers[at + 1], layers[at + 2]
        if not isinstance(affine, Affine) or affine.mode != "conv" or affine.disabled:
            raise DlibFormatError(f"layer {at + 1} is not a per-channel affine layer")
        if affine.gamma.size != filters or not isinstance(relu, Relu) or relu.disabled:
            raise DlibFormatError(f"layers {at + 1}-{at + 2} are not affine and ReLU")
        stages.append((conv, affine))
    return MmodNetwork(stem, tuple(stages), loss)


def build_mmod_onnx(network: MmodNetwork, every_stage: bool = False) -> onnx.ModelProto:
    """ONNX model: (N, 3, rows, cols) float32 pyramid plane → (N, 1, r, c) score map.

    With ``every_stage`` the output of each stage (after its ReLU) is an extra
    output ``stage<i>``, so a test can compare the network layer by layer.
    """
    nodes: list[onnx.NodeProto] = []
    initializers: list[onnx.TensorProto] = []
    extra: list[onnx.ValueInfoProto] = []
    x = PLANE_NAME
    for index, (conv, affine) in enumerate(network.stages):
        weight = conv.weight.astype(np.float64)
        bias = np.zeros(conv.filters) if conv.bias is None else conv.bias.astype(np.float64)
        if affine is not None:  # y = γ·(W*x + b) + β, folded in float64 then rounded once
            gamma, beta = affine.gamma.astype(np.float64), affine.beta.astype(np.float64)
            weight, bias = weight * gamma[:, None, None, None], bias * gamma + beta
        filters = conv.filters
        w_name, b_name = f"stage{index}_w", f"stage{index}_b"
        initializers += [
            numpy_helper.from_array(weight.astype(np.float32), w_name),
            numpy_helper.from_array(bias.astype(np.float32), b_name),
        ]
        last = index == len(network.stages) - 1
        (kh, kw), (sh, sw), (ph, pw) = conv.kernel, conv.stride, conv.padding
        out = SCORES_NAME if last else f"stage{index}_conv"
        nodes.append(
            helper.make_node(
                "Conv",
                [x, w_name, b_name],
                [out],
                name=f"conv{index}",
                kernel_shape=[kh, kw],
                strides=[sh, sw],
                pads=[ph, pw, ph, pw],
            )
        )
        if not last:
            x = f"stage{index}"
            nodes.append(helper.make_node("Relu", [out], [x], name=f"relu{index}"))
            if every_stage:
                extra.append(
                    helper.make_tensor_value_info(x, TensorProto.FLOAT, ["N", filters, "r", "c"])
                )
    graph = helper.make_graph(
        nodes,
        "dlib_mmod_human_face_detector",
        [helper.make_tensor_value_info(PLANE_NAME, TensorProto.FLOAT, ["N", 3, "rows", "cols"])],
        [helper.make_tensor_value_info(SCORES_NAME, TensorProto.FLOAT, ["N", 1, "r", "c"]), *extra],
        initializers,
    )
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", OPSET)],
        producer_name="retroface",
        doc_string="dlib's MMOD human face detector; output = dlib's detection score map",
    )
    model.ir_version = IR_VERSION
    onnx.checker.check_model(model)
    return model


def mmod_session(model: onnx.ModelProto, threads: int = 1) -> onnxruntime.InferenceSession:
    """An ONNX Runtime CPU session for the detector (``threads`` per inference)."""
    from retroface.faces.dlib_resnet_onnx import load_onnx_session  # noqa: PLC0415 - ONNX Runtime loads only when this backend is used

    return load_onnx_session(model, threads)


class OnnxResizer:
    """dlib's corner-aligned bilinear resize of a (3, h, w) float32 level, in ONNX Runtime.

    Building the pyramid plane with NumPy costs a third of the network's time
    on a 1080p frame; ONNX Runtime's ``Resize`` does the same in a fifth of that.
    """

    def __init__(self, threads: int = 1) -> None:
        node = helper.make_node(
            "Resize",
            ["x", "", "", "sizes"],
            ["y"],
            mode="linear",
            coordinate_transformation_mode="align_corners",
        )
        graph = helper.make_graph(
            [node],
            "aligned_bilinear_resize",
            [
                helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, "h", "w"]),
                helper.make_tensor_value_info("sizes", TensorProto.INT64, [4]),
            ],
            [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3, "rows", "cols"])],
        )
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
        model.ir_version = IR_VERSION
        self._session = mmod_session(model, threads)

    def __call__(self, level: NDArray[np.float32], rows: int, cols: int) -> NDArray[np.float32]:
        sizes = np.array([1, 3, rows, cols], dtype=np.int64)
        outputs = self._session.run(None, {"x": level[None], "sizes": sizes})
        resized: NDArray[np.float32] = outputs[0][0]
        return resized
