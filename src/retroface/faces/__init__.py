"""Faces: detection, landmarks and alignment, quality, embeddings.

A small public API in the spirit of face_recognition's: build a
:class:`FaceEngine` once, then ``engine.analyse(pixels)`` returns every face
with its box, landmarks, quality and template. Knows nothing of storage or
governance.

The names below are imported from their modules on first use (PEP 562), so importing one
module of the package does not load the others (``retroface models`` reads the model cards without loading numpy).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from retroface.lazy_names import lazy_names

if TYPE_CHECKING:
    from retroface.faces.batch_runner import FileAnalysis, analyse_file, analyse_files, worker_pool
    from retroface.faces.engine import FaceEngine
    from retroface.faces.engine_spec import DETECTORS, EMBEDDERS, EngineSpec
    from retroface.faces.types import AnalysedFace, Box, Detection, Landmarks, ModelInfo, Quality

#: Where each name below lives; it is imported from there on first use.
_SOURCES = {
    "FileAnalysis": "retroface.faces.batch_runner",
    "analyse_file": "retroface.faces.batch_runner",
    "analyse_files": "retroface.faces.batch_runner",
    "worker_pool": "retroface.faces.batch_runner",
    "DETECTORS": "retroface.faces.engine_spec",
    "EMBEDDERS": "retroface.faces.engine_spec",
    "EngineSpec": "retroface.faces.engine_spec",
    "FaceEngine": "retroface.faces.engine",
    "AnalysedFace": "retroface.faces.types",
    "Box": "retroface.faces.types",
    "Detection": "retroface.faces.types",
    "Landmarks": "retroface.faces.types",
    "ModelInfo": "retroface.faces.types",
    "Quality": "retroface.faces.types",
}

__all__ = [
    "DETECTORS",
    "EMBEDDERS",
    "AnalysedFace",
    "Box",
    "Detection",
    "EngineSpec",
    "FaceEngine",
    "FileAnalysis",
    "Landmarks",
    "ModelInfo",
    "Quality",
    "analyse_file",
    "analyse_files",
    "worker_pool",
]


if not TYPE_CHECKING:  # type checkers read the imports above (a __getattr__ would admit any name)
    __getattr__, __dir__ = lazy_names(__name__, _SOURCES, __all__)
