"""dlib's face-recognition ResNet as an ONNX graph, run by ONNX Runtime.

Why: the dlib-bin wheel is built without BLAS, so dlib's own forward pass
takes ~90 ms a face on one core; ONNX Runtime runs the very same weights with
optimised kernels in a fraction of that. The graph is built from the layers
read by :mod:`retroface.faces.dlib_dat_reader` and must reproduce dlib's
descriptor for the same chip to within 1e-3 per element (the tests check this
on real faces), so it mirrors dlib's arithmetic rather than "improving" it:

* input: dlib computes (pixel − channel mean) / 256 on RGB planes; we do the
  same in float32 (dividing by a power of two is exact, so this matches dlib's
  rounding bit for bit);
* each affine layer (a frozen batch norm) that directly follows a convolution
  is folded into it: W' = γ·W, b' = γ·b + β. This is the same function up to
  float rounding (relative error ~1e-7), and saves a pass over every activation;
* dlib's ``add_prev`` adds tensors of different sizes by zero-extending the
  smaller one at the far end of each axis (channels, rows, columns); the graph
  does the same with ``Pad`` before ``Add``. In this network the down-sampling
  blocks need it (e.g. 256×3×3 + 128×4×4 → 256×4×4);
* the output is the fully connected layer's 128 values, not normalised, like
  ``face_recognition_model_v1.compute_face_descriptor``.

The graph is built deterministically (fixed node and initializer names), so
the same weights always give the same ``.onnx`` bytes.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import onnx
from numpy.typing import NDArray
from onnx import TensorProto, helper, numpy_helper

from retroface.faces.dlib_dat_reader import (
    AddPrev,
    Affine,
    AvgPool,
    Conv,
    DlibFormatError,
    DlibLayer,
    FullyConnected,
    InputRGB,
    LossMetric,
    MaxPool,
    Relu,
    Skip,
    Tag,
    read_dlib_network,
)
from retroface.faces.embedder import l2_normalise
from retroface.faces.model_files import RESNET_FILE, file_digest, packaged_model_path
from retroface.faces.types import ModelInfo

if TYPE_CHECKING:
    import onnxruntime

INPUT_NAME = "chips"
OUTPUT_NAME = "descriptors"
OPSET = 17
IR_VERSION = 8  # readable by every onnxruntime release since 1.10
InputType = Literal["uint8", "float32"]
_ONNX_TYPES: dict[str, int] = {"uint8": TensorProto.UINT8, "float32": TensorProto.FLOAT}


@dataclass(frozen=True)
class _Value:
    """A tensor in the graph under construction: its name and NCHW shape (without N)."""

    name: str
    c: int
    h: int
    w: int


class _Graph:
    """Collects nodes and initializers under deterministic, readable names."""

    def __init__(self) -> None:
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: list[onnx.TensorProto] = []
        self._count = 0

    def _name(self, stem: str) -> str:
        self._count += 1
        return f"n{self._count:03d}_{stem}"

    def const(self, stem: str, value: NDArray[np.generic]) -> str:
        name = self._name(stem)
        self.initializers.append(numpy_helper.from_array(np.ascontiguousarray(value), name))
        return name

    def op(self, op_type: str, inputs: list[str], output: str | None = None, **attrs: Any) -> str:
        name = self._name(op_type.lower())
        out = output or name
        self.nodes.append(helper.make_node(op_type, inputs, [out], name=name, **attrs))
        return out


def build_onnx_model(layers: list[DlibLayer], input_type: InputType = "uint8") -> onnx.ModelProto:
    """An ONNX model computing dlib's descriptor: (N, rows, cols, 3) RGB chips → (N, 128) float32.

    ``input_type`` is the element type of the chips: ``uint8`` (what cameras and
    dlib use) or ``float32`` holding the same 0..255 values.
    """
    if input_type not in _ONNX_TYPES:
        raise ValueError(f"input_type must be one of {sorted(_ONNX_TYPES)}")
    layers = list(layers)
    if layers and isinstance(layers[-1], LossMetric):
        layers.pop()  # at inference the descriptor is the loss layer's input
    if not layers or not isinstance(layers[0], InputRGB):
        raise DlibFormatError("the network does not start with an RGB input layer")
    stem = layers[0]
    if stem.rows <= 0 or stem.cols <= 0:
        raise DlibFormatError("the input layer does not fix the chip size")
    g = _Graph()
    x = _input(g, stem, input_type)
    tags: dict[int, _Value] = {}
    i = 1
    while i < len(layers):
        layer = layers[i]
        last = i == len(layers) - 1
        if isinstance(layer, Conv):
            follows = layers[i + 1] if i + 1 < len(layers) else None
            affine = follows if isinstance(follows, Affine) and not follows.disabled else None
            x = _conv(g, x, layer, affine)
            i += 2 if affine is not None else 1
            continue
        if isinstance(layer, Affine):
            x = _affine(g, x, layer)
        elif isinstance(layer, Relu):
            x = x if layer.disabled else _same(x, g.op("Relu", [x.name]))
        elif isinstance(layer, MaxPool | AvgPool):
            x = _pool(g, x, layer)
        elif isinstance(layer, Tag):
            tags[layer.id] = x
        elif isinstance(layer, Skip):
            x = _tagged(tags, layer.id)
        elif isinstance(layer, AddPrev):
            x = _padded_add(g, x, _tagged(tags, layer.tag))
        elif isinstance(layer, FullyConnected) and last:
            x = _fc(g, x, layer)
        else:
            raise DlibFormatError(f"layer {i} ({layer.kind}) is not supported in this position")
        i += 1
    if x.h != 1 or x.w != 1:
        raise DlibFormatError("the network does not end in a vector")
    g.op("Identity", [x.name], output=OUTPUT_NAME)
    rows, cols = stem.rows, stem.cols
    graph = helper.make_graph(
        g.nodes,
        "dlib_face_recognition_resnet_v1",
        [helper.make_tensor_value_info(INPUT_NAME, _ONNX_TYPES[input_type], ["N", rows, cols, 3])],
        [helper.make_tensor_value_info(OUTPUT_NAME, TensorProto.FLOAT, ["N", x.c])],
        g.initializers,
    )
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", OPSET)],
        producer_name="retroface",
        doc_string="dlib's face recognition ResNet v1; output = dlib's raw 128-d descriptor",
    )
    model.ir_version = IR_VERSION
    onnx.checker.check_model(model)
    return model


def _same(x: _Value, name: str) -> _Value:
    return _Value(name, x.c, x.h, x.w)


def _tagged(tags: dict[int, _Value], ident: int) -> _Value:
    if ident not in tags:
        raise DlibFormatError(f"the network uses tag{ident} before setting it")
    return tags[ident]


def _input(g: _Graph, stem: InputRGB, input_type: InputType) -> _Value:
    """NHWC 0..255 RGB → NCHW (x − mean) / 256, as dlib's input layer computes it."""
    x = INPUT_NAME if input_type == "float32" else g.op("Cast", [INPUT_NAME], to=TensorProto.FLOAT)
    x = g.op("Transpose", [x], perm=[0, 3, 1, 2])
    mean = np.asarray(stem.mean_rgb, dtype=np.float32).reshape(1, 3, 1, 1)
    x = g.op("Sub", [x, g.const("input_mean", mean)])
    x = g.op("Mul", [x, g.const("input_scale", np.asarray(1.0 / stem.scale, dtype=np.float32))])
    return _Value(x, 3, stem.rows, stem.cols)


