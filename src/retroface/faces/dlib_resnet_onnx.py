"""dlib's face-recognition ResNet as an ONNX graph, run by ONNX Runtime.

Why: the dlib-bin wheel is built without BLAS, so dlib's own forward pass
takes ~90 ms a face on one core; ONNX Runtime runs the same weights with
optimised kernels. The graph is built from the weights read by
:mod:`dlib_dat_reader`, with each affine (frozen batch-norm) layer folded
into the convolution before it, and must reproduce dlib's descriptor for
the same chip to within 1e-3 (tests check this on real faces).

The network is dlib's residual layout: a stem (7x7 conv, max pool), then
blocks of two 3x3 convolutions whose output is added to the block's input;
a down-sampling block adds a 2x2 average pool of its input instead. Where
the two branches differ in size, dlib adds over the overlap and keeps the
larger size (zero padding), which the graph reproduces with Pad nodes.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from retroface.faces.dlib_dat_reader import DlibFormatError, DlibLayer, read_dlib_network
from retroface.faces.embedder import l2_normalise
from retroface.faces.model_files import RESNET_FILE, file_digest, packaged_model_path
from retroface.faces.types import ModelInfo

INPUT_NAME = "chips"
OUTPUT_NAME = "descriptors"
OPSET = 17


@dataclass
class _Shape:
    c: int
    h: int
    w: int


class _GraphBuilder:
    def __init__(self) -> None:
        self.nodes: list[onnx.NodeProto] = []
        self.inits: list[onnx.TensorProto] = []
        self._n = 0

    def name(self, stem: str) -> str:
        self._n += 1
        return f"{stem}_{self._n}"

    def const(self, stem: str, value: np.ndarray) -> str:
        name = self.name(stem)
        self.inits.append(numpy_helper.from_array(value, name))
        return name

    def node(self, op: str, inputs: list[str], **attrs: object) -> str:
        out = self.name(op.lower())
        self.nodes.append(helper.make_node(op, inputs, [out], **attrs))
        return out


def build_onnx_model(layers: list[DlibLayer]) -> onnx.ModelProto:
    """Translate dlib's residual face network into an ONNX model (N,150,150,3 uint8 → N,128)."""
    layers = [layer for layer in layers if layer.kind != "loss_metric"]
    stem, body = layers[0], layers[1:]
    if stem.kind != "input":
        raise DlibFormatError("the network does not start with an input layer")
    rows, cols = int(stem.params["rows"]), int(stem.params["cols"])  # type: ignore[call-overload]
    g = _GraphBuilder()
    x = g.node("Cast", [INPUT_NAME], to=TensorProto.FLOAT)
    x = g.node("Transpose", [x], perm=[0, 3, 1, 2])
    mean = np.asarray(stem.params["mean_rgb"], dtype=np.float32).reshape(1, 3, 1, 1)
    x = g.node("Sub", [x, g.const("mean", mean)])
    x = g.node("Div", [x, g.const("scale", np.array(256.0, dtype=np.float32))])
    shape = _Shape(3, rows, cols)

    block_input: tuple[str, _Shape] | None = None
    shortcut: tuple[str, _Shape] | None = None
    i = 0
    while i < len(body):
        layer = body[i]
        if layer.kind == "con":
            if block_input is None:
                block_input, shortcut = (x, shape), (x, shape)
            affine = body[i + 1] if i + 1 < len(body) and body[i + 1].kind == "affine" else None
            x, shape = _conv(g, x, shape, layer, affine)
            i += 2 if affine else 1
            continue
        if layer.kind == "relu":
            x = g.node("Relu", [x])
        elif layer.kind == "max_pool":
            x, shape = _pool(g, "MaxPool", x, shape, layer)
            block_input = None  # the stem ends here
        elif layer.kind == "avg_pool" and layer.params["kernel"] == (0, 0):
            x = g.node("GlobalAveragePool", [x])
            shape = _Shape(shape.c, 1, 1)
        elif layer.kind == "avg_pool":
            if block_input is None:
                raise DlibFormatError("an average pool outside a residual block")
            shortcut = _pool(g, "AveragePool", block_input[0], block_input[1], layer)
        elif layer.kind == "add_prev":
            if shortcut is None:
                raise DlibFormatError("a residual addition without a block input")
            x, shape = _padded_add(g, (x, shape), shortcut)
            block_input = shortcut = None
        elif layer.kind == "fc":
            weight = layer.weights["weight"]
            if weight.shape[0] != shape.c * shape.h * shape.w:
                raise DlibFormatError("the fully connected layer does not fit its input")
            x = g.node("Flatten", [x], axis=1)
            x = g.node("MatMul", [x, g.const("fc_w", weight.astype(np.float32))])
            if "bias" in layer.weights:
                x = g.node("Add", [x, g.const("fc_b", layer.weights["bias"])])
            shape = _Shape(weight.shape[1], 1, 1)
        else:
            raise DlibFormatError(f"layer {layer.kind!r} is not supported in this position")
        i += 1
    g.nodes.append(helper.make_node("Identity", [x], [OUTPUT_NAME]))
    graph = helper.make_graph(
        g.nodes,
        "dlib_face_recognition_resnet",
        [helper.make_tensor_value_info(INPUT_NAME, TensorProto.UINT8, ["N", rows, cols, 3])],
        [helper.make_tensor_value_info(OUTPUT_NAME, TensorProto.FLOAT, ["N", shape.c])],
        g.inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


def _conv(
    g: _GraphBuilder, x: str, shape: _Shape, con: DlibLayer, affine: DlibLayer | None
) -> tuple[str, _Shape]:
    weight = con.weights["weight"].astype(np.float32)
    bias = con.weights["bias"].astype(np.float32)
    if affine is not None:  # fold y = gamma * conv(x) + beta into the convolution
        gamma, beta = affine.weights["gamma"], affine.weights["beta"]
        weight = weight * gamma[:, None, None, None]
        bias = bias * gamma + beta
    (kh, kw), (sh, sw), (ph, pw) = con.params["kernel"], con.params["stride"], con.params["padding"]  # type: ignore[misc]
    out = g.node(
        "Conv",
        [x, g.const("w", weight), g.const("b", bias)],
        kernel_shape=[kh, kw],
        strides=[sh, sw],
        pads=[ph, pw, ph, pw],
    )
    return out, _Shape(
        weight.shape[0], 1 + (shape.h + 2 * ph - kh) // sh, 1 + (shape.w + 2 * pw - kw) // sw
    )


def _pool(g: _GraphBuilder, op: str, x: str, shape: _Shape, layer: DlibLayer) -> tuple[str, _Shape]:
    (kh, kw), (sh, sw), (ph, pw) = (
        layer.params["kernel"],
        layer.params["stride"],
        layer.params["padding"],
    )  # type: ignore[misc]
    out = g.node(op, [x], kernel_shape=[kh, kw], strides=[sh, sw], pads=[ph, pw, ph, pw])
    return out, _Shape(
        shape.c, 1 + (shape.h + 2 * ph - kh) // sh, 1 + (shape.w + 2 * pw - kw) // sw
    )


def _padded_add(
    g: _GraphBuilder, a: tuple[str, _Shape], b: tuple[str, _Shape]
) -> tuple[str, _Shape]:
    """dlib's add_prev: the sum over the overlap, zero-padded to the larger size."""
    big = _Shape(max(a[1].c, b[1].c), max(a[1].h, b[1].h), max(a[1].w, b[1].w))

    def fit(name: str, s: _Shape) -> str:
        if (s.c, s.h, s.w) == (big.c, big.h, big.w):
            return name
        pads = np.array([0, 0, 0, 0, 0, big.c - s.c, big.h - s.h, big.w - s.w], dtype=np.int64)
        return g.node("Pad", [name, g.const("pads", pads)], mode="constant")

    return g.node("Add", [fit(*a), fit(*b)]), big


def load_onnx_session(model: onnx.ModelProto | Path, threads: int = 1):
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    source = str(model) if isinstance(model, Path) else model.SerializeToString()
    return ort.InferenceSession(source, options, providers=["CPUExecutionProvider"])


class OnnxResNetEmbedder:
    """dlib's ResNet weights run by ONNX Runtime; same descriptors as dlib, several times faster."""

    def __init__(self, model_path: Path | None = None, threads: int = 1) -> None:
        weights = model_path or packaged_model_path(RESNET_FILE)
        if weights.suffix == ".onnx":
            self._session = load_onnx_session(weights, threads)
            version = file_digest(weights)
        else:
            self._session = load_onnx_session(build_onnx_model(read_dlib_network(weights)), threads)
            version = file_digest(weights)  # same weights as the dlib backend: same model version
        self.model = ModelInfo(name="dlib_resnet_v1", version=version, dimension=128)

    def raw_descriptors(self, chips: list[np.ndarray]) -> np.ndarray:
        if not chips:
            return np.zeros((0, self.model.dimension), dtype=np.float32)
        batch = np.ascontiguousarray(np.stack(chips), dtype=np.uint8)
        return self._session.run([OUTPUT_NAME], {INPUT_NAME: batch})[0]

    def embed(self, chips: list[np.ndarray]) -> np.ndarray:
        return l2_normalise(self.raw_descriptors(chips))
