"""dlib's ResNet quantised to 8 bits: the same descriptors within cosine 0.999, 4x cheaper.

Why: embedding is most of the default engine's cost (6 views per face), and
every enrolment, footage sighting and search pays it. ONNX Runtime's static
quantisation (per-channel int8 weights, uint8 activations with ranges
measured once on real face chips, QOperator form so convolutions run as
integer kernels; the final 128-d projection stays in float) cuts a chip from
6.7 to 2.9 ms on one core of an AVX2 machine (bench/quantise_resnet.py), while
the descriptors stay within cosine 0.999 of the float model's.

Templates stay in the float model's space: the quantised model records the
digest of the float weights it was made from and reports that as its model
version, so its templates are searched against galleries enrolled with the
float backends (``onnx``, ``dlib``) and the reverse. The engine description
(``onnx8``) still tells the two recipes apart in the record.

The quantised file ships in the package (``faces/models/``, ~5 MB, derived
from CC0 weights); ``bench/quantise_resnet.py`` re-creates it and says how.
Activation ranges are aggregates of the calibration chips (minima and maxima
per layer); no face image or template is in the file.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from retroface.errors import ModelError
from retroface.faces.dlib_resnet_onnx import (
    OnnxResNetEmbedder,
    convert_dlib_resnet,
    save_onnx_model,
)
from retroface.faces.model_files import RESNET_FILE, file_digest, packaged_model_path

#: The quantised model shipped with retroface.
INT8_FILE = Path(__file__).resolve().parent / "models" / "dlib_resnet_v1_int8.onnx"
#: Metadata keys written into the quantised model.
WEIGHTS_VERSION_KEY = "dlib_weights_version"
RECIPE_KEY = "quantisation"
CALIBRATION_KEY = "calibration"
#: The recipe, recorded in the file and in the model card.
RECIPE = (
    "onnxruntime static QOperator, per-channel int8 weights, uint8 activations, MinMax; "
    "the final fully connected layer kept in float"
)


def quantise_dlib_resnet(
    calibration_chips: NDArray[np.uint8],
    out: Path,
    calibration_source: str,
    *,
    keep_float: tuple[str, ...] = (),
    ranges_cache: Path | None = None,
) -> Path:
    """Quantise the packaged float ResNet with activation ranges from ``calibration_chips``
    ((N, 150, 150, 3) uint8 RGB chips aligned as the engine aligns them) into ``out``.

    ``keep_float``: further nodes (by name, e.g. ``n008_conv``) left in float, for the
    per-layer error analysis of bench/quantise_resnet.py; ``ranges_cache``: a file where
    the measured activation ranges are kept and reused, so such variants calibrate once.
    """
    import onnx  # noqa: PLC0415 - quantising is a build step, not a run-time one
    from onnxruntime.quantization import (  # noqa: PLC0415 - as above
        CalibrationDataReader,
        CalibrationMethod,
        QuantFormat,
        QuantType,
        quantize_static,
    )
    from onnxruntime.quantization.shape_inference import quant_pre_process  # noqa: PLC0415 - as above

    if calibration_chips.ndim != 4 or calibration_chips.shape[1:] != (150, 150, 3):
        raise ValueError(f"expected (N, 150, 150, 3) chips, got {calibration_chips.shape}")
    weights = packaged_model_path(RESNET_FILE)
    batches = [
        calibration_chips[i : i + 8].astype(np.float32) for i in range(0, len(calibration_chips), 8)
    ]

    class Chips(CalibrationDataReader):  # type: ignore[misc]
        def __init__(self, input_name: str) -> None:
            self._feeds = iter([{input_name: batch} for batch in batches])

        def get_next(self) -> dict[str, NDArray[np.float32]] | None:
            return next(self._feeds, None)

    with tempfile.TemporaryDirectory() as tmp:
        float_model = convert_dlib_resnet(weights, input_type="float32")
        plain = save_onnx_model(float_model, Path(tmp) / "float.onnx")
        prepared = Path(tmp) / "prepared.onnx"
        quant_pre_process(str(plain), str(prepared), skip_symbolic_shape=True)
        quantised = Path(tmp) / "int8.onnx"
        # The 128-d projection is tiny next to the convolutions, and in float it keeps the
        # descriptors measurably closer to the float model's (mean cosine 0.99973 vs 0.99961).
        last_layer = [n.name for n in float_model.graph.node if n.op_type == "Gemm"]
        quantize_static(
            str(prepared),
            str(quantised),
            Chips(float_model.graph.input[0].name),
            quant_format=QuantFormat.QOperator,
            per_channel=True,
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
            calibrate_method=CalibrationMethod.MinMax,
            nodes_to_exclude=[*last_layer, *keep_float],
            calibration_cache_path=None if ranges_cache is None else str(ranges_cache),
        )
        model = onnx.load(str(quantised))
    onnx.helper.set_model_props(
        model,
        {
            WEIGHTS_VERSION_KEY: file_digest(weights),
            "dlib_weights_file": weights.name,
            RECIPE_KEY: RECIPE,
            CALIBRATION_KEY: calibration_source,
        },
    )
    return save_onnx_model(model, out)


def int8_embedder(path: Path = INT8_FILE) -> OnnxResNetEmbedder:
    """The quantised ResNet, reporting the float weights' version (same template space).

    Refused if it was made from other weights than the installed ones: its templates
    would then be labelled with a version they do not belong to."""
    import onnx  # noqa: PLC0415 - ONNX loads only when an ONNX backend is used

    if not path.is_file():
        raise ModelError(f"the quantised model {path.name} is missing; reinstall retroface")
    props = {p.key: p.value for p in onnx.load(str(path), load_external_data=False).metadata_props}
    installed = file_digest(packaged_model_path(RESNET_FILE))
    if props.get(WEIGHTS_VERSION_KEY) != installed:
        raise ModelError(
            f"{path.name} was quantised from ResNet weights {props.get(WEIGHTS_VERSION_KEY)}, "
            f"but {installed} are installed: re-create it (bench/quantise_resnet.py) or use "
            "the float embedder (onnx)"
        )
    return OnnxResNetEmbedder(path, version=installed)
