"""Read the weights of a dlib DNN (``.dat``) without dlib, so another runtime can run them.

dlib's serialisation, as observed in the files it writes (our own reader,
written from the format, not from dlib's code):

* integers: one control byte (low nibble = number of value bytes, bit 7 =
  negative), then the magnitude little-endian;
* floats (scalars): an integer mantissa and an integer exponent (value =
  mantissa · 2^exponent);
* strings: an integer length, then the bytes;
* tensors: version 2, then num_samples, k, nr, nc, then raw little-endian
  float32 values;
* a network is serialised loss layer first, then the sub-network from the
  input layer upwards; each layer's details begin with a type string
  (``con_4``, ``affine_`` ...). Bookkeeping between layers (flags, empty
  gradient tensors, tag and skip wrappers) carries no weights.

The reader walks the file from one layer-type string to the next, parsing
the fields of the layers we know and skipping the weight blocks exactly, so
a weight byte can never be mistaken for a layer name.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from retroface.errors import ModelError


class DlibFormatError(ModelError):
    """The file is not a dlib network of a kind this reader understands, or is damaged."""


@dataclass
class DlibLayer:
    kind: str  # input | con | affine | relu | max_pool | avg_pool | add_prev | fc | loss_metric
    params: dict[str, object] = field(default_factory=dict)
    weights: dict[str, np.ndarray] = field(default_factory=dict)


_KNOWN = {
    b"loss_metric_2": "loss_metric",
    b"input_rgb_image_sized": "input",
    b"input_rgb_image": "input",
    b"con_4": "con",
    b"con_5": "con",
    b"affine_": "affine",
    b"relu_1": "relu",
    b"relu_": "relu",
    b"max_pool_2": "max_pool",
    b"avg_pool_2": "avg_pool",
    b"add_prev_": "add_prev",
    b"fc_2": "fc",
    b"fc_3": "fc",
}


#: Between two layers there are only flags, empty gradient tensors and wrapper versions
#: (weights are skipped exactly), so the next layer name is always close by.
_SEARCH_WINDOW = 1 << 16


class _Cursor:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def int(self) -> int:
        if self.pos >= len(self.data):
            raise DlibFormatError("the model file ends early (truncated?)")
        control = self.data[self.pos]
        size = control & 0x0F
        if size > 8:
            raise DlibFormatError(f"bad integer encoding at byte {self.pos}")
        start = self.pos + 1
        if start + size > len(self.data):
            raise DlibFormatError("the model file ends early (truncated?)")
        value = int.from_bytes(self.data[start : start + size], "little")
        self.pos = start + size
        return -value if control & 0x80 else value

    def float(self) -> float:
        mantissa = self.int()
        exponent = self.int()
        return float(mantissa) * 2.0**exponent

    def tensor(self) -> np.ndarray:
        version = self.int()
        if version != 2:
            raise DlibFormatError(f"unsupported tensor version {version} at byte {self.pos}")
        dims = [self.int() for _ in range(4)]
        count = int(np.prod(dims))
        end = self.pos + 4 * count
        if end > len(self.data):
            raise DlibFormatError("the model file ends inside a weight tensor (truncated?)")
        values = np.frombuffer(self.data, dtype="<f4", count=count, offset=self.pos)
        self.pos = end
        return values.reshape(dims).astype(np.float32)

    def next_layer_name(self) -> bytes | None:
        """Advance to the next known layer-type string; None at the end of the file."""
        best: tuple[int, bytes] | None = None
        for name in _KNOWN:
            token = bytes([0x01, len(name)]) + name
            at = self.data.find(token, self.pos, self.pos + _SEARCH_WINDOW)
            if at >= 0 and (
                best is None or at < best[0] or (at == best[0] and len(name) > len(best[1]))
            ):
                best = (at, name)
        if best is None:
            return None
        self.pos = best[0] + 2 + len(best[1])
        return best[1]


def read_dlib_network(path: Path) -> list[DlibLayer]:
    """Layers in forward order (input first); the loss layer, if any, comes last."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise DlibFormatError(f"{path}: cannot read the model ({exc.strerror})") from exc
    cursor = _Cursor(data)
    layers: list[DlibLayer] = []
    loss: DlibLayer | None = None
    while (name := cursor.next_layer_name()) is not None:
        kind = _KNOWN[name]
        layer = _parse_layer(kind, cursor)
        if kind == "loss_metric":
            loss = layer
        else:
            layers.append(layer)
    if not layers or layers[0].kind != "input":
        raise DlibFormatError(f"{path}: no dlib network input layer found")
    if not any(layer.kind in ("con", "fc") for layer in layers):
        raise DlibFormatError(f"{path}: no weight layers found")
    return [*layers, loss] if loss else layers


def _parse_layer(kind: str, c: _Cursor) -> DlibLayer:
    layer = DlibLayer(kind)
    if kind == "loss_metric":
        layer.params = {"margin": c.float(), "distance_threshold": c.float()}
    elif kind == "input":
        layer.params = {"mean_rgb": (c.float(), c.float(), c.float())}
        rows, cols = c.int(), c.int()
        layer.params |= {"rows": rows, "cols": cols}
    elif kind == "con":
        params = c.tensor().reshape(-1)
        filters, rows, cols = c.int(), c.int(), c.int()
        stride_y, stride_x, pad_y, pad_x = c.int(), c.int(), c.int(), c.int()
        c.int()  # filters alias tensor: version, then its four dimensions
        shape = [c.int() for _ in range(4)]
        if shape[0] != filters or shape[2:] != [rows, cols]:
            raise DlibFormatError("convolution filter shape disagrees with its header")
        weight_count = int(np.prod(shape))
        layer.weights["weight"] = params[:weight_count].reshape(shape)
        bias = params[weight_count:]
        layer.weights["bias"] = bias if len(bias) == filters else np.zeros(filters, np.float32)
        layer.params = {
            "filters": filters,
            "kernel": (rows, cols),
            "stride": (stride_y, stride_x),
            "padding": (pad_y, pad_x),
        }
    elif kind == "affine":
        params = c.tensor().reshape(-1)
        half = len(params) // 2
        layer.weights = {"gamma": params[:half], "beta": params[half:]}
    elif kind in ("max_pool", "avg_pool"):
        rows, cols, stride_y, stride_x, pad_y, pad_x = (c.int() for _ in range(6))
        layer.params = {
            "kernel": (rows, cols),
            "stride": (stride_y, stride_x),
            "padding": (pad_y, pad_x),
        }
    elif kind == "fc":
        outputs, inputs = c.int(), c.int()
        flat = c.tensor().reshape(-1)
        if len(flat) < inputs * outputs:
            raise DlibFormatError("fully connected weights are shorter than their header says")
        layer.params = {"outputs": outputs, "inputs": inputs}
        layer.weights["weight"] = flat[: inputs * outputs].reshape(inputs, outputs)
        rest = flat[inputs * outputs :]
        if len(rest) == outputs:
            layer.weights["bias"] = rest
    return layer