def _out_size(size: int, kernel: int, stride: int, pad: int) -> int:
    """dlib's (and ONNX's, without ceil mode) output length of a window sweep."""
    out = 1 + (size + 2 * pad - kernel) // stride
    if out < 1:
        raise DlibFormatError(f"a {kernel}-wide window does not fit an input of {size}")
    return out


def _conv(g: _Graph, x: _Value, con: Conv, affine: Affine | None) -> _Value:
    weight = con.weight.astype(np.float64)
    bias = np.zeros(con.filters) if con.bias is None else con.bias.astype(np.float64)
    if con.weight.shape[1] != x.c:
        raise DlibFormatError(f"a convolution takes {con.weight.shape[1]} channels, gets {x.c}")
    if affine is not None:  # y = γ·(W*x + b) + β, folded in float64 then rounded once
        if affine.mode != "conv" or affine.gamma.size != con.filters:
            raise DlibFormatError("an affine layer does not match the convolution before it")
        gamma, beta = affine.gamma.astype(np.float64), affine.beta.astype(np.float64)
        weight = weight * gamma[:, None, None, None]
        bias = bias * gamma + beta
    (kh, kw), (sh, sw), (ph, pw) = con.kernel, con.stride, con.padding
    rows, cols = _out_size(x.h, kh, sh, ph), _out_size(x.w, kw, sw, pw)
    if (x.h, x.w, rows, cols) == (1, 1, 1, 1):
        # On a 1x1 input only the tap over the pixel meets data, the others meet zero
        # padding: a 1x1 convolution with that tap is the same sum with 1/9 the weights.
        weight = weight[:, :, ph : ph + 1, pw : pw + 1]
        (kh, kw), (sh, sw), (ph, pw) = (1, 1), (1, 1), (0, 0)
    name = g.op(
        "Conv",
        [
            x.name,
            g.const("conv_w", weight.astype(np.float32)),
            g.const("conv_b", bias.astype(np.float32)),
        ],
        kernel_shape=[kh, kw],
        strides=[sh, sw],
        pads=[ph, pw, ph, pw],
    )
    y = _Value(name, con.filters, rows, cols)
    return _same(y, g.op("Relu", [y.name])) if con.fused_relu else y


