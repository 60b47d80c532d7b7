"""Read dlib's face-recognition ResNet (``.dat``) into typed layers, without dlib.

Why: the dlib-bin wheel runs this network ~8x slower than ONNX Runtime on one
core (it is built without BLAS). To run the same weights elsewhere we need
them out of dlib's file, and we want to do that with plain Python and NumPy so
that conversion does not depend on dlib's build, and so that a damaged or
unexpected file fails loudly here instead of producing wrong descriptors.

This is an independent reader written from the format, not a port of dlib's
code. What the file holds:

* **Integers** (every C++ integral type except ``char``): a control byte whose
  low nibble is the number of value bytes (1..8, never 0) and whose bit 7 marks
  a negative number, then the magnitude little-endian. Zero is ``01 00``.
* **Floats and doubles**: two such integers, a signed 64-bit mantissa then a
  16-bit exponent, value = mantissa · 2**exponent (exponents 32000/32001/32002
  stand for +inf/-inf/NaN). A ``float`` written this way round-trips exactly.
* **bool**: one ASCII byte, ``'0'`` or ``'1'``. **Strings**: an integer length,
  then the bytes. Each layer's parameters start with such a string naming the
  layer type and its format revision (``con_4``, ``affine_``, ``fc_2``...).
* **Tensors**: integer version 2, four integer dimensions (samples, k, rows,
  columns), then the values as raw little-endian IEEE float32. **Alias tensors**
  (views into a layer's single parameter tensor): version 1 and four
  dimensions, no data; a layer's views follow each other in its parameter
  tensor (filters then biases, gamma then beta, weights then biases).
* **The network** is a nest of C++ templates and is written from the outside
  in: the loss layer's version and parameters, then for every layer below it
  just the wrapper's version number (2 for a computing layer, 1 for a tag or
  skip layer, 3 for the computing layer that sits on the input layer); then the
  input layer, then each computing layer's parameters from the input upwards,
  each followed by its training state (three bools and two or three tensors,
  normally empty). Tag and skip wrappers write nothing but their version, so
  which one a wrapper is, and which tag an ``add_prev`` adds, is not in the file:
  it is fixed by the C++ type the file was written from. We therefore check the
  file against that type (dlib's ``anet_type`` of ``face_recognition.cpp``) and
  take the wiring from it.

Layers come back in forward order with NumPy weights: convolution weights as
OIHW (dlib's own filter layout), fully connected weights as (outputs, inputs).
"""

from __future__ import annotations

import builtins
import math
from collections.abc import Iterator
from dataclasses import dataclass, fields
from pathlib import Path
from typing import ClassVar

import numpy as np
from numpy.typing import NDArray

from retroface.errors import ModelError


class DlibFormatError(ModelError):
    """The file is not the dlib network this reader expects, or it is damaged (e.g. truncated)."""


# --------------------------------------------------------------------------------------
# Typed layers


class _Layer:
    """Common view of a layer: its ``kind`` and its scalar settings (for summaries and tests)."""

    kind: ClassVar[str]

    @property
    def params(self) -> dict[str, object]:
        """The layer's settings that are not weight arrays, by field name."""
        return {
            f.name: getattr(self, f.name)
            for f in fields(self)  # type: ignore[arg-type]
            if not isinstance(getattr(self, f.name), np.ndarray)
        }

    @property
    def weights(self) -> dict[str, NDArray[np.float32]]:
        """The layer's weight arrays, by field name."""
        return {
            f.name: value
            for f in fields(self)  # type: ignore[arg-type]
            if isinstance(value := getattr(self, f.name), np.ndarray)
        }


@dataclass(frozen=True, eq=False)
class InputRGB(_Layer):
    """dlib's ``input_rgb_image[_sized]``: x = (pixel − mean of its channel) / 256, planes R, G, B."""

    kind: ClassVar[str] = "input"
    mean_rgb: tuple[float, float, float]
    rows: int  # 0 where the input layer does not fix the size
    cols: int
    scale: float = 256.0  # dlib divides by 256 (not 255) after subtracting the mean