def _affine(g: _Graph, x: _Value, affine: Affine) -> _Value:
    if affine.disabled:
        return x
    shape = (1, x.c, 1, 1) if affine.mode == "conv" else (1, x.c, x.h, x.w)
    if affine.gamma.size != int(np.prod(shape)):
        raise DlibFormatError("an affine layer does not match its input's shape")
    y = g.op("Mul", [x.name, g.const("affine_gamma", affine.gamma.reshape(shape))])
    return _same(x, g.op("Add", [y, g.const("affine_beta", affine.beta.reshape(shape))]))


def _pool(g: _Graph, x: _Value, pool: MaxPool | AvgPool) -> _Value:
    maximum = isinstance(pool, MaxPool)
    if pool.kernel == (0, 0):  # dlib's *_pool_everything
        name = g.op("GlobalMaxPool" if maximum else "GlobalAveragePool", [x.name])
        return _Value(name, x.c, 1, 1)
    (kh, kw), (sh, sw), (ph, pw) = pool.kernel, pool.stride, pool.padding
    # dlib takes the max/mean over the part of each window inside the input, which is
    # ONNX's MaxPool and AveragePool with count_include_pad=0 (the default).
    name = g.op(
        "MaxPool" if maximum else "AveragePool",
        [x.name],
        kernel_shape=[kh, kw],
        strides=[sh, sw],
        pads=[ph, pw, ph, pw],
    )
    return _Value(name, x.c, _out_size(x.h, kh, sh, ph), _out_size(x.w, kw, sw, pw))


def _padded_add(g: _Graph, a: _Value, b: _Value) -> _Value:
    """dlib's add_prev: the element-wise sum, the smaller operand zero-extended at the far ends."""
    c, h, w = max(a.c, b.c), max(a.h, b.h), max(a.w, b.w)

    def extend(v: _Value) -> str:
        if (v.c, v.h, v.w) == (c, h, w):
            return v.name
        pads = np.array([0, 0, 0, 0, 0, c - v.c, h - v.h, w - v.w], dtype=np.int64)
        return g.op("Pad", [v.name, g.const("pads", pads)], mode="constant")

    return _Value(g.op("Add", [extend(a), extend(b)]), c, h, w)


def _fc(g: _Graph, x: _Value, fc: FullyConnected) -> _Value:
    outputs, inputs = fc.weight.shape
    if inputs != x.c * x.h * x.w:
        raise DlibFormatError(f"the fc layer takes {inputs} values, gets {x.c * x.h * x.w}")
    flat = g.op("Flatten", [x.name], axis=1)
    operands = [flat, g.const("fc_w", fc.weight)]
    if fc.bias is not None:
        operands.append(g.const("fc_b", fc.bias))
    return _Value(g.op("Gemm", operands, transB=1), outputs, 1, 1)


def convert_dlib_resnet(
    dat_path: Path | None = None, input_type: InputType = "uint8"
) -> onnx.ModelProto:
    """Read a dlib ResNet ``.dat`` (default: the packaged one) and build its ONNX model.

    The model's metadata records the ``.dat`` file's digest (the model version
    the dlib backend reports), so a saved model can be traced to its weights.
    """
    path = dat_path or packaged_model_path(RESNET_FILE)
    model = build_onnx_model(read_dlib_network(path), input_type)
    helper.set_model_props(
        model, {"dlib_weights_file": path.name, "dlib_weights_version": file_digest(path)}
    )
    return model


def save_onnx_model(model: onnx.ModelProto, path: Path) -> Path:
    """Write the model to ``path`` (one self-contained file, ~22 MB); returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(model.SerializeToString())
    return path


def load_onnx_session(
    model: onnx.ModelProto | Path, threads: int = 1
) -> onnxruntime.InferenceSession:
    """An ONNX Runtime CPU session using ``threads`` threads for each inference."""
    import onnxruntime as ort  # noqa: PLC0415 - ONNX Runtime loads only when an ONNX backend is used

    if threads < 1:
        raise ValueError("threads must be at least 1")
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    source = str(model) if isinstance(model, Path) else model.SerializeToString()
    return ort.InferenceSession(source, options, providers=["CPUExecutionProvider"])


class OnnxResNetEmbedder:
    """dlib's ResNet weights run by ONNX Runtime: dlib's descriptors (within 1e-3), much faster.

    ``model_path`` is a dlib ``.dat`` (converted on load; default: the packaged
    weights) or a ``.onnx`` file saved by :func:`save_onnx_model`. The model
    version is the digest of that file; for a ``.dat`` this equals the dlib
    backend's version, since both compute the same descriptors.
    """

    def __init__(
        self, model_path: Path | None = None, threads: int = 1, version: str | None = None
    ) -> None:
        """``version``: the model version to report instead of the file's digest, for a
        derived file that keeps its source's template space (resnet_int8.py)."""
        weights = model_path or packaged_model_path(RESNET_FILE)
        if weights.suffix == ".onnx":
            self._session = load_onnx_session(weights, threads)
        else:
            self._session = load_onnx_session(convert_dlib_resnet(weights), threads)
        chip_input = self._session.get_inputs()[0]
        self._float_input = chip_input.type == "tensor(float)"
        self._input_name = chip_input.name
        self._output_name = self._session.get_outputs()[0].name
        self.model = ModelInfo(
            name="dlib_resnet_v1", version=version or file_digest(weights), dimension=128
        )

    def raw_descriptors(self, chips: list[NDArray[np.uint8]]) -> NDArray[np.float32]:
        """dlib's un-normalised descriptors of (150, 150, 3) uint8 RGB chips, as (N, 128) float32."""
        if not len(chips):
            return np.zeros((0, self.model.dimension), dtype=np.float32)
        batch = np.ascontiguousarray(np.stack(chips), dtype=np.uint8)
        if batch.ndim != 4 or batch.shape[3] != 3:
            raise ValueError(f"expected RGB chips of shape (rows, cols, 3), got {batch.shape[1:]}")
        if self._float_input:
            batch = batch.astype(np.float32)
        outputs = self._session.run([self._output_name], {self._input_name: batch})
        descriptors: NDArray[np.float32] = outputs[0]
        return descriptors

    def embed(self, chips: list[NDArray[np.uint8]]) -> NDArray[np.float32]:
        """L2-normalised descriptors (the templates compared by cosine similarity)."""
        return l2_normalise(self.raw_descriptors(chips))