@dataclass(frozen=True, eq=False)
class Conv(_Layer):
    """A 2-D convolution; ``weight`` is OIHW, padding is symmetric (top = bottom, left = right)."""

    kind: ClassVar[str] = "con"
    weight: NDArray[np.float32]
    bias: NDArray[np.float32] | None
    stride: tuple[int, int]
    padding: tuple[int, int]
    fused_relu: bool = False  # dlib's con_6 can apply a ReLU itself

    @property
    def filters(self) -> int:
        return int(self.weight.shape[0])

    @property
    def kernel(self) -> tuple[int, int]:
        return int(self.weight.shape[2]), int(self.weight.shape[3])


@dataclass(frozen=True, eq=False)
class Affine(_Layer):
    """A frozen batch norm: y = gamma·x + beta, per channel (``conv`` mode) or per element (``fc``)."""

    kind: ClassVar[str] = "affine"
    gamma: NDArray[np.float32]
    beta: NDArray[np.float32]
    mode: str  # "conv" | "fc"
    disabled: bool = False  # a disabled dlib affine layer passes its input through


@dataclass(frozen=True, eq=False)
class Relu(_Layer):
    kind: ClassVar[str] = "relu"
    disabled: bool = False


@dataclass(frozen=True, eq=False)
class MaxPool(_Layer):
    """Max pooling; a (0, 0) kernel means the whole input (``max_pool_everything``)."""

    kind: ClassVar[str] = "max_pool"
    kernel: tuple[int, int]
    stride: tuple[int, int]
    padding: tuple[int, int]


@dataclass(frozen=True, eq=False)
class AvgPool(_Layer):
    """Average pooling over the window's pixels inside the input (padding is not counted);
    a (0, 0) kernel means the whole input (``avg_pool_everything``)."""

    kind: ClassVar[str] = "avg_pool"
    kernel: tuple[int, int]
    stride: tuple[int, int]
    padding: tuple[int, int]


@dataclass(frozen=True, eq=False)
class Tag(_Layer):
    """Names the current output ``tag<id>`` for a later ``skip``/``add_prev``; computes nothing."""

    kind: ClassVar[str] = "tag"
    id: int


@dataclass(frozen=True, eq=False)
class Skip(_Layer):
    """Replaces the current output by the output last tagged ``id``."""

    kind: ClassVar[str] = "skip"
    id: int


@dataclass(frozen=True, eq=False)
class AddPrev(_Layer):
    """Adds the output tagged ``tag``; dlib zero-extends the smaller operand (top-left aligned)."""

    kind: ClassVar[str] = "add_prev"
    tag: int


@dataclass(frozen=True, eq=False)
class FullyConnected(_Layer):
    """y = W·flatten(x) (+ b); ``weight`` is (outputs, inputs)."""

    kind: ClassVar[str] = "fc"
    weight: NDArray[np.float32]
    bias: NDArray[np.float32] | None


@dataclass(frozen=True, eq=False)
class LossMetric(_Layer):
    """dlib's metric-learning loss; at inference the descriptor is the layer below, as is."""

    kind: ClassVar[str] = "loss_metric"
    margin: float
    distance_threshold: float


@dataclass(frozen=True, eq=False)
class InputRGBPyramid(_Layer):
    """dlib's ``input_rgb_image_pyramid``: the image and its downscaled copies tiled in one plane.

    Pixels are normalised as in :class:`InputRGB`; the copies are separated by
    ``padding`` zero pixels and the whole plane is framed by ``outer_padding``.
    """

    kind: ClassVar[str] = "input_pyramid"
    mean_rgb: tuple[float, float, float]
    padding: int = 10
    outer_padding: int = 11
    scale: float = 256.0


@dataclass(frozen=True, eq=False)
class LossMmod(_Layer):
    """dlib's max-margin object detection loss: how the score map below it becomes boxes.

    A score above 0 at an output position is a detection of a ``window`` (width,
    height) box centred on the input point that position maps to; boxes overlapping
    a higher-scoring one by more than the ``nms_*`` thresholds are dropped.
    """

    kind: ClassVar[str] = "loss_mmod"
    windows: tuple[tuple[int, int], ...]
    nms_iou: float
    nms_covered: float
    bounding_box_regression: bool = False


DlibLayer = (
    InputRGB
    | InputRGBPyramid
    | Conv
    | Affine
    | Relu
    | MaxPool
    | AvgPool
    | Tag
    | Skip
    | AddPrev
    | FullyConnected
    | LossMetric
    | LossMmod
)


# --------------------------------------------------------------------------------------
# Primitive decoding


# A tensor's (samples, k, rows, cols). Named out here: inside _Cursor, ``int`` is its method.
_Shape4 = tuple[int, int, int, int]


class _Cursor:
    """Decodes dlib's primitives from a byte buffer, failing with the byte offset."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def fail(self, what: str) -> DlibFormatError:
        return DlibFormatError(f"{what} (at byte {self.pos} of {len(self.data)})")

    def _take(self, count: int, what: str) -> bytes:
        if self.pos + count > len(self.data):
            raise self.fail(f"the file ends inside {what}; it is truncated")
        chunk = self.data[self.pos : self.pos + count]
        self.pos += count
        return chunk

    def int(self, what: str = "an integer") -> int:
        control = self._take(1, what)[0]
        size = control & 0x0F
        if size == 0 or size > 8 or control & 0x70:
            self.pos -= 1
            raise self.fail(f"invalid integer encoding 0x{control:02x} where {what} should be")
        value = int.from_bytes(self._take(size, what), "little")
        return -value if control & 0x80 else value

    def float(self, what: str = "a number") -> float:
        mantissa = self.int(what)
        exponent = self.int(what)
        special = {32000: math.inf, 32001: -math.inf, 32002: math.nan}
        if exponent in special:
            return special[exponent]
        return math.ldexp(mantissa, exponent)

    def bool(self, what: str = "a flag") -> bool:
        byte = self._take(1, what)
        if byte not in (b"0", b"1"):
            self.pos -= 1
            raise self.fail(f"invalid bool byte {byte!r} where {what} should be")
        return byte == b"1"

    def string(self, what: str = "a layer name", limit: builtins.int = 256) -> str:
        length = self.int(what)
        if not 0 <= length <= limit:
            raise self.fail(f"implausible string length {length} for {what}")
        raw = self._take(length, what)
        try:
            return raw.decode("ascii")
        except UnicodeDecodeError:
            raise self.fail(f"{what} is not text") from None

    def peek_string(self) -> str | None:
        """The string starting here, if one plausibly does; the position does not move."""
        start = self.pos
        try:
            text = self.string()
        except DlibFormatError:
            return None
        finally:
            self.pos = start
        return text

    def dims(self, what: str) -> _Shape4:
        n, k, rows, cols = (self.int(what) for _ in range(4))
        if min(n, k, rows, cols) < 0:
            raise self.fail(f"negative dimension in {what}")
        return n, k, rows, cols

    def tensor(self, what: str) -> NDArray[np.float32]:
        """A resizable tensor with its data, as a float32 array of shape (n, k, rows, cols)."""
        version = self.int(what)
        if version != 2:
            raise self.fail(f"unsupported tensor format {version} in {what}")
        shape = self.dims(what)
        count = math.prod(shape)
        raw = self._take(4 * count, what)
        return np.frombuffer(raw, dtype="<f4").astype(np.float32).reshape(shape)

    def alias(self, what: str) -> _Shape4:
        """An alias tensor: only its shape (it views part of the layer's parameter tensor)."""
        version = self.int(what)
        if version != 1:
            raise self.fail(f"unsupported alias-tensor format {version} in {what}")
        return self.dims(what)


# --------------------------------------------------------------------------------------
# Layer parameters ("details") and the per-layer training state


@dataclass(frozen=True)
class TagOrSkip:
    """A tag or skip wrapper as parsed: only its version is in the file, the architecture says which."""

    kind: ClassVar[str] = "tag_or_skip"


def _split(
    params: NDArray[np.float32], shapes: list[tuple[int, ...]], c: _Cursor, what: str
) -> Iterator[NDArray[np.float32]]:
    """The consecutive views of a layer's parameter tensor, checked to fill it exactly."""
    flat = params.reshape(-1)
    need = sum(math.prod(shape) for shape in shapes)
    if need != flat.size:
        raise c.fail(f"{what} holds {flat.size} parameters but its views need {need}")
    offset = 0
    for shape in shapes:
        size = math.prod(shape)
        yield flat[offset : offset + size].reshape(shape)
        offset += size


def _read_conv(c: _Cursor, version: str) -> Conv:
    params = c.tensor("convolution parameters")
    filters = c.int("filter count")
    rows, cols, stride_y, stride_x, pad_y, pad_x = (c.int("convolution geometry") for _ in range(6))
    filter_shape = c.alias("filter shape")
    bias_shape = c.alias("bias shape")
    for _ in range(4):  # learning-rate and weight-decay multipliers (training only)
        c.float("a training multiplier")
    use_bias = c.bool("use_bias") if version in ("con_5", "con_6") else True
    use_relu = c.bool("use_relu") if version == "con_6" else False
    if filter_shape[0] != filters or filter_shape[2:] != (rows, cols):
        raise c.fail(
            f"filter shape {filter_shape} disagrees with {filters} filters of {rows}x{cols}"
        )
    if min(stride_y, stride_x) < 1 or min(pad_y, pad_x) < 0:
        raise c.fail("invalid convolution stride or padding")
    has_bias = use_bias and math.prod(bias_shape) > 0
    shapes: list[tuple[int, ...]] = [filter_shape] + ([(filters,)] if has_bias else [])
    if has_bias and math.prod(bias_shape) != filters:
        raise c.fail(f"bias shape {bias_shape} does not match {filters} filters")
    parts = list(_split(params, shapes, c, "a convolution"))
    return Conv(
        weight=parts[0],
        bias=parts[1] if has_bias else None,
        stride=(stride_y, stride_x),
        padding=(pad_y, pad_x),
        fused_relu=use_relu,
    )


def _read_affine(c: _Cursor, version: str) -> Affine:
    params = c.tensor("affine parameters")
    gamma_shape = c.alias("gamma shape")
    beta_shape = c.alias("beta shape")
    mode = c.int("affine mode")
    disabled = c.bool("disabled") if version == "affine_2" else False
    if mode not in (0, 1):
        raise c.fail(f"unknown affine mode {mode}")
    if disabled:
        return Affine(np.ones(0, np.float32), np.zeros(0, np.float32), "conv", disabled=True)
    if gamma_shape != beta_shape:
        raise c.fail("affine gamma and beta shapes differ")
    gamma, beta = _split(params, [gamma_shape, beta_shape], c, "an affine layer")
    return Affine(gamma.reshape(-1), beta.reshape(-1), "conv" if mode == 0 else "fc")


def _read_batch_norm(c: _Cursor, version: str) -> Affine:
    """A trained batch norm (``bn_con2``/``bn_fc2``), frozen to the affine layer dlib makes of it.

    dlib loads such a layer into an ``affine_`` with γ' = γ / sqrt(running
    variance + eps) and β' = β − γ'·running mean, computed in float32 as here.
    """
    params = c.tensor("batch-norm parameters")
    gamma_shape = c.alias("gamma shape")
    beta_shape = c.alias("beta shape")
    for what in ("batch means", "batch inverse deviations"):
        c.tensor(what)
    means = c.tensor("running means").reshape(-1)
    variances = c.tensor("running variances").reshape(-1)
    c.int("update count")
    c.int("running statistics window")
    for _ in range(4):
        c.float("a training multiplier")
    eps = c.float("epsilon")
    if gamma_shape != beta_shape or means.size != variances.size:
        raise c.fail("batch-norm gamma, beta and statistics shapes differ")
    gamma, beta = _split(params, [gamma_shape, beta_shape], c, "a batch-norm layer")
    if means.size != gamma.size:
        raise c.fail("batch-norm statistics do not match its parameters")
    scale = gamma.reshape(-1) / np.sqrt(variances + np.float32(eps))
    shift = beta.reshape(-1) - scale * means
    mode = "conv" if version == "bn_con2" else "fc"
    return Affine(scale.astype(np.float32), shift.astype(np.float32), mode)


def _read_pool(c: _Cursor, cls: type[MaxPool] | type[AvgPool]) -> MaxPool | AvgPool:
    rows, cols, stride_y, stride_x, pad_y, pad_x = (c.int("pooling geometry") for _ in range(6))
    if min(rows, cols, pad_y, pad_x) < 0 or min(stride_y, stride_x) < 1:
        raise c.fail("invalid pooling geometry")
    return cls(kernel=(rows, cols), stride=(stride_y, stride_x), padding=(pad_y, pad_x))


def _read_fc(c: _Cursor, version: str) -> FullyConnected:
    outputs = c.int("fc outputs")
    inputs = c.int("fc inputs")
    params = c.tensor("fc parameters")
    weight_shape = c.alias("fc weight shape")
    bias_shape = c.alias("fc bias shape")
    bias_mode = c.int("fc bias mode")
    for _ in range(4):
        c.float("a training multiplier")
    use_bias = c.bool("use_bias") if version == "fc_3" else True
    if bias_mode not in (0, 1):
        raise c.fail(f"unknown fc bias mode {bias_mode}")
    if math.prod(weight_shape) != inputs * outputs:
        raise c.fail(f"fc weight shape {weight_shape} is not {inputs}x{outputs}")
    has_bias = bias_mode == 0 and use_bias and math.prod(bias_shape) > 0
    shapes: list[tuple[int, ...]] = [(inputs, outputs)] + ([(outputs,)] if has_bias else [])
    parts = list(_split(params, shapes, c, "a fully connected layer"))
    return FullyConnected(
        weight=np.ascontiguousarray(parts[0].T),  # dlib computes x·W with W (inputs, outputs)
        bias=parts[1] if has_bias else None,
    )


def _read_details(c: _Cursor) -> DlibLayer:
    """One computing layer's parameters, from its type string on."""
    at = c.pos
    version = c.string()
    if version in ("con_4", "con_5", "con_6"):
        return _read_conv(c, version)
    if version in ("affine_", "affine_2"):
        return _read_affine(c, version)
    if version in ("bn_con2", "bn_fc2"):
        return _read_batch_norm(c, version)
    if version in ("relu_", "relu_2"):
        return Relu(disabled=c.bool("disabled") if version == "relu_2" else False)
    if version == "max_pool_2":
        return _read_pool(c, MaxPool)
    if version == "avg_pool_2":
        return _read_pool(c, AvgPool)
    if version == "add_prev_":
        return AddPrev(tag=0)  # which tag is not stored; resolved against the architecture
    if version in ("fc_2", "fc_3"):
        return _read_fc(c, version)
    c.pos = at
    raise c.fail(f"unsupported dlib layer type {version!r}")


def _read_input(c: _Cursor) -> InputRGB | InputRGBPyramid:
    version = c.string("the input layer type")
    pyramids = ("input_rgb_image_pyramid", "input_rgb_image_pyramid2")
    if version not in ("input_rgb_image", "input_rgb_image_sized", *pyramids):
        raise c.fail(f"unsupported input layer {version!r} (expected an RGB image input)")
    mean = (c.float("mean red"), c.float("mean green"), c.float("mean blue"))
    if version in pyramids:
        if version == "input_rgb_image_pyramid":  # the first revision had fixed paddings
            return InputRGBPyramid(mean_rgb=mean)
        padding, outer = c.int("pyramid padding"), c.int("pyramid outer padding")
        return InputRGBPyramid(mean_rgb=mean, padding=padding, outer_padding=outer)
    rows = cols = 0
    if version == "input_rgb_image_sized":
        rows, cols = c.int("input rows"), c.int("input columns")
    return InputRGB(mean_rgb=mean, rows=rows, cols=cols)


def _read_training_state(c: _Cursor, version: int, on_input: bool) -> None:
    """Skip what a computing-layer wrapper stores after its parameters (not needed to infer)."""
    for _ in range(3):  # setup done, gradient stale, gradient disabled
        c.bool("a layer flag")
    c.tensor("x_grad")
    c.tensor("cached output")
    if version >= 2:
        c.tensor("parameter gradients")
    if on_input and version >= 3:
        c.int("sample expansion factor")


def _read_mmod_options(c: _Cursor) -> LossMmod:
    """``mmod_options`` (format revisions 1 to 4); training-only settings are skipped."""
    version = c.int("the mmod options version")
    if not 1 <= version <= 4:
        raise c.fail(f"unsupported mmod options version {version}")
    if version == 1:
        windows = [(c.int("window width"), c.int("window height"))]
    else:
        windows = []
        for _ in range(c.int("detector window count")):
            window_version = c.int("detector window version")
            if window_version not in (1, 2):
                raise c.fail(f"unsupported detector window version {window_version}")
            windows.append((c.int("window width"), c.int("window height")))
            if window_version == 2:
                c.string("window label")
    for what in ("loss per false alarm", "loss per missed target", "truth match IoU"):
        c.float(what)
    nms_iou, nms_covered = c.float("NMS IoU"), c.float("NMS covered fraction")
    c.float("ignore IoU")
    c.float("ignore covered fraction")
    regression = False
    if version >= 3:
        c.int("image pyramid flag")
    if version >= 4:
        regression = c.bool("bounding box regression")
        c.float("bounding box regression lambda")
    if not windows or min(min(w) for w in windows) < 1:
        raise c.fail("the detector has no usable detection window")
    return LossMmod(tuple(windows), nms_iou, nms_covered, regression)


def _read_loss(c: _Cursor) -> LossMetric | LossMmod:
    version = c.int("the loss layer version")
    if version != 1:
        raise c.fail(f"this is not a dlib network file (starts with {version}, expected 1)")
    name = c.peek_string()
    if name is None:
        raise c.fail("this is not a dlib network file (no loss layer name)")
    c.string()
    if name == "loss_metric_2":
        return LossMetric(margin=c.float("margin"), distance_threshold=c.float("threshold"))
    if name == "loss_metric_":  # the first revision had these values built in
        return LossMetric(margin=0.1, distance_threshold=0.75)
    if name == "loss_mmod_":
        return _read_mmod_options(c)
    raise c.fail(f"unsupported dlib loss layer {name!r}")


def parse_dlib_layers(data: bytes) -> list[DlibLayer | TagOrSkip]:
    """Every layer of a dlib network in forward order, wrappers unresolved.

    Reads metric-learning networks (the face ResNet) and MMOD detectors; the
    loss layer comes last. Structure only: whether the network is the one we
    expect is checked by :func:`read_dlib_network` (and, for the face detector,
    by :mod:`retroface.faces.mmod_onnx`).
    """
    c = _Cursor(data)
    loss = _read_loss(c)
    versions: list[int] = []  # outermost first
    while True:
        name = c.peek_string()
        if name is not None and name.startswith("input"):
            break
        version = c.int("a layer version")
        if version not in (1, 2, 3) or len(versions) > 100_000:
            raise c.fail(f"unexpected layer version {version} in the network's nesting")
        versions.append(version)
    if not versions or versions[-1] == 1:
        raise c.fail("the input layer has no computing layer on it")
    forward: list[DlibLayer | TagOrSkip] = [_read_input(c)]
    for depth, version in enumerate(reversed(versions)):
        if version == 1:
            forward.append(TagOrSkip())
            continue
        forward.append(_read_details(c))
        _read_training_state(c, version, on_input=depth == 0)
    if c.pos != len(data):
        raise c.fail(f"{len(data) - c.pos} unexpected bytes after the network")
    return [*forward, loss]


# --------------------------------------------------------------------------------------
# The architecture the file must match: dlib's face_recognition.cpp ``anet_type``


@dataclass(frozen=True)
class _Expect:
    kind: str
    filters: int = 0  # con: output channels; fc: outputs
    kernel: tuple[int, int] = (0, 0)
    stride: tuple[int, int] = (1, 1)
    ident: int = 0  # tag / skip / add_prev: which tag

    @property
    def padding(self) -> tuple[int, int]:
        """dlib's default padding: none for strided layers, else half the kernel."""
        return (
            0 if self.stride[0] != 1 else self.kernel[0] // 2,
            0 if self.stride[1] != 1 else self.kernel[1] // 2,
        )


def _face_resnet_v1() -> list[_Expect]:
    """dlib_face_recognition_resnet_model_v1 in forward order (see the module docstring)."""

    def con(n: int, k: int, s: int) -> _Expect:
        return _Expect("con", filters=n, kernel=(k, k), stride=(s, s))

    def block(n: int, s: int) -> list[_Expect]:  # BN<con<3x3>> relu BN<con<3x3, stride s>>
        return [con(n, 3, s), _Expect("affine"), _Expect("relu"), con(n, 3, 1), _Expect("affine")]

    def ares(n: int) -> list[_Expect]:  # relu<add_prev1<block<tag1<x>>>>
        return [
            _Expect("tag", ident=1),
            *block(n, 1),
            _Expect("add_prev", ident=1),
            _Expect("relu"),
        ]

    def ares_down(n: int) -> list[_Expect]:  # relu<add_prev2<avg_pool<skip1<tag2<block<tag1>>>>>>
        return [
            _Expect("tag", ident=1),
            *block(n, 2),
            _Expect("tag", ident=2),
            _Expect("skip", ident=1),
            _Expect("avg_pool", kernel=(2, 2), stride=(2, 2)),
            _Expect("add_prev", ident=2),
            _Expect("relu"),
        ]

    plan = [
        _Expect("input"),
        con(32, 7, 2),
        _Expect("affine"),
        _Expect("relu"),
        _Expect("max_pool", kernel=(3, 3), stride=(2, 2)),
    ]
    for level in ([32] * 3, [-64] + [64] * 3, [-128] + [128] * 2, [-256] + [256] * 2, [-256]):
        for n in level:  # a negative width marks the down-sampling block that opens a level
            plan += ares_down(-n) if n < 0 else ares(n)
    plan += [
        _Expect("avg_pool", kernel=(0, 0), stride=(1, 1)),
        _Expect("fc", filters=128),
        _Expect("loss_metric"),
    ]
    return plan


FACE_RESNET_INPUT_SIZE = 150


def _resolve(parsed: list[DlibLayer | TagOrSkip], plan: list[_Expect]) -> list[DlibLayer]:
    """Check the parsed layers against the plan (kinds, geometry, channel counts); wire tags."""
    if len(parsed) != len(plan):
        raise DlibFormatError(
            f"the network has {len(parsed)} layers, the face ResNet has {len(plan)}"
        )
    out: list[DlibLayer] = []
    channels = 3
    tagged: dict[int, int] = {}
    for index, (layer, want) in enumerate(zip(parsed, plan, strict=True)):

        def bad(why: str, index: int = index, want: _Expect = want) -> DlibFormatError:
            return DlibFormatError(f"layer {index} (expected {want.kind}): {why}")

        if want.kind in ("tag", "skip"):
            if not isinstance(layer, TagOrSkip):
                raise bad(f"found {layer.kind}")
            if want.kind == "tag":
                tagged[want.ident] = channels
                out.append(Tag(want.ident))
            else:
                channels = tagged[want.ident]
                out.append(Skip(want.ident))
            continue
        if layer.kind != want.kind:
            raise bad(f"found {layer.kind}")
        if isinstance(layer, InputRGB):
            if (layer.rows, layer.cols) != (FACE_RESNET_INPUT_SIZE,) * 2:
                raise bad(f"input is {layer.rows}x{layer.cols}, not 150x150")
        elif isinstance(layer, Conv):
            if (layer.filters, layer.kernel, layer.stride) != (
                want.filters,
                want.kernel,
                want.stride,
            ):
                raise bad(f"convolution {layer.filters}@{layer.kernel}/{layer.stride} differs")
            if layer.padding != want.padding or layer.fused_relu:
                raise bad("convolution padding or fused ReLU differs")
            if layer.weight.shape[1] != channels:
                raise bad(f"takes {layer.weight.shape[1]} channels, gets {channels}")
            channels = layer.filters
        elif isinstance(layer, Affine):
            if layer.disabled or layer.mode != "conv" or layer.gamma.size != channels:
                raise bad("not a per-channel affine layer of the right width")
        elif isinstance(layer, Relu):
            if layer.disabled:
                raise bad("the ReLU is disabled")
        elif isinstance(layer, MaxPool | AvgPool):
            geometry = (layer.kernel, layer.stride, layer.padding)
            if geometry != (want.kernel, want.stride, want.padding):
                raise bad(f"pooling geometry {geometry} differs")
        elif isinstance(layer, AddPrev):
            if tagged.get(want.ident) is None:
                raise bad("adds a tag that was never set")
            channels = max(channels, tagged[want.ident])
            out.append(AddPrev(want.ident))
            continue
        elif isinstance(layer, FullyConnected) and (
            layer.weight.shape != (want.filters, channels) or layer.bias is not None
        ):
            raise bad(
                f"fc weight {layer.weight.shape} is not ({want.filters}, {channels}), no bias"
            )
        out.append(layer)  # type: ignore[arg-type]
    return out


def read_dlib_network(path: Path) -> list[DlibLayer]:
    """The layers of dlib's face-recognition ResNet v1 in forward order, the loss layer last.

    Raises :class:`DlibFormatError` when the file cannot be read, is damaged or
    truncated, or holds any other network.
    """
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise DlibFormatError(f"{path}: cannot read the model ({exc.strerror})") from exc
    try:
        parsed = parse_dlib_layers(data)
        if not isinstance(parsed[-1], LossMetric):
            raise DlibFormatError(
                f"the file holds a dlib network with {parsed[-1].kind}, not the face ResNet"
            )
        return _resolve(parsed, _face_resnet_v1())
    except DlibFormatError as exc:
        raise DlibFormatError(f"{path}: {exc}") from None


def summarise(layers: list[DlibLayer]) -> list[str]:
    """One line per layer, e.g. ``con 32x3x7x7 stride (2, 2) pad (0, 0)`` (for logs and reports)."""
    lines = []
    for layer in layers:
        if isinstance(layer, Conv):
            shape = "x".join(map(str, layer.weight.shape))
            lines.append(f"con {shape} stride {layer.stride} pad {layer.padding}")
        elif isinstance(layer, MaxPool | AvgPool):
            size = (
                "everything" if layer.kernel == (0, 0) else f"{layer.kernel} stride {layer.stride}"
            )
            lines.append(f"{layer.kind} {size}")
        elif isinstance(layer, FullyConnected):
            bias = "" if layer.bias is not None else " no bias"
            lines.append(f"fc {layer.weight.shape[1]}->{layer.weight.shape[0]}{bias}")
        elif isinstance(layer, Tag | Skip):
            lines.append(f"{layer.kind}{layer.id}")
        elif isinstance(layer, AddPrev):
            lines.append(f"add_prev{layer.tag}")
        elif isinstance(layer, InputRGB):
            mean = ", ".join(f"{m:.4f}" for m in layer.mean_rgb)
            lines.append(f"input rgb {layer.rows}x{layer.cols} mean ({mean}) / {layer.scale:g}")
        else:
            lines.append(layer.kind)
    return lines
